"""Executing one task: the sans-I/O API the runtime calls on its hot path.

``execute_sync`` (in an executor thread) and ``execute_async`` (on the worker's event loop) share
everything except the call itself: ``_begin`` builds the task context and binds the input,
``_complete`` turns the return value or exception into an ``ExecutionOutcome``. Neither does network
I/O, and neither raises for anything the worker function or the data does: every exception,
``BaseException`` included (``KeyboardInterrupt``, ``SystemExit``, ``GeneratorExit``, a custom
subclass), becomes a FAILED outcome, so a task's own code cannot end its worker process. The
runtime's stop signals never surface as exceptions in task code (worker processes handle SIGTERM
in their main thread and ignore SIGINT), so nothing caught here is a stop request. The one
exception that propagates is ``asyncio.CancelledError`` while the runtime is cancelling the
task's coroutine (a shutdown deadline or an overdue task); on Python 3.10, which cannot tell who
cancelled, every ``CancelledError`` propagates.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from ..client import Task, TaskResult
from ._binding import InputBinder
from ._context import TaskContext, reset_task_context, set_task_context
from ._results import (
    ResultParts,
    contract_violation,
    failure_reason,
    result_from_error,
    result_from_return,
)
from ._worker import Worker, WorkerInterface

__all__ = ["BoundWorker", "ExecutionOutcome", "execute_async", "execute_sync", "failed_outcome"]


@dataclass(frozen=True)
class ExecutionOutcome:
    """What executing one task produced.

    ``result`` is ready to send; ``failed`` is True when the function raised or the input/output
    broke the contract (``cause`` is then the exception); ``output_size_bytes`` is the length of the
    UTF-8 JSON of ``result.output_data``; ``duration`` is the seconds the call took.
    """

    result: TaskResult
    failed: bool
    cause: BaseException | None
    output_size_bytes: int
    duration: float


class BoundWorker:
    """A worker prepared for execution in this process (built once: the input-binding plan).

    Raises ``TypeError``/``ValueError`` when a function worker has no inspectable signature.
    """

    __slots__ = ("_binder", "_target", "is_async", "task_definition_name", "worker", "worker_id")

    def __init__(self, worker: Worker | WorkerInterface, worker_id: str) -> None:
        self.worker = worker
        self.worker_id = worker_id
        self.task_definition_name = worker.get_task_definition_name()
        self.is_async = worker.is_async
        if isinstance(worker, Worker):
            self._target: Callable[..., Any] = worker.execute_function
            self._binder: InputBinder | None = InputBinder(worker.execute_function)
        else:
            self._target = worker.execute
            self._binder = None

    def __repr__(self) -> str:
        return f"BoundWorker({self.task_definition_name!r}, worker_id={self.worker_id!r}, async={self.is_async})"


class _Call:
    """One call of the worker: its context and arguments, then what it returned or raised.

    Used as ``with call: call.value = ...``: the block runs with the task context current, is
    timed, and whatever it raises is kept in ``error`` instead of propagating, except the
    runtime's own cancellation of the coroutine (see ``_runtime_cancels``).
    """

    __slots__ = ("_start", "_token", "args", "context", "duration", "error", "kwargs", "value")

    def __init__(self, context: TaskContext, args: list[Any], kwargs: dict[str, Any]) -> None:
        self.context = context
        self.args = args
        self.kwargs = kwargs
        self.value: Any = None
        self.error: BaseException | None = None
        self.duration = 0.0

    def __enter__(self) -> None:
        self._token = set_task_context(self.context)
        self._start = time.perf_counter()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        self.duration = time.perf_counter() - self._start
        reset_task_context(self._token)
        if exc is None or (_is_cancelled_error(exc) and _runtime_cancels()):
            return False
        self.error = exc
        return True


def _is_cancelled_error(exc: BaseException) -> bool:
    """Whether ``exc`` is an ``asyncio.CancelledError``. Read from ``sys.modules``, not imported:
    no such exception exists before asyncio is loaded, and importing asyncio costs a sync worker
    process (which never loads it otherwise) several MiB and milliseconds of start-up."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)


def _runtime_cancels() -> bool:
    """True when the running asyncio task has a cancellation requested (by the runtime: the
    shutdown deadline or an overdue task), so a ``CancelledError`` is that request, not an error of
    the task's code. Python 3.10 has no ``Task.cancelling()``: every one counts as a request."""
    import asyncio  # loaded already: a CancelledError was raised

    try:
        current = asyncio.current_task()
    except RuntimeError:  # no running loop: a sync worker raised CancelledError itself
        return False
    if current is None:
        return False
    cancelling = getattr(current, "cancelling", None)
    return cancelling is None or bool(cancelling())


def _outcome(parts: ResultParts, duration: float) -> ExecutionOutcome:
    return ExecutionOutcome(parts.result, parts.failed, parts.cause, parts.output_size_bytes, duration)


def _begin(bound: BoundWorker, task: Task, shutting_down: Callable[[], bool]) -> _Call | ExecutionOutcome:
    """The context and arguments for the call, or the outcome of input that breaks the contract."""
    result = TaskResult(
        task_id=task.task_id, workflow_instance_id=task.workflow_instance_id, worker_id=bound.worker_id,
        output_data={}, logs=[],  # what TaskContext would set: given here, it skips two property writes
    )
    context = TaskContext(task, result, shutting_down)
    binder = bound._binder
    if binder is None:
        return _Call(context, [task], {})
    try:
        args, kwargs = binder.bind(task)
    except BaseException as exc:  # converting input runs user code (dataclass __post_init__...)
        return _outcome(contract_violation(task, bound.worker_id, failure_reason(exc), []), 0.0)
    return _Call(context, args, kwargs)


def _complete(bound: BoundWorker, task: Task, call: _Call) -> ExecutionOutcome:
    """The outcome of a finished call (it returned ``call.value`` or raised ``call.error``).

    Building the result runs user objects (``__str__`` of an exception, deep copies of a returned
    dataclass); if that fails, the task fails terminally with the reason instead of raising.
    """
    error = call.error
    try:
        if error is not None:
            parts = result_from_error(task, bound.worker_id, call.context, error)
        else:
            parts = result_from_return(task, bound.worker_id, call.context, call.value)
    except BaseException as exc:  # no await in here: nothing the runtime cancels can land
        what = "the exception raised by" if error is not None else "the value returned by"
        reason = f"cannot turn {what} the worker function into a task result: {failure_reason(exc)}"
        parts = contract_violation(task, bound.worker_id, reason, list(call.context.logs))
    return _outcome(parts, call.duration)


def execute_sync(bound: BoundWorker, task: Task, shutting_down: Callable[[], bool]) -> ExecutionOutcome:
    """Run a sync worker for ``task`` in the calling thread (an executor slot).

    ``shutting_down`` backs the context's ``is_shutting_down()``. Raises ``TypeError`` only when
    ``bound`` is an async worker (a runtime error: use ``execute_async``).
    """
    if bound.is_async:
        raise TypeError(f"worker {bound.task_definition_name!r} is async: run it with execute_async")
    call = _begin(bound, task, shutting_down)
    if isinstance(call, ExecutionOutcome):
        return call
    with call:
        call.value = bound._target(*call.args, **call.kwargs)
    return _complete(bound, task, call)


async def execute_async(bound: BoundWorker, task: Task, shutting_down: Callable[[], bool]) -> ExecutionOutcome:
    """Run a worker for ``task`` on the running event loop (await it in the task's own coroutine).

    The task context is set inside this coroutine, so concurrent executions never see each
    other's context. A sync worker passed here runs inline (blocking the loop while it runs).
    """
    call = _begin(bound, task, shutting_down)
    if isinstance(call, ExecutionOutcome):
        return call
    with call:
        value = bound._target(*call.args, **call.kwargs)
        call.value = await value if bound.is_async else value
    return _complete(bound, task, call)


def failed_outcome(
    bound: BoundWorker, task: Task, exc: BaseException, shutting_down: Callable[[], bool]
) -> ExecutionOutcome:
    """The FAILED outcome of ``task`` for ``exc`` that escaped ``execute_async``: a
    ``CancelledError`` the task's own code raised on Python 3.10, where it cannot be told from the
    runtime's cancellation there (the caller knows whether it cancelled). Never raises."""
    try:
        parts = result_from_error(task, bound.worker_id, TaskContext(task, shutting_down=shutting_down), exc)
    except BaseException as error:  # str() of the exception is user code
        parts = contract_violation(task, bound.worker_id, failure_reason(error), [])
    return _outcome(parts, 0.0)
