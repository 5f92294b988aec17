"""``@worker_task`` and ``WorkerTask`` return a ``functools.wraps`` wrapper, as the official SDK's
decorators do: a plain call runs the function (the wrapper of an ``async def`` is a coroutine
function), ``__wrapped__`` is the original, and a call with ``task_ref_name=`` builds the SIMPLE
workflow task it stands for instead of running anything. The registry keeps the original, which a
worker process finds again through the module-level wrapper. Also: ``TaskHandler`` takes the
official positional parameters in the official order."""

from __future__ import annotations

import asyncio
import inspect
import pickle
from collections.abc import Callable
from typing import Any

import pytest

from conductor_actors import (
    Configuration,
    Task,
    TaskHandler,
    TaskResultStatus,
    Worker,
    WorkerTask,
    WorkflowTask,
    get_registered_workers,
    worker_task,
)
from conductor_actors.testing import as_worker, run_task

#: Runs of the module-level functions below (a ``task_ref_name=`` call must not add one).
runs: list[tuple[str, int]] = []


@worker_task(task_definition_name="compat_wrapper_sync", thread_count=3)
def doubles(n: int, label: str = "x") -> dict[str, Any]:
    """Doubles n."""
    runs.append(("sync", n))
    return {"value": n * 2, "label": label}


@worker_task(task_definition_name="compat_wrapper_async", thread_count=4)
async def doubles_async(n: int, label: str = "x") -> dict[str, Any]:
    """Doubles n, on the loop."""
    runs.append(("async", n))
    return {"value": n * 2, "label": label}


@WorkerTask("compat_wrapper_legacy", poll_interval=300)
def doubles_legacy(n: int, label: str = "x") -> dict[str, Any]:
    runs.append(("legacy", n))
    return {"value": n * 2, "label": label}


DECORATED: dict[str, tuple[Callable[..., Any], str]] = {
    "sync": (doubles, "compat_wrapper_sync"),
    "async": (doubles_async, "compat_wrapper_async"),
    "legacy": (doubles_legacy, "compat_wrapper_legacy"),
}


def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``function(...)``, awaited on a fresh loop when it is a coroutine function."""
    if inspect.iscoroutinefunction(function):
        return asyncio.run(function(*args, **kwargs))
    return function(*args, **kwargs)


def registered(name: str) -> Worker:
    (worker,) = [w for w in get_registered_workers() if w.get_task_definition_name() == name]
    assert isinstance(worker, Worker)
    return worker


@pytest.mark.parametrize("kind", list(DECORATED))
def test_the_decorator_returns_a_wraps_wrapper_that_runs_the_function(kind: str) -> None:
    wrapper, name = DECORATED[kind]
    original = wrapper.__wrapped__  # type: ignore[attr-defined]
    assert wrapper is not original and inspect.isfunction(original)
    assert (wrapper.__name__, wrapper.__doc__, wrapper.__module__) == (
        original.__name__, original.__doc__, original.__module__)
    assert inspect.signature(wrapper) == inspect.signature(original)
    assert inspect.iscoroutinefunction(wrapper) == (kind == "async")
    runs.clear()
    assert call(wrapper, 4, label="y") == {"value": 8, "label": "y"}
    assert runs == [(kind, 4)]
    # the registry keeps the original function, with the decorator's options
    assert registered(name).execute_function is original


@pytest.mark.parametrize("kind", list(DECORATED))
def test_a_task_ref_name_call_builds_a_simple_workflow_task_and_runs_nothing(kind: str) -> None:
    wrapper, name = DECORATED[kind]
    runs.clear()
    task = call(wrapper, n=3, label="z", task_ref_name="double_it")
    assert isinstance(task, WorkflowTask)
    assert (task.name, task.task_reference_name, task.type) == (name, "double_it", "SIMPLE")
    assert task.input_parameters == {"n": 3, "label": "z"}
    assert call(wrapper, task_ref_name="bare").input_parameters == {}
    assert runs == []


@pytest.mark.parametrize("kind", list(DECORATED))
def test_the_worker_travels_to_a_worker_process_as_the_original_function(kind: str) -> None:
    wrapper, name = DECORATED[kind]
    worker = registered(name)
    worker.check_spawnable()
    copy = pickle.loads(pickle.dumps(worker))
    assert copy.execute_function is wrapper.__wrapped__  # type: ignore[attr-defined]
    assert copy.is_async == (kind == "async")
    assert pickle.loads(pickle.dumps(wrapper)) is wrapper


@pytest.mark.parametrize("kind", list(DECORATED))
def test_the_wrapper_runs_as_a_worker_bound_by_the_original_signature(kind: str) -> None:
    wrapper, name = DECORATED[kind]
    assert as_worker(wrapper) is registered(name)  # the testing kit finds the decorator's worker
    result = run_task(wrapper, {"n": 6, "label": "kit"})
    assert (result.status, result.output_data) == (TaskResultStatus.COMPLETED, {"value": 12, "label": "kit"})
    # a Worker built on the wrapper itself (official code may do that) runs it the same way
    worker = Worker(f"{name}_explicit", wrapper)
    assert worker.is_async == (kind == "async") and worker.function_path.endswith(wrapper.__qualname__)
    task = Task(task_id="t1", workflow_instance_id="w1", task_def_name=worker.task_definition_name,
                input_data={"n": 5})
    executed = worker.execute(task)
    outcome = asyncio.run(executed) if kind == "async" else executed  # type: ignore[arg-type]
    assert outcome.output_data == {"value": 10, "label": "x"}  # type: ignore[union-attr]
    worker.check_spawnable()
    assert pickle.loads(pickle.dumps(worker)).execute_function is wrapper
    assert wrapper.__wrapped__.__name__ == wrapper.__name__  # type: ignore[attr-defined]


#: The official SDK 2.0.0 ``TaskHandler.__init__`` parameters, in its order.
OFFICIAL_TASK_HANDLER_PARAMETERS = [
    "workers", "configuration", "metrics_settings", "scan_for_annotated_workers", "import_modules",
    "event_listeners", "monitor_processes", "restart_on_failure", "monitor_interval_seconds",
    "restart_backoff_seconds", "restart_backoff_max_seconds", "restart_max_attempts",
]


def test_task_handler_takes_the_official_parameters_in_the_official_positional_order() -> None:
    names = list(inspect.signature(TaskHandler.__init__).parameters)[1:]
    assert names[: len(OFFICIAL_TASK_HANDLER_PARAMETERS)] == OFFICIAL_TASK_HANDLER_PARAMETERS
    handler = TaskHandler(
        [], Configuration(server_api_url="http://127.0.0.1:9/api", env={}), None, False, None, None,
        True, True, 5.0, 0.25, 2.5, 4, env={},
    )
    assert (handler.supervision.restart_backoff_base, handler.supervision.restart_backoff_cap) == (0.25, 2.5)
    assert handler.supervision.max_restarts == 4
    never = TaskHandler([], Configuration(server_api_url="http://127.0.0.1:9/api", env={}), None, False, None, None,
                        True, False, env={})
    assert never.supervision.max_restarts == 0  # restart_on_failure=False, positionally
