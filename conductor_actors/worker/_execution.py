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

Input binding: parameters are bound by name from ``task.input_data`` and converted by their
annotation (see ``_conversion``); a parameter annotated ``Task`` receives the task itself; defaults
apply for missing keys; extra keys are ignored unless the function takes ``**kwargs``, which then
receives them. Unlike the official SDK, a single unannotated parameter gets its input value, not
the Task. The plan is built once per process, is immutable and may be shared by threads.

The task context a worker function can read while it runs lives in a ``contextvars.ContextVar``
set by ``execute_sync`` (in the executing thread) or ``execute_async`` (inside the task's own
coroutine), so concurrent tasks in threads or coroutines never see each other's context. What the
function records (logs, callback, output) is merged into the task's result after it returns: keys
the function RETURNS win over keys given to ``set_output``.
"""

from __future__ import annotations

import inspect
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from ..client import Task, TaskExecLog, TaskResult
from ._conversion import (
    ConversionError,
    Converter,
    FieldPlan,
    callable_signature,
    convert_field,
    field_plan,
    hint_target,
    missing,
    resolve_type_hints,
)
from ._results import (
    ResultParts,
    contract_violation,
    failure_reason,
    result_from_error,
    result_from_return,
)
from ._worker import (
    TaskContextError,
    TaskInProgress,
    Worker,
    WorkerInterface,
    check_seconds,
    provide_official_execute,
)

__all__ = [
    "BoundWorker",
    "ExecutionOutcome",
    "InputBinder",
    "TaskContext",
    "execute_async",
    "execute_sync",
    "failed_outcome",
    "get_task_context",
    "reset_task_context",
    "set_task_context",
]


class _Param:
    __slots__ = ("default", "field", "is_task", "positional")

    def __init__(self, plan: FieldPlan, positional: bool, is_task: bool, default: Any) -> None:
        self.field = plan
        self.positional = positional
        self.is_task = is_task
        self.default = default


class InputBinder:
    """The precomputed plan for calling ``func`` with a task's input.

    Raises ``TypeError``/``ValueError`` when ``func`` has no inspectable signature.
    """

    __slots__ = ("_names", "_params", "_var_keyword")

    def __init__(self, func: Callable[..., Any]) -> None:
        signature = callable_signature(func)
        hints = resolve_type_hints(hint_target(func))
        memo: dict[Any, Converter | None] = {}
        params: list[_Param] = []
        var_keyword: FieldPlan | None = None
        for p in signature.parameters.values():
            tp = hints.get(p.name, Any) if p.annotation is not inspect.Parameter.empty else Any
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                continue
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                var_keyword = field_plan(p.name, tp, True, None, memo)
                continue
            has_default = p.default is not inspect.Parameter.empty
            is_task = tp is Task
            params.append(
                _Param(
                    field_plan(p.name, Any if is_task else tp, has_default, p.default if has_default else None, memo),
                    positional=p.kind is inspect.Parameter.POSITIONAL_ONLY,
                    is_task=is_task,
                    default=p.default,
                )
            )
        self._params = tuple(params)
        self._names = frozenset(p.field.name for p in params)
        self._var_keyword = var_keyword

    def bind(self, task: Task) -> tuple[list[Any], dict[str, Any]]:
        """Positional and keyword arguments for ``task``.

        Raises ``ConversionError`` (message = the task's failure reason) when the input is not a JSON
        object, a required input is missing, or a value cannot be converted.
        """
        data = task.input_data
        if data is None:
            data = {}
        elif not isinstance(data, dict):
            raise ConversionError(f"task input must be a JSON object, got {type(data).__name__}")
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param in self._params:
            plan = param.field
            if param.is_task:
                value: Any = task
            elif plan.name in data:
                value = convert_field(plan, data[plan.name], plan.name)
            elif plan.required:
                raise missing(plan.name, plan.expected)
            elif plan.none_when_missing:
                value = None
            elif param.positional:
                value = param.default
            else:
                continue
            if param.positional:
                args.append(value)
            else:
                kwargs[plan.name] = value
        extra = self._var_keyword
        if extra is not None:
            for key, raw in data.items():
                if key not in self._names:
                    kwargs[key] = convert_field(extra, raw, key)
        return args, kwargs


#: Taken only when a context makes its TaskResult (see ``TaskContext._result``).
_RESULT_LOCK = threading.Lock()


class TaskContext:
    """The running task as seen from inside the worker function (official SDK method names).

    Created by the runtime for each execution; read it with ``get_task_context()``. It holds the
    ``TaskResult`` being built (``task_result``): logs, output given with ``set_output`` and the
    callback asked for go there, and are merged into the task's result after the function returns
    (keys the function RETURNS win over keys given to ``set_output``). Methods may be called from
    the thread or coroutine running the task.

    ``TaskContext(task, task_result)`` as in the official SDK; ``task_result`` defaults to an empty
    result addressed to ``task``; ``shutting_down`` backs ``is_shutting_down()``.
    """

    __slots__ = ("_shutting_down", "_task", "_task_result", "_worker_id")

    def __init__(
        self,
        task: Task,
        task_result: TaskResult | None = None,
        shutting_down: Callable[[], bool] | None = None,
    ) -> None:
        self._task = task
        if task_result is None:
            task_result = TaskResult(task_id=task.task_id, workflow_instance_id=task.workflow_instance_id)
        if task_result.output_data is None:
            task_result.output_data = {}
        if task_result.logs is None:
            task_result.logs = []
        self._task_result: TaskResult | None = task_result
        self._worker_id: str | None = None
        self._shutting_down = shutting_down

    @classmethod
    def _for_execution(cls, task: Task, worker_id: str | None, shutting_down: Callable[[], bool]) -> TaskContext:
        """The runtime's context for one execution: its ``TaskResult`` is made when first asked
        for (most functions never touch it, and a result costs microseconds on every task)."""
        context = cls.__new__(cls)
        context._task = task
        context._task_result = None
        context._worker_id = worker_id
        context._shutting_down = shutting_down
        return context

    def _result(self) -> TaskResult:
        result = self._task_result
        if result is None:
            # Under a lock: two threads sharing the context (asyncio.to_thread copies it) must not
            # each make one and lose what the other records.
            with _RESULT_LOCK:
                result = self._task_result
                if result is None:
                    task = self._task
                    result = self._task_result = TaskResult(
                        task_id=task.task_id, workflow_instance_id=task.workflow_instance_id,
                        worker_id=self._worker_id, output_data={}, logs=[],
                    )
        return result

    def _recorded(self) -> tuple[list[TaskExecLog], dict[str, Any], int | None]:
        """What the function recorded (logs, output, callback), for building the result; makes no
        ``TaskResult`` when it recorded nothing."""
        result = self._task_result
        if result is None:
            return [], {}, None
        logs, output = result.logs, result.output_data
        return (
            logs if isinstance(logs, list) else [],
            output if isinstance(output, dict) else {},
            result.callback_after_seconds,
        )

    @staticmethod
    def get() -> TaskContext:
        """The context of the task running in this thread or coroutine (``get_task_context()``).

        Raises ``TaskContextError`` when called outside a running task.
        """
        return get_task_context()

    @property
    def task(self) -> Task:
        """The task being executed."""
        return self._task

    @property
    def task_result(self) -> TaskResult:
        """The result being built for this execution (logs, output, callback so far)."""
        return self._result()

    def get_task_result(self) -> TaskResult:
        """The result being built for this execution (same as ``task_result``)."""
        return self._result()

    @property
    def logs(self) -> list[TaskExecLog]:
        """Log lines added so far (sent with the result; appending to this list adds one)."""
        result = self._result()
        if not isinstance(result.logs, list):
            result.logs = []
        return result.logs

    @property
    def output(self) -> dict[str, Any]:
        """Output given with ``set_output`` so far (merged under the returned output; writing to
        this dict sets output)."""
        result = self._result()
        if not isinstance(result.output_data, dict):
            result.output_data = {}
        return result.output_data

    @property
    def callback_after_seconds(self) -> int | None:
        """Callback asked for with ``set_callback_after`` (whole seconds), or None."""
        return None if self._task_result is None else self._task_result.callback_after_seconds

    def get_task_id(self) -> str | None:
        return self._task.task_id

    def get_workflow_instance_id(self) -> str | None:
        return self._task.workflow_instance_id

    def get_retry_count(self) -> int:
        return self._task.retry_count or 0

    def get_poll_count(self) -> int:
        return self._task.poll_count or 0

    def get_input(self) -> Any:
        """The task's input data (normally a dict; ``{}`` when the task has none)."""
        return self._task.input_data or {}

    def get_task_def_name(self) -> str | None:
        return self._task.task_def_name

    def get_workflow_task_type(self) -> str | None:
        """The workflow task's ``type`` (e.g. ``SIMPLE``), when the server sent it."""
        workflow_task = self._task.workflow_task
        return workflow_task.get("type") if isinstance(workflow_task, dict) else None

    def get_callback_after_seconds(self) -> int:
        """The callback set with ``set_callback_after``, else the task's, else 0."""
        if self.callback_after_seconds is not None:
            return self.callback_after_seconds
        return self._task.callback_after_seconds or 0

    def add_log(self, message: str) -> None:
        """Add a task log line (timestamped now, in milliseconds) sent with the result."""
        self.logs.append(TaskExecLog.now(str(message), self._task.task_id))

    def set_callback_after(self, seconds: float) -> None:
        """Ask the server to hand the task out again after ``seconds`` (used with IN_PROGRESS).

        Raises ``ValueError`` for a negative or non-numeric value.
        """
        self._result().callback_after_seconds = check_seconds(seconds, "seconds")

    def set_output(self, output: dict[str, Any]) -> None:
        """Merge ``output`` into the task's output; keys the function returns win.

        Raises ``ValueError`` unless ``output`` is a dict (as the official SDK does).
        """
        if not isinstance(output, dict):
            raise ValueError(f"set_output expects a dict, got {type(output).__name__}")
        self.output.update(output)

    def is_shutting_down(self) -> bool:
        """True once the worker process is shutting down (finish or checkpoint soon)."""
        return self._shutting_down is not None and bool(self._shutting_down())

    def __repr__(self) -> str:
        return (
            f"TaskContext(task_id={self.get_task_id()}, workflow_id={self.get_workflow_instance_id()},"
            f" retry_count={self.get_retry_count()})"
        )


_current: ContextVar[TaskContext | None] = ContextVar("conductor_actors_task_context", default=None)


def get_task_context() -> TaskContext:
    """The context of the task running in this thread or coroutine.

    Raises ``TaskContextError`` when called outside a running task.
    """
    context = _current.get()
    if context is None:
        raise TaskContextError(
            "get_task_context() was called outside a running task: it works only inside a worker"
            " function (or code it calls in the same thread or coroutine) while the runtime executes it"
        )
    return context


def set_task_context(context: TaskContext) -> Token[TaskContext | None]:
    """Make ``context`` current in this thread/coroutine; pass the token to ``reset_task_context``."""
    return _current.set(context)


def reset_task_context(token: Token[TaskContext | None]) -> None:
    """Undo ``set_task_context``."""
    _current.reset(token)


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
    context = TaskContext._for_execution(task, bound.worker_id, shutting_down)
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
        parts = contract_violation(task, bound.worker_id, reason, list(call.context._recorded()[0]))
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


# --- the official ``Worker.execute`` -------------------------------------------------------------
# It runs the function as the runtime does, but gives back a ``TaskInProgress`` the function
# returned as is (the official SDK's contract). ``Worker`` lives in ``_worker``, which this module
# builds on, so the method reaches this implementation through ``provide_official_execute``.


def _never() -> bool:
    return False


#: What the function returned during ``Worker.execute`` (set only there), so that a returned
#: ``TaskInProgress`` can be given back as is.
_returned: ContextVar[list[Any] | None] = ContextVar("conductor_actors_worker_returned", default=None)


def _record(value: Any) -> Any:
    box = _returned.get()
    if box is not None:
        box.append(value)
    return value


def _recording(target: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
    """``target``, recording its return value in ``_returned`` when ``Worker.execute`` asked."""
    if is_async:

        async def record_async(*args: Any, **kwargs: Any) -> Any:
            return _record(await target(*args, **kwargs))

        return record_async

    def record(*args: Any, **kwargs: Any) -> Any:
        return _record(target(*args, **kwargs))

    return record


def _given_back(box: list[Any], result: TaskResult) -> TaskResult | TaskInProgress:
    return box[0] if box and isinstance(box[0], TaskInProgress) else result


def _execute_official(
    worker: Worker, task: Task
) -> TaskResult | TaskInProgress | Awaitable[TaskResult | TaskInProgress]:
    """``Worker.execute`` (see there), in the calling thread; the binding plan is built once."""
    bound = worker._bound
    if not isinstance(bound, BoundWorker):
        bound = BoundWorker(worker, worker.get_identity())
        bound._target = _recording(bound._target, bound.is_async)
        worker._bound = bound
    if worker.is_async:
        return _execute_official_async(bound, task)
    box: list[Any] = []
    token = _returned.set(box)
    try:
        result = execute_sync(bound, task, _never).result
    finally:
        _returned.reset(token)
    return _given_back(box, result)


async def _execute_official_async(bound: BoundWorker, task: Task) -> TaskResult | TaskInProgress:
    box: list[Any] = []
    _returned.set(box)  # this coroutine's own context: nothing to reset
    return _given_back(box, (await execute_async(bound, task, _never)).result)


provide_official_execute(_execute_official)
