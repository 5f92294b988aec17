"""A task's own code cannot take its worker process down: a ``KeyboardInterrupt``, ``SystemExit``,
``GeneratorExit`` or a custom ``BaseException`` raised by a worker function fails that task (the
reason names the exception) and the same process completes the next task. The runtime's own stop
signals still work: SIGINT to a worker process is ignored (the parent coordinates a terminal's
Ctrl-C), SIGTERM stops it gracefully. Real worker processes under a ``TaskHandler``, both flavours.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
from _support.fault_apps.harness import wait_until
from _support.fault_apps.raising import RAISED, loop_stopping_worker, raising_worker

from conductor_actors import TaskHandler
from conductor_actors.runtime import EXIT_OK

TASK = "fault_raise"
KINDS = list(RAISED)


def _workflow(server: Any) -> str:
    server.register_task_def({"name": TASK, "retryCount": 0})
    name = f"{TASK}_flow"
    server.register_workflow({
        "name": name, "version": 1, "schemaVersion": 2,
        "tasks": [{"name": TASK, "taskReferenceName": "only", "inputParameters": {"kind": "${workflow.input.kind}"}}],
    })
    return name


def _run(server: Any, workflow: str, kind: str) -> dict[str, Any]:
    """Start one workflow for ``kind`` and return its task once the workflow has ended."""
    workflow_id = server.start_workflow(workflow, {"kind": kind})
    server.wait_for_workflows([workflow_id], 30)
    (task,) = server.get_workflow(workflow_id)["tasks"]
    return dict(task)


def _worker_status(tree: TaskHandler) -> Any:
    (status,) = tree.status()
    return status


def test_a_base_exception_fails_its_task_and_the_process_goes_on(start_tree, dev_server, flavour):
    workflow = _workflow(dev_server)
    tree = start_tree([raising_worker(flavour, TASK)])
    pid = _worker_status(tree).pid
    for kind in KINDS:
        failed = _run(dev_server, workflow, kind)
        assert (failed["status"], failed["reasonForIncompletion"]) == ("FAILED", RAISED[kind][1]), kind
        completed = _run(dev_server, workflow, "none")
        assert (completed["status"], completed["outputData"]) == ("COMPLETED", {"pid": pid}), kind
    status = _worker_status(tree)
    assert (status.pid, status.restarts, status.state) == (pid, 0, "up")
    assert tree.join_processes(0) is None


@pytest.mark.parametrize("kind", ["keyboard_interrupt", "custom", "helper_keyboard_interrupt"])
def test_a_busy_worker_loses_nothing_to_a_base_exception(start_tree, dev_server, flavour, kind):
    """Tasks in flight beside the raising one complete in the same process (nothing stranded)."""
    workflow = _workflow(dev_server)
    tree = start_tree([raising_worker(flavour, TASK, thread_count=4)])
    pid = _worker_status(tree).pid
    kinds = [kind if i % 3 == 0 else "none" for i in range(30)]
    started = {dev_server.start_workflow(workflow, {"kind": k}): k for k in kinds}
    statuses = dev_server.wait_for_workflows(list(started), 30)
    expected = {wid: ("FAILED" if k != "none" else "COMPLETED") for wid, k in started.items()}
    assert statuses == expected
    assert _worker_status(tree).pid == pid and _worker_status(tree).restarts == 0


def test_the_runtime_signals_still_stop_a_worker_process(start_tree, dev_server, flavour):
    """After its tasks raised, SIGINT to a worker process is still ignored (it keeps working, same
    pid) and SIGTERM still stops it gracefully (exit 0): the runtime's handlers, not task code."""
    workflow = _workflow(dev_server)
    tree = start_tree([raising_worker(flavour, TASK)])
    pid = _worker_status(tree).pid
    assert _run(dev_server, workflow, "keyboard_interrupt")["status"] == "FAILED"
    os.kill(pid, signal.SIGINT)
    assert _run(dev_server, workflow, "none")["outputData"] == {"pid": pid}
    assert _worker_status(tree).pid == pid
    os.kill(pid, signal.SIGTERM)
    stopped = wait_until(lambda: (s := _worker_status(tree)).last_exit is not None and s, "the worker process to stop")
    assert stopped.last_exit == EXIT_OK


def test_a_task_that_stops_its_event_loop_does_not_stop_the_worker(start_tree, dev_server):
    """Only the runtime stops an async worker's event loop: a task's code calling ``loop.stop()``
    is logged and the loop runs on, so that task and the next ones complete in the same process
    (instead of a worker that polls no more until its heartbeat times out)."""
    workflow = _workflow(dev_server)
    tree = start_tree([loop_stopping_worker(TASK)])
    pid = _worker_status(tree).pid
    stopped = _run(dev_server, workflow, "stop")
    assert (stopped["status"], stopped["outputData"]) == ("COMPLETED", {"pid": pid})
    assert _run(dev_server, workflow, "none")["outputData"] == {"pid": pid}
    status = _worker_status(tree)
    assert (status.pid, status.restarts, status.state) == (pid, 0, "up")

