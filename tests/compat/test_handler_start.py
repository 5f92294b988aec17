"""A worker whose function a worker process cannot re-create (a lambda, a function defined inside
another function, a callable that does not pickle) is accepted by ``Worker(...)`` and by
``TaskHandler(workers=[...])``: ``Worker(...).execute(task)`` runs it in-process, as unit tests do.
Starting it is what fails: ``start_processes()``, the context manager, ``run()`` and the CLI's
start raise ``WorkerRegistrationError`` naming the fix, before any process or parent actor starts;
once the function is defined at module level, the same handler starts and runs it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _support.cli_apps import FAST_ENV, WAIT, one_task_workflow, spawned_children
from _support.cli_tree import hermetic_env, run_to_end
from _support.compat_apps import lambda_objects as module_level

from conductor_actors import Configuration, Task, TaskHandler, TaskResultStatus, Worker
from conductor_actors.cli import EXIT_OK, EXIT_USAGE
from conductor_actors.worker import WorkerRegistrationError

#: Nobody listens there: a refused start never sends a request.
UNREACHABLE = "http://127.0.0.1:9/api"


def a_task(**input_data: Any) -> Task:
    return Task(task_id="t1", workflow_instance_id="w1", task_def_name="compat_start", input_data=input_data)


class HoldsALock:
    """A callable instance that cannot be pickled (it holds a lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def __call__(self, n: int) -> dict[str, Any]:
        return {"value": n * 2}


def nested_function() -> Callable[..., Any]:
    def doubles(n: int) -> dict[str, Any]:
        return {"value": n * 2}

    return doubles


#: (function, what the refusal says) per kind of function a worker process cannot re-create.
UNSPAWNABLE: dict[str, tuple[Callable[[], Callable[..., Any]], tuple[str, ...]]] = {
    "lambda": (lambda: lambda n: {"value": n * 2}, ("a lambda cannot be a worker function", "`def` at module level")),
    "nested": (nested_function, ("defined inside another function", "Define it at module level")),
    "unpicklable callable": (HoldsALock, ("cannot be pickled", "define the class at module level")),
}


def handler_of(*workers: Worker, url: str = UNREACHABLE) -> TaskHandler:
    return TaskHandler(
        workers=list(workers), configuration=Configuration(server_api_url=url, env={}),
        scan_for_annotated_workers=False, env=FAST_ENV,
    )


@pytest.mark.parametrize("kind", list(UNSPAWNABLE))
def test_the_handler_is_built_and_the_start_is_refused_naming_the_fix(kind: str) -> None:
    make, expected = UNSPAWNABLE[kind]
    worker = Worker(f"compat_start_{kind.replace(' ', '_')}", make())
    fine = Worker("compat_start_fine", module_level.double)
    handler = handler_of(fine, worker)
    assert handler.workers == [fine, worker]
    before = spawned_children(os.getpid())
    with pytest.raises(WorkerRegistrationError) as raised:
        handler.start_processes()
    message = str(raised.value)
    assert all(part in message for part in expected), message
    assert repr(worker.task_definition_name) in message
    # nothing started, not even the worker that could run: the whole start is refused
    assert handler.status() == [] and not handler.is_healthy()
    assert spawned_children(os.getpid()) == before
    with pytest.raises(WorkerRegistrationError):  # a refused start did not count as a start
        handler.start_processes()
    result = worker.execute(a_task(n=4))  # and the worker still runs in-process
    assert (result.status, result.output_data) == (TaskResultStatus.COMPLETED, {"value": 8})


def _with(handler: TaskHandler) -> None:
    with handler:
        raise AssertionError("the block ran: the workers were started")


@pytest.mark.parametrize("start", [TaskHandler.start_processes, _with, TaskHandler.run],
                         ids=["start_processes", "context manager", "run"])
def test_every_way_of_starting_refuses_a_lambda(start: Callable[[TaskHandler], Any]) -> None:
    handler = handler_of(module_level.doubler)
    with pytest.raises(WorkerRegistrationError, match="lambda cannot be a worker function") as raised:
        start(handler)
    assert "`def` at module level" in str(raised.value)
    assert handler.status() == []


def test_a_worker_fixed_after_a_refused_start_runs_in_a_worker_process(dev_server: Any, flavour: str) -> None:
    task_type = f"compat_start_fixed_{flavour}"

    def doubles(n: int) -> dict[str, Any]:
        return {"value": n * 2, "flavour": "nested"}

    async def doubles_async(n: int) -> dict[str, Any]:
        return doubles(n)

    worker = Worker(task_type, doubles if flavour == "sync" else doubles_async)
    executed = worker.execute(a_task(n=5))
    result = asyncio.run(executed) if flavour == "async" else executed  # type: ignore[arg-type]
    assert result.output_data == {"value": 10, "flavour": "nested"}  # type: ignore[union-attr]
    handler = handler_of(worker, url=dev_server.url)
    try:
        with pytest.raises(WorkerRegistrationError, match="defined inside another function"):
            handler.start_processes()
        # the fix the message names: the function defined at module level
        worker.execute_function = module_level.double if flavour == "sync" else module_level.double_async
        handler.start_processes()
        workflow_id = dev_server.start_workflow(one_task_workflow(dev_server, task_type, ["n"]), {"n": 21})
        assert dev_server.wait_for_workflows([workflow_id], timeout=WAIT) == {workflow_id: "COMPLETED"}
        (task,) = dev_server.get_workflow(workflow_id)["tasks"]
        assert task["outputData"] == {"value": 42, "flavour": flavour}
    finally:
        assert handler.stop_processes(timeout=WAIT) == 0


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_to_end(args, hermetic_env(tmp_path / "state", server_url=UNREACHABLE))


def test_the_cli_lists_a_module_level_lambda_worker_and_refuses_to_start_it(tmp_path: Path) -> None:
    module = module_level.__name__
    listed = _cli(tmp_path, "--list", module)
    assert listed.returncode == EXIT_OK, listed
    assert f"Conductor Worker[name={module_level.TASK}," in listed.stdout, listed.stdout
    started = _cli(tmp_path, module)
    assert started.returncode == EXIT_USAGE, started
    last = started.stderr.strip().splitlines()[-1]
    assert last.startswith(f"conductor_actors: error: worker {module_level.TASK!r}: a lambda cannot be"), last
    assert "`def` at module level" in last
    assert "Traceback" not in started.stderr, started.stderr
