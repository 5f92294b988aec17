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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _support.cli_apps import WAIT, one_task_workflow, wait_until
from _support.compat_apps import CLASS_TASK, FUNCTION_TASK, GREET_ASYNC_TASK, GREET_TASK, LISTED_TASK, Run, run_env

from conductor_actors.cli import EXIT_OK

pytestmark = pytest.mark.slow


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[list[Run]]:
    """The runs a test started; at teardown their output is printed and leftovers are killed."""
    started: list[Run] = []
    yield started
    orphans = []
    for run in started:
        print(f"{run.argv}: exit code {run.process.poll()}\n{run.log()[-6000:]}")
        orphans += run.kill_leftovers()
    assert not orphans, f"worker processes outlived their parent: {orphans}"


def test_hello_world_workers_greet_in_both_flavours(dev_server: Any, tmp_path: Path, runs: list[Run]) -> None:
    dev_server.register_workflow({
        "name": "compat_hello", "version": 1, "schemaVersion": 2,
        "tasks": [
            {"name": GREET_TASK, "taskReferenceName": "greet", "inputParameters": {"name": "${workflow.input.name}"}},
            {"name": GREET_ASYNC_TASK, "taskReferenceName": "greet_async",
             "inputParameters": {"name": "${greet.output.result}"}},
        ],
        "outputParameters": {"greeting": "${greet_async.output.result}"},
    })
    run = Run(["-m", "conductor_actors", "_support.compat_apps.hello"], run_env(tmp_path, dev_server.url),
              tmp_path / "hello.log")
    runs.append(run)
    workflow_id = dev_server.start_workflow("compat_hello", {"name": "Orkes"})
    assert dev_server.wait_for_workflows([workflow_id], timeout=WAIT) == {workflow_id: "COMPLETED"}
    assert dev_server.get_workflow(workflow_id)["output"] == {"greeting": "Hello, Hello, Orkes (async)"}
    assert run.stop(signal.SIGTERM) == EXIT_OK


def test_the_hello_world_program_executes_its_workflow_and_stops(
        dev_server: Any, tmp_path: Path, runs: list[Run]) -> None:
    """Register, start the workers, execute and wait, print the result, stop: to the end, exit 0."""
    run = Run(["-m", "_support.compat_apps.hello"], run_env(tmp_path, dev_server.url), tmp_path / "hello-main.log")
    runs.append(run)
    assert run.wait() == 0, run.log()[-4000:]
    lines = run.log().splitlines()
    assert "workflow result: COMPLETED {'greeting': 'Hello, Hello, World (async)'}" in lines, lines[-40:]
    assert any(line.startswith("see the workflow execution here: http://127.0.0.1:") for line in lines)


def test_the_end_to_end_example_registers_starts_runs_and_reports(
        dev_server: Any, tmp_path: Path, runs: list[Run]) -> None:
    run = Run(["-m", "_support.compat_apps.e2e"], run_env(tmp_path, dev_server.url), tmp_path / "e2e.log")
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
        flavour: str, dev_server: Any, tmp_path: Path, runs: list[Run]) -> None:
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
    env = run_env(tmp_path, dev_server.url, flavour, {"PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    run = Run([str(script)], env, tmp_path / "handler.log")
    runs.append(run)
    ids = [dev_server.start_workflow(one_task_workflow(dev_server, task, ["n"]), {"n": 5})
           for task in (FUNCTION_TASK, CLASS_TASK, LISTED_TASK)]
    statuses = dev_server.wait_for_workflows(ids, timeout=WAIT)
    assert set(statuses.values()) == {"COMPLETED"}, statuses
    outputs = [dev_server.get_workflow(i)["tasks"][0]["outputData"] for i in ids]
    assert [(o["value"], o["flavour"]) for o in outputs] == [(15, flavour)] * 3
    assert run.stop(signal.SIGINT) == 0
    assert "stopped" in run.log().splitlines()
