"""The official SDK's worker examples, written again with conductor_actors imports, run in real
processes against the test's dev server (the programs are in ``_support.compat_apps``).

- hello world: a ``def`` and an ``async def`` greeting worker, run with ``python -m conductor_actors``,
  and its program, which registers the workflow, starts the workers, executes the workflow with the
  ``WorkflowExecutor`` and waits for its result;
- the end-to-end example: a script that registers a workflow definition with the metadata client,
  starts it with a ``StartWorkflowRequest``, runs its ``def`` and ``async def`` workers with
  ``with TaskHandler(...) as handler: handler.start_processes(); handler.join_processes()`` until
  Ctrl-C, and prints the final status;
- class-based and ``Worker(...)`` workers held at module level (``_support.compat_apps.objects``,
  the CLI's discovery suite runs them too), here through ``TaskHandler(workers=[...])``.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import pytest
from _support.cli_apps import WAIT, one_task_workflow, wait_until
from _support.cli_tree import CliTree, hermetic_env
from _support.compat_apps import CLASS_TASK, FUNCTION_TASK, GREET_ASYNC_TASK, GREET_TASK, LISTED_TASK

from conductor_actors.cli import EXIT_OK

pytestmark = pytest.mark.slow


def test_hello_world_workers_greet_in_both_flavours(dev_server: Any, tmp_path: Path, runs: list[CliTree]) -> None:
    dev_server.register_workflow({
        "name": "compat_hello", "version": 1, "schemaVersion": 2,
        "tasks": [
            {"name": GREET_TASK, "taskReferenceName": "greet", "inputParameters": {"name": "${workflow.input.name}"}},
            {"name": GREET_ASYNC_TASK, "taskReferenceName": "greet_async",
             "inputParameters": {"name": "${greet.output.result}"}},
        ],
        "outputParameters": {"greeting": "${greet_async.output.result}"},
    })
    env = hermetic_env(tmp_path / "state", server_url=dev_server.url)
    run = CliTree(["-m", "conductor_actors", "_support.compat_apps.hello"], env, tmp_path / "hello.log")
    runs.append(run)
    workflow_id = dev_server.start_workflow("compat_hello", {"name": "Orkes"})
    assert dev_server.wait_for_workflows([workflow_id], timeout=WAIT) == {workflow_id: "COMPLETED"}
    assert dev_server.get_workflow(workflow_id)["output"] == {"greeting": "Hello, Hello, Orkes (async)"}
    assert run.stop(signal.SIGTERM) == EXIT_OK


def test_the_hello_world_program_executes_its_workflow_and_stops(
        dev_server: Any, tmp_path: Path, runs: list[CliTree]) -> None:
    """Register, start the workers, execute and wait, print the result, stop: to the end, exit 0."""
    env = hermetic_env(tmp_path / "state", server_url=dev_server.url)
    run = CliTree(["-m", "_support.compat_apps.hello"], env, tmp_path / "hello-main.log")
    runs.append(run)
    assert run.wait_exit() == 0, run.log()[-4000:]
    lines = run.log().splitlines()
    assert "workflow result: COMPLETED {'greeting': 'Hello, Hello, World (async)'}" in lines, lines[-40:]
    assert any(line.startswith("see the workflow execution here: http://127.0.0.1:") for line in lines)


def test_the_end_to_end_example_registers_starts_runs_and_reports(
        dev_server: Any, tmp_path: Path, runs: list[CliTree]) -> None:
    env = hermetic_env(tmp_path / "state", server_url=dev_server.url)
    run = CliTree(["-m", "_support.compat_apps.e2e"], env, tmp_path / "e2e.log")
    runs.append(run)
    started = wait_until(lambda: re.search(r"^Workflow started: (\S+)$", run.log(), re.MULTILINE),
                         "the example to start its workflow")
    workflow_id = started.group(1)
    assert dev_server.wait_for_workflows([workflow_id], timeout=WAIT) == {workflow_id: "COMPLETED"}
    workflow = dev_server.get_workflow(workflow_id)
    assert workflow["output"] == {"fib": 55, "polls": 3, "city": "Oslo"}
    by_ref = {t["referenceTaskName"]: t for t in workflow["tasks"] if t["status"] == "COMPLETED"}
    assert by_ref["order"]["outputData"] == {"order_id": "o-1", "city": "Oslo", "country": "USA", "quantity": 1,
                                             "note": None}
    assert by_ref["audit"]["outputData"] == {}
    assert run.stop(signal.SIGINT) == 0
    log = run.log()
    assert "Registered workflow: compat_e2e (version 1)" in log
    assert re.search(r"^Final workflow status: COMPLETED$", log, re.MULTILINE), log[-3000:]


def test_module_level_worker_objects_run_through_task_handler(
        flavour: str, dev_server: Any, tmp_path: Path, runs: list[CliTree]) -> None:
    """The official pattern ``TaskHandler(workers=[Worker(...), MyWorker(...)])`` in a script."""
    script = tmp_path / "handler_main.py"
    script.write_text(
        "from conductor_actors import Configuration, TaskHandler\n"
        "from _support.compat_apps import objects\n\n"
        "if __name__ == '__main__':\n"
        "    workers = [objects.function_worker, objects.class_worker, *objects.workers]\n"
        "    try:\n"
        "        with TaskHandler(workers=workers, configuration=Configuration(),\n"
        "                         scan_for_annotated_workers=False) as handler:\n"
        "            handler.start_processes()\n"
        "            handler.join_processes()\n"
        "    except KeyboardInterrupt:\n"
        "        print('stopped')\n"
    )
    env = hermetic_env(tmp_path / "state", server_url=dev_server.url, flavour=flavour,
                       extra={"PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    run = CliTree([str(script)], env, tmp_path / "handler.log")
    runs.append(run)
    ids = [dev_server.start_workflow(one_task_workflow(dev_server, task, ["n"]), {"n": 5})
           for task in (FUNCTION_TASK, CLASS_TASK, LISTED_TASK)]
    statuses = dev_server.wait_for_workflows(ids, timeout=WAIT)
    assert set(statuses.values()) == {"COMPLETED"}, statuses
    outputs = [dev_server.get_workflow(i)["tasks"][0]["outputData"] for i in ids]
    assert [(o["value"], o["flavour"]) for o in outputs] == [(15, flavour)] * 3
    assert run.stop(signal.SIGINT) == 0
    assert "stopped" in run.log().splitlines()
