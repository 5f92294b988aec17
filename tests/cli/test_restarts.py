"""Supervision seen from outside: killed, crash-looping and wedged worker processes under the CLI."""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

from _support.cli_apps import (
    CRASH_EXIT_CODE,
    CRASH_TASK,
    PAIR_ASYNC_TASK,
    PAIR_SYNC_TASK,
    WEDGE_TASK,
    one_task_workflow,
    process_gone,
    spawned_children,
    start_workflows,
    wait_until,
)

from conductor_actors.cli import EXIT_GAVE_UP, EXIT_OK

if TYPE_CHECKING:
    from conductor_actors.devserver import DevServer

    from .conftest import StartCli

#: Seconds the server waits for a result before it retries the task elsewhere (short, so tasks
#: lost with a SIGKILLed process come back quickly).
RESPONSE_TIMEOUT = 2


def register_pair_workflow(server: DevServer) -> str:
    """Workflow ``cli_pair_flow``: the sync task of the pair, then the async one."""
    for task in (PAIR_SYNC_TASK, PAIR_ASYNC_TASK):
        server.register_task_def({"name": task, "retryCount": 3, "retryDelaySeconds": 0,
                                  "responseTimeoutSeconds": RESPONSE_TIMEOUT, "timeoutSeconds": 0})
    inputs = {"seconds": "${workflow.input.seconds}", "index": "${workflow.input.index}"}
    server.register_workflow({
        "name": "cli_pair_flow", "version": 1, "schemaVersion": 2,
        "tasks": [
            {"name": PAIR_SYNC_TASK, "taskReferenceName": "first", "inputParameters": inputs},
            {"name": PAIR_ASYNC_TASK, "taskReferenceName": "second", "inputParameters": inputs},
        ],
    })
    return "cli_pair_flow"


def completed_pids(server: DevServer, task_type: str) -> set[int]:
    """The pids the COMPLETED tasks of ``task_type`` report (the processes that ran them)."""
    return {task["outputData"]["pid"] for task in server.tasks(status="COMPLETED", task_type=task_type)}


def test_sigkilled_worker_is_restarted_under_load_and_every_workflow_completes(
    cli: StartCli, dev_server: DevServer, flavour: str
) -> None:
    """SIGKILL the process of one worker (the sync or the async one of a pair) while a backlog of 300
    workflows runs: the supervisor starts a new process for it (a new pid in the log), the other
    worker's process is untouched, and every workflow completes (the tasks the dead process held
    come back after their response timeout)."""
    victim, survivor = (PAIR_SYNC_TASK, PAIR_ASYNC_TASK) if flavour == "sync" else (PAIR_ASYNC_TASK, PAIR_SYNC_TASK)
    workflow = register_pair_workflow(dev_server)
    run = cli("_support.cli_apps.pair", server=dev_server)
    victim_pid = run.wait_ready(victim)
    survivor_pid = run.wait_ready(survivor)
    ids = start_workflows(dev_server, workflow, ({"seconds": 0.02, "index": i} for i in range(300)))

    wait_until(lambda: len(dev_server.tasks(status="COMPLETED", task_type=victim)) >= 30, f"30 {victim} tasks done")
    os.kill(victim_pid, signal.SIGKILL)
    assert len(dev_server.tasks(status="COMPLETED", task_type=victim)) < len(ids), "no backlog left at the kill"
    run.wait_for(rf"worker {victim} \(pid {victim_pid}\) exited: signal SIGKILL", "the death to be seen")
    new_pid = run.wait_ready(victim, count=2)
    assert run.started_pids(victim) == [victim_pid, new_pid], run.tail()
    assert spawned_children(run.pid) == {new_pid, survivor_pid}
    assert dev_server.wait_for_workflows(ids, timeout=60) == dict.fromkeys(ids, "COMPLETED")

    assert run.started_pids(survivor) == [survivor_pid], run.tail()
    assert completed_pids(dev_server, survivor) == {survivor_pid}
    assert completed_pids(dev_server, victim) == {victim_pid, new_pid}
    assert run.process.poll() is None, run.tail()
    run.send(signal.SIGTERM)
    assert run.wait_exit() == EXIT_OK, run.tail()


def test_crash_looping_worker_makes_the_cli_give_up_with_exit_1(
    cli: StartCli, dev_server: DevServer, flavour: str
) -> None:
    """Every task kills its process (os._exit(1)): with a backlog the worker crashes again after each
    restart; after more than CONDUCTOR_ACTORS_MAX_RESTARTS=3 restarts the CLI stops and exits 1,
    and the log names the worker and the restart limit."""
    workflow = one_task_workflow(dev_server, CRASH_TASK, ["index"])
    start_workflows(dev_server, workflow, ({"index": i} for i in range(40)))
    run = cli("_support.cli_apps.crash_loop", flavour=flavour, server=dev_server,
              env={"CONDUCTOR_ACTORS_MAX_RESTARTS": "3"})
    assert run.wait_exit() == EXIT_GAVE_UP, run.tail()
    pids = run.started_pids(CRASH_TASK)
    assert len(pids) == 4, run.tail()  # the first process and three restarts
    reason = run.matches(r"supervisor finished with exit code 1: (.*)$")
    assert len(reason) == 1, run.tail()
    assert reason[0].group(1).startswith(
        f"worker '{CRASH_TASK}' exited unexpectedly: exit code {CRASH_EXIT_CODE}; "
        "giving up after more than 3 restarts within 60 s"
    ), reason[0].group(1)
    assert not dev_server.tasks(status="COMPLETED")


def test_wedged_worker_is_killed_and_restarted_then_new_work_completes(
    cli: StartCli, dev_server: DevServer, flavour: str
) -> None:
    """A task wedges its process for longer than the heartbeat timeout (async: time.sleep on the event
    loop; sync: a C call that keeps the GIL, so the poller thread cannot run): the supervisor says it
    is wedged, kills it, starts a new process, and new workflows complete on the new process."""
    workflow = one_task_workflow(dev_server, WEDGE_TASK, ["block_seconds"])
    run = cli("_support.cli_apps.wedge", flavour=flavour, server=dev_server,
              env={"CONDUCTOR_ACTORS_HEARTBEAT_TIMEOUT": "2"})
    first_pid = run.wait_ready(WEDGE_TASK)
    start_workflows(dev_server, workflow, [{"block_seconds": 8.0}])

    run.wait_for(rf"worker {WEDGE_TASK} \(pid {first_pid}\) is wedged", "the wedge to be seen", timeout=15)
    second_pid = run.wait_ready(WEDGE_TASK, count=2)
    assert second_pid != first_pid and process_gone(first_pid)
    assert run.matches(rf"worker {WEDGE_TASK} was wedged.*restarting in"), run.tail()
    ids = start_workflows(dev_server, workflow, ({"block_seconds": 0.0} for _ in range(5)))
    assert dev_server.wait_for_workflows(ids, timeout=30) == dict.fromkeys(ids, "COMPLETED")
    assert completed_pids(dev_server, WEDGE_TASK) == {second_pid}
    run.send(signal.SIGTERM)
    assert run.wait_exit() == EXIT_OK, run.tail()
