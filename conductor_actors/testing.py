"""Helpers for testing your workers.

Unit tests of business logic, no server::

    from conductor_actors.testing import run_task

    result = run_task(charge_payment, {"order_id": "o1", "amount": 12.5})
    assert result.status == TaskResultStatus.COMPLETED
    assert result.output_data["payment_id"] == "pay-o1"

``run_task`` runs the worker exactly as the runtime does (input binding and conversion, the task
context, the result built from a return value or an exception) for ``def`` and ``async def``
functions and class-based workers. Inside a running event loop (an ``async def`` test) await its
twin instead: ``result = await run_task_async(fetch_data, {"url": "..."})``.

Integration tests against the embedded dev server, workers running in this process (no child
processes, so tests stay fast)::

    def test_order_flow(conductor_dev_server, conductor_workers):      # pytest fixtures
        conductor_dev_server.register_workflow(ORDER_WORKFLOW)
        conductor_workers(validate_order, charge_payment)
        workflow = conductor_workers.run_workflow("order_pipeline", {"order_id": "o1"})
        assert workflow["status"] == "COMPLETED"

Time on the dev server is its own clock: WAIT tasks, retry delays, ``callbackAfterSeconds`` and
response timeouts run on it, and ``conductor_workers.advance_clock(3600)`` (or
``DevServer.advance_clock``) moves it forward, so a workflow with a one-hour WAIT finishes at once.

The fixtures come from the pytest plugin ``conductor_actors.pytest_plugin``, registered
automatically when the package is installed; ``InProcessWorkers`` is the same helper for other test
frameworks.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from .client import Configuration, Task, TaskResult
from .runtime import WorkerRunner
from .settings import RuntimeSettings
from .worker import BoundWorker, Worker, WorkerInterface, execute_async, execute_sync, get_registered_workers

__all__ = ["InProcessWorkers", "as_worker", "run_task", "run_task_async"]


def as_worker(target: Any, task_definition_name: str | None = None) -> WorkerInterface:
    """A ``Worker`` for ``target``: a worker, a ``@worker_task`` function, or a plain function.

    A decorated function (the wrapper ``@worker_task`` returns, or its ``__wrapped__`` original) is
    found in the registry by identity (its decorator options apply); a plain function becomes
    ``Worker(task_definition_name or its name, function)``.
    """
    if isinstance(target, WorkerInterface):
        return target
    if not callable(target):
        raise TypeError(f"expected a worker or a function, got {type(target).__name__}")
    original = getattr(target, "__wrapped__", None)
    for worker in get_registered_workers():
        same_name = task_definition_name is None or worker.get_task_definition_name() == task_definition_name
        found = isinstance(worker, Worker) and worker.execute_function in (target, original)
        if found and same_name:
            return worker
    return Worker(task_definition_name or str(getattr(target, "__name__", "task")), target)


def _not_shutting_down() -> bool:
    return False


def _prepare(target: Any, input: dict[str, Any] | None, task_fields: dict[str, Any]) -> tuple[BoundWorker, Task]:
    """The bound worker and the task it will see; ``TypeError`` for an unknown task field."""
    name = task_fields.pop("task_definition_name", None)
    worker = as_worker(target, name)
    task_type = worker.get_task_definition_name()
    fields: dict[str, Any] = {
        "task_id": str(uuid.uuid4()),
        "workflow_instance_id": str(uuid.uuid4()),
        "task_type": task_type,
        "task_def_name": task_type,
        "reference_task_name": f"{task_type}_ref",
        "status": "IN_PROGRESS",
        "input_data": dict(input or {}),
        "poll_count": 1,
    }
    unknown = set(task_fields) - set(Task.swagger_types)
    if unknown:
        raise TypeError(f"unknown Task field(s): {', '.join(sorted(unknown))}")
    fields.update(task_fields)
    return BoundWorker(worker, "test-worker"), Task(**fields)


def _in_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run_task(target: Any, input: dict[str, Any] | None = None, **task_fields: Any) -> TaskResult:
    """Run one worker on ``input`` with a real task context, without a server; returns the result.

    ``task_fields`` set fields of the ``Task`` the worker sees (snake_case: ``retry_count=2``,
    ``poll_count=3``, ``workflow_instance_id=...``, ``task_definition_name`` picks the name of a
    plain function). Exceptions of the worker become a FAILED (or FAILED_WITH_TERMINAL_ERROR) result,
    as in production; ``get_task_context()`` works inside the function.

    A ``def`` worker runs in the calling thread; an ``async def`` one on a new event loop
    (``asyncio.run``), so for it the calling thread must not be running a loop: there this raises
    ``RuntimeError`` pointing to ``await run_task_async(...)``. ``TypeError`` for an unknown task field.
    """
    bound, task = _prepare(target, input, task_fields)
    if not bound.is_async:
        return execute_sync(bound, task, _not_shutting_down).result
    if _in_running_loop():
        raise RuntimeError(
            f"run_task cannot run the async worker {bound.task_definition_name!r} inside a running event"
            " loop (it would need asyncio.run); in async code use `await run_task_async(...)`, which"
            " takes the same arguments"
        )
    return asyncio.run(execute_async(bound, task, _not_shutting_down)).result


async def run_task_async(target: Any, input: dict[str, Any] | None = None, **task_fields: Any) -> TaskResult:
    """The awaitable twin of ``run_task``: same arguments, same result, for use inside an event loop.

    An ``async def`` worker runs on the caller's event loop, in the awaiting task; a ``def`` worker
    runs in a thread of the loop's default executor, so it does not block the loop. Exceptions of
    the worker become a failed result as in ``run_task``; ``TypeError`` for an unknown task field.
    """
    bound, task = _prepare(target, input, task_fields)
    if bound.is_async:
        outcome = await execute_async(bound, task, _not_shutting_down)
    else:
        outcome = await asyncio.get_running_loop().run_in_executor(
            None, execute_sync, bound, task, _not_shutting_down
        )
    return outcome.result


class InProcessWorkers:
    """Runs workers in this process against a server until closed (a context manager).

    Each worker gets its own pipeline (threads for ``def``, an event loop thread for ``async def``)
    with short retry delays suitable for tests. ``server`` is a ``DevServer`` (or anything with a
    ``url`` and ``wait_for_workflows``/``get_workflow``/``start_workflow``).
    """

    def __init__(self, server: Any, *, settings: RuntimeSettings | None = None, listeners: Iterable[object] = ()):
        self.server = server
        self.configuration = Configuration(server_api_url=server.url, env={})
        self.settings = settings or RuntimeSettings(
            update_retry_delays=(0.05, 0.1), poll_error_backoff_base=0.05, poll_error_backoff_cap=0.5,
            shutdown_grace=5.0, shutdown_flush=2.0,
        )
        self.listeners = list(listeners)
        self.runners: list[WorkerRunner] = []

    def __call__(self, *targets: Any, **config_overrides: Any) -> InProcessWorkers:
        """Start workers (workers or functions); ``config_overrides`` apply to each (e.g. thread_count=4)."""
        from .worker import resolve_worker_config

        for target in targets:
            worker = as_worker(target)
            config = resolve_worker_config(worker, env={})
            if config_overrides:
                config = config.with_overrides(**config_overrides)
            runner = WorkerRunner(
                worker, self.configuration, config=config, settings=self.settings, listeners=self.listeners
            )
            runner.start()
            self.runners.append(runner)
        return self

    def wait_for_workflows(self, workflow_ids: Iterable[str], timeout: float = 30.0) -> dict[str, str]:
        """id -> final status once every workflow has ended (``TimeoutError`` otherwise)."""
        return self.server.wait_for_workflows(list(workflow_ids), timeout)  # type: ignore[no-any-return]

    def run_workflow(self, name: str, input: dict[str, Any] | None = None, timeout: float = 30.0) -> dict[str, Any]:
        """Start a workflow, wait for it to end, return it (the server's Workflow JSON)."""
        workflow_id = self.server.start_workflow(name, input or {})
        self.wait_for_workflows([workflow_id], timeout)
        return self.server.get_workflow(workflow_id)  # type: ignore[no-any-return]

    def advance_clock(self, seconds: float) -> None:
        """Move the server's clock forward by ``seconds`` (WAIT tasks, retry delays, callbacks and
        response timeouts that became due run at once). Needs a server with ``advance_clock``
        (``DevServer``); raises ``TypeError`` for one without."""
        advance = getattr(self.server, "advance_clock", None)
        if advance is None:
            raise TypeError(f"{type(self.server).__name__} has no clock to advance (use a DevServer)")
        advance(seconds)

    def close(self) -> None:
        """Stop every worker gracefully."""
        runners, self.runners = self.runners, []
        for runner in reversed(runners):
            runner.stop()

    def __enter__(self) -> InProcessWorkers:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

