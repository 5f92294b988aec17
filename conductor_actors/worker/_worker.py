"""What a worker is: ``WorkerInterface`` (class-based workers) and ``Worker`` (a function).

Both carry their code-level properties (validated on creation, see ``_properties``); the
effective values, after environment overrides, come from ``resolve_worker_config``. Both pickle for
the spawn start method: a ``Worker`` ships its function as a re-importable reference, a class-based
worker is pickled as it is. Objects are created in the parent (any thread) and re-created in each
child process.
"""

from __future__ import annotations

import abc
import inspect
import socket
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from ..client import Task, TaskDef, TaskResult
from ._context import TaskInProgress
from ._exceptions import WorkerRegistrationError
from ._identity import default_worker_id
from ._introspection import callable_signature, hint_target, resolve_type_hints
from ._properties import PROPERTIES, check_thread_count, coerce_property
from ._references import (
    FunctionReference,
    check_definition,
    check_picklable,
    function_reference,
    is_plain_function,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from ._execution import BoundWorker

__all__ = [
    "Worker",
    "WorkerInterface",
    "is_async_callable",
    "is_callable_input_parameter_a_task",
    "is_callable_return_value_of_type",
]


def is_async_callable(obj: object) -> bool:
    """True for ``async def`` functions (also through functools.partial) and instances whose
    ``__call__`` is ``async def``."""
    if inspect.iscoroutinefunction(obj):
        return True
    if inspect.isfunction(obj) or not callable(obj):
        return False
    return inspect.iscoroutinefunction(type(obj).__call__)  # type: ignore[operator]


def is_callable_input_parameter_a_task(callable: Callable[..., Any], object_type: Any) -> bool:
    """The official SDK's predicate: True when ``callable`` takes exactly one parameter and it is
    annotated ``object_type``, ``object`` or not at all. It answers the official binding rule; here
    only a parameter annotated ``Task`` receives the task (see ``Worker.execute``). Raises
    ``TypeError``/``ValueError`` for a callable without an inspectable signature."""
    parameters = list(inspect.signature(callable).parameters.values())
    if len(parameters) != 1:
        return False
    annotation = parameters[0].annotation
    return annotation == object_type or annotation is inspect.Parameter.empty or annotation is object


def is_callable_return_value_of_type(callable: Callable[..., Any], object_type: Any) -> bool:
    """The official SDK's predicate: True when ``callable``'s return annotation is ``object_type``."""
    return bool(inspect.signature(callable).return_annotation == object_type)


def _check_task_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise WorkerRegistrationError(
            f"task_definition_name must be a non-empty string, got {name!r}"
        )
    return name


class WorkerInterface(abc.ABC):
    """Base of class-based workers (official SDK compatible).

    Subclasses implement ``execute(task)``, which may be a plain method or ``async def`` and may
    return a ``TaskResult`` or anything a worker function may return (dict, dataclass, None,
    ``TaskInProgress``...). Properties can be given to the constructor or set as class or instance
    attributes; the environment overrides them (``resolve_worker_config``). ``execute`` runs in an
    executor thread (sync) or on the worker's event loop (async); an exception it raises fails the
    task.

    Raises ``WorkerRegistrationError`` for a missing task name and ``WorkerConfigError`` for an
    invalid property value.
    """

    task_definition_name: str
    poll_interval_millis: float = 100.0
    thread_count: int = 1
    domain: str | None = None
    _worker_id: str | None = None
    poll_timeout: int = 100
    lease_extend_enabled: bool = False
    paused: bool = False
    processes: int = 1
    register_task_def: bool = False
    overwrite_task_def: bool = True
    strict_schema: bool = False
    register_schema: bool = False

    def __init__(
        self,
        task_definition_name: str | None = None,
        *,
        poll_interval_millis: float | None = None,
        thread_count: int | None = None,
        domain: str | None = None,
        worker_id: str | None = None,
        poll_timeout: int | None = None,
        lease_extend_enabled: bool | None = None,
        paused: bool | None = None,
        processes: int | None = None,
    ) -> None:
        if task_definition_name is None:
            task_definition_name = getattr(self, "task_definition_name", None)  # a class attribute
        self.task_definition_name = _check_task_name(task_definition_name)
        self._set_properties(
            poll_interval_millis=poll_interval_millis,
            thread_count=thread_count,
            domain=domain,
            worker_id=worker_id,
            poll_timeout=poll_timeout,
            lease_extend_enabled=lease_extend_enabled,
            paused=paused,
            processes=processes,
        )

    def _set_properties(self, **values: Any) -> None:
        """Validate and store code-level property values; ``None`` keeps the current value."""
        for name, value in values.items():
            if value is not None:
                setattr(self, name, coerce_property(name, value, self.task_definition_name))
        if values.get("thread_count") is not None:  # the bound depends on the flavour
            check_thread_count(self.thread_count, self.is_async, "thread_count", self.task_definition_name)

    @property
    def worker_id(self) -> str:
        """The worker id given in code, else the host name (as in the official SDK). Each worker
        process reports ``<hostname>-<pid>`` unless an id was given (see ``get_identity``)."""
        return self._worker_id if self._worker_id is not None else socket.gethostname()

    @worker_id.setter
    def worker_id(self, value: str | None) -> None:
        self._worker_id = value

    def _code_worker_id(self) -> str | None:
        """The worker id set in code (constructor, attribute or class attribute), or None."""
        if isinstance(inspect.getattr_static(self, "worker_id", None), property):
            return self._worker_id
        value: str | None = self.worker_id  # a subclass's plain class attribute
        return value

    @abc.abstractmethod
    def execute(self, task: Task) -> Any:
        """Execute one task (sync or ``async def``); return a TaskResult or an output value."""

    @property
    def is_async(self) -> bool:
        """True when ``execute`` is ``async def`` (the worker then runs on an event loop)."""
        return inspect.iscoroutinefunction(type(self).execute)

    @property
    def poll_interval(self) -> float:
        """Poll interval in milliseconds (official SDK name for ``poll_interval_millis``; a whole
        number of milliseconds is an ``int``, as given to the official SDK)."""
        millis = self.poll_interval_millis
        return int(millis) if float(millis).is_integer() else millis

    @poll_interval.setter
    def poll_interval(self, millis: float) -> None:
        self.poll_interval_millis = coerce_property("poll_interval_millis", millis, self.task_definition_name)

    def get_task_definition_name(self) -> str:
        """The task type this worker polls for."""
        return _check_task_name(getattr(self, "task_definition_name", None))

    #: The official SDK's round-robin index over a list of task names (one name per worker here).
    next_task_index = 0

    @property
    def task_definition_names(self) -> list[str]:
        """The task types this worker polls for, as a list (official SDK name; always one here)."""
        return [self.get_task_definition_name()]

    @property
    def task_definition_name_cache(self) -> str:
        """The task type of the next poll (official SDK name)."""
        return self.get_task_definition_name()

    def compute_task_definition_name(self) -> str:
        """The task type of the next poll (official SDK name)."""
        return self.get_task_definition_name()

    def clear_task_definition_name_cache(self) -> None:  # noqa: B027 - deliberately a no-op, not abstract
        """Nothing to clear: a worker polls one task type (official SDK name)."""

    def get_identity(self) -> str:
        """``worker_id`` from code, or the per-process default ``<hostname>-<pid>``."""
        return self._code_worker_id() or default_worker_id()

    def get_polling_interval_in_seconds(self) -> float:
        """The code-level poll interval in seconds."""
        return float(self.poll_interval_millis) / 1000.0

    def get_domain(self) -> str | None:
        """The code-level domain (None = no domain)."""
        return self.domain

    def get_task_result_from_task(self, task: Task) -> TaskResult:
        """An empty ``TaskResult`` (no status yet) addressed to ``task`` from this worker (official
        SDK helper)."""
        return TaskResult(
            task_id=task.task_id, workflow_instance_id=task.workflow_instance_id, worker_id=self.get_identity()
        )

    def check_spawnable(self) -> None:
        """Raise ``WorkerRegistrationError`` (saying how to fix it) unless this worker pickles."""
        self.get_task_definition_name()
        check_picklable(self, f"class-based worker {self.task_definition_name!r} ({type(self).__qualname__})")

    def __repr__(self) -> str:
        name = getattr(self, "task_definition_name", None)
        return f"{type(self).__name__}(task_definition_name={name!r}, domain={self.domain!r})"


class Worker(WorkerInterface):
    """A function worker (official SDK compatible); ``@worker_task`` creates these.

    ``poll_interval`` is in milliseconds (None = 100). The function may be ``def`` or ``async def``
    (or an instance with an async ``__call__``); its parameters are bound by name from the task
    input. Any callable is accepted, so ``Worker(name, fn).execute(task)`` works in-process with a
    lambda or a nested function too; one that a worker process could not re-import is refused
    when the worker is started (``check_spawnable``). Raises ``WorkerRegistrationError`` for a
    callable that is not callable and ``WorkerConfigError`` for an invalid property value.
    """

    def __init__(
        self,
        task_definition_name: str,
        execute_function: Callable[..., Any],
        poll_interval: float | None = None,
        domain: str | None = None,
        worker_id: str | None = None,
        thread_count: int = 1,
        register_task_def: bool = False,
        poll_timeout: int = 100,
        lease_extend_enabled: bool = False,
        paused: bool = False,
        task_def_template: TaskDef | None = None,
        overwrite_task_def: bool = True,
        strict_schema: bool = False,
        register_schema: bool = False,
        processes: int = 1,
    ) -> None:
        self.task_definition_name = _check_task_name(task_definition_name)
        if task_def_template is not None and not isinstance(task_def_template, TaskDef):
            raise WorkerRegistrationError(
                f"worker {task_definition_name!r}: task_def must be a TaskDef, got {type(task_def_template).__name__}"
            )
        self._bound: BoundWorker | None = None
        self.execute_function = execute_function
        self.task_def_template = task_def_template
        self._set_properties(
            poll_interval_millis=PROPERTIES["poll_interval_millis"].default if poll_interval is None else poll_interval,
            domain=domain,
            worker_id=worker_id,
            thread_count=thread_count,
            register_task_def=register_task_def,
            poll_timeout=poll_timeout,
            lease_extend_enabled=lease_extend_enabled,
            paused=paused,
            overwrite_task_def=overwrite_task_def,
            strict_schema=strict_schema,
            register_schema=register_schema,
            processes=processes,
        )

    @property
    def execute_function(self) -> Callable[..., Any]:
        """The function this worker runs; assigning another one takes effect at the next task."""
        return self._execute_function

    @execute_function.setter
    def execute_function(self, function: Callable[..., Any]) -> None:
        if not callable(function):
            raise WorkerRegistrationError(
                f"worker {self.task_definition_name!r}: execute_function must be callable,"
                f" got {type(function).__name__}"
            )
        self._execute_function = function
        self._bound = None  # the input-binding plan belongs to the previous function

    @property
    def is_async(self) -> bool:
        """True for an ``async def`` function or an instance whose ``__call__`` is async."""
        return is_async_callable(self.execute_function)

    @property
    def _is_execute_function_input_parameter_a_task(self) -> bool:
        # the official Worker's flag, as this runtime binds: a parameter annotated Task gets the task
        return _takes_task(self.execute_function)

    @property
    def _is_execute_function_return_value_a_task_result(self) -> bool:
        # the official Worker's flag: the return annotation is TaskResult
        return _returns_task_result(self.execute_function)

    @property
    def function_path(self) -> str:
        """``module.qualname`` of the function (for logs and summaries)."""
        func = self.execute_function
        module = getattr(func, "__module__", None) or type(func).__module__
        qualname = getattr(func, "__qualname__", None) or type(func).__qualname__
        return f"{module}.{qualname}"

    def execute(self, task: Task) -> TaskResult | TaskInProgress | Awaitable[TaskResult | TaskInProgress]:
        """Run the function for ``task`` in the calling thread, as the official ``Worker.execute``.

        Returns the ``TaskResult``, or the ``TaskInProgress`` the function returned, as is (the
        official SDK's contract); for an async function an awaitable of either. The runtime uses
        ``execute_sync``/``execute_async`` instead. Never raises for what the function or the data
        does (failures become FAILED results).
        """
        from ._execution import BoundWorker, execute_sync

        if self._bound is None:
            bound = BoundWorker(self, self.get_identity())
            bound._target = _recording(bound._target, bound.is_async)
            self._bound = bound
        if self.is_async:
            return _execute_async(self._bound, task)
        box: list[Any] = []
        token = _returned.set(box)
        try:
            result = execute_sync(self._bound, task, _never).result
        finally:
            _returned.reset(token)
        return box[0] if box and isinstance(box[0], TaskInProgress) else result

    def check_spawnable(self) -> None:
        """Raise ``WorkerRegistrationError`` unless a child process can re-create this worker; the
        message says how to fix it (a lambda or nested function: define it at module level)."""
        func = self.execute_function
        check_definition(func, self.task_definition_name)
        if is_plain_function(func):
            function_reference(func, self.task_definition_name)
        else:
            check_picklable(func, f"worker {self.task_definition_name!r}: the callable {func!r}")

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_bound"] = None
        func = state["_execute_function"]
        if is_plain_function(func):
            state["_execute_function"] = function_reference(func, self.task_definition_name)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        func = state["_execute_function"]
        if isinstance(func, FunctionReference):
            state["_execute_function"] = func.resolve()
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return (
            f"Worker(task_definition_name={self.task_definition_name!r}, function={self.function_path},"
            f" domain={self.domain!r})"
        )


def _takes_task(func: Callable[..., Any]) -> bool:
    try:
        hints = resolve_type_hints(hint_target(func))
        names = callable_signature(func).parameters
    except (TypeError, ValueError):
        return False
    return any(hints.get(name) is Task for name in names)


def _returns_task_result(func: Callable[..., Any]) -> bool:
    try:
        return resolve_type_hints(hint_target(func)).get("return") is TaskResult
    except (TypeError, ValueError):
        return False


def _never() -> bool:
    return False


#: What the function returned during ``Worker.execute`` (set only there), so that a returned
#: ``TaskInProgress`` can be given back as is.
_returned: ContextVar[list[Any] | None] = ContextVar("conductor_actors_worker_returned", default=None)


def _recording(target: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
    """``target``, recording its return value in ``_returned`` when ``Worker.execute`` asked."""
    if is_async:

        async def record_async(*args: Any, **kwargs: Any) -> Any:
            value = await target(*args, **kwargs)
            box = _returned.get()
            if box is not None:
                box.append(value)
            return value

        return record_async

    def record(*args: Any, **kwargs: Any) -> Any:
        value = target(*args, **kwargs)
        box = _returned.get()
        if box is not None:
            box.append(value)
        return value

    return record


async def _execute_async(bound: BoundWorker, task: Task) -> TaskResult | TaskInProgress:
    from ._execution import execute_async

    box: list[Any] = []
    _returned.set(box)  # this coroutine's own context: nothing to reset
    result = (await execute_async(bound, task, _never)).result
    return box[0] if box and isinstance(box[0], TaskInProgress) else result
