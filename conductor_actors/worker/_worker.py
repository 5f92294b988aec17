"""What a worker is: ``WorkerInterface`` (class-based workers) and ``Worker`` (a function), what
its code may raise or return besides a value (``NonRetryableException``, ``TaskInProgress``), and
the exceptions of the worker model::

    NonRetryableException        raised BY a worker function: fail the task for good
                                 (FAILED_WITH_TERMINAL_ERROR, no retry)
    WorkerConfigError            (ValueError, from ``_config``) a worker property has a value that
                                 cannot work; the message names the variable or keyword and the value
    WorkerRegistrationError      (ValueError) a worker cannot be registered or cannot run in a
                                 child process; the message says how to fix it
    WorkerDiscoveryError         (ImportError) a scanned module failed to import; the message
                                 names the module and carries the original traceback
    TaskContextError             (RuntimeError) get_task_context() outside a running task

Workers carry their code-level properties (validated on creation, see ``_config``); the effective
values, after environment overrides, come from ``resolve_worker_config``, here because it reads a
worker object (the property table and the environment lookup are ``_config``'s). Both kinds pickle
for the spawn start method: a ``Worker`` ships its function as a re-importable reference (a
``FunctionReference``), a class-based worker is pickled as it is. The spawn checks here turn what
cannot work into a ``WorkerRegistrationError`` that says how to fix it, instead of a
``PicklingError`` in a child. Objects are created in the parent (any thread) and re-created in each
child process; the exceptions are pure definitions and all of them pickle.
"""

from __future__ import annotations

import abc
import importlib
import inspect
import math
import pickle
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from ..client import Task, TaskDef, TaskResult
from ._config import (
    PROPERTIES,
    WorkerConfig,
    check_thread_count,
    coerce_property,
    default_worker_id,
    resolve_config,
    resolve_official_config,
)
from ._conversion import callable_signature, hint_target, resolve_type_hints

if TYPE_CHECKING:
    from collections.abc import Awaitable

__all__ = [
    "FunctionReference",
    "NonRetryableException",
    "TaskContextError",
    "TaskInProgress",
    "Worker",
    "WorkerDiscoveryError",
    "WorkerInterface",
    "WorkerRegistrationError",
    "check_seconds",
    "is_async_callable",
    "is_callable_input_parameter_a_task",
    "is_callable_return_value_of_type",
    "provide_official_execute",
    "resolve_worker_config",
]


class NonRetryableException(Exception):
    """Raise from a worker function to fail the task with FAILED_WITH_TERMINAL_ERROR (no retry)."""


class WorkerRegistrationError(ValueError):
    """A worker cannot be registered, or could not be re-created in a spawned child process."""


class WorkerDiscoveryError(ImportError):
    """Importing a module during worker discovery failed (the cause is chained)."""


class TaskContextError(RuntimeError):
    """The task context was requested outside a running task."""


class TaskInProgress:
    """Return this to keep the task IN_PROGRESS and have the server hand it out again after
    ``callback_after_seconds`` (re-queue / checkpoint pattern). ``output`` becomes the task's output
    so far (a dict, a dataclass, None or any JSON value, converted like a return value; None is
    kept as ``{}``). Both attributes may be reassigned, as in the official SDK.

    Raises ``ValueError`` for a negative or non-numeric ``callback_after_seconds`` (on creation and
    on assignment).
    """

    def __init__(self, callback_after_seconds: float = 60, output: Any = None) -> None:
        self.callback_after_seconds = callback_after_seconds
        self.output = {} if output is None else output

    @property
    def callback_after_seconds(self) -> float:
        return self._callback_after_seconds

    @callback_after_seconds.setter
    def callback_after_seconds(self, seconds: float) -> None:
        check_seconds(seconds, "callback_after_seconds")
        self._callback_after_seconds = seconds

    def __repr__(self) -> str:
        return f"TaskInProgress(callback_after={self.callback_after_seconds}s, output={self.output})"


def check_seconds(value: Any, name: str) -> int:
    """Whole seconds for the wire (rounded up so the server never calls back early); raises
    ``ValueError`` for a negative or non-numeric value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return math.ceil(value)


if TYPE_CHECKING:
    #: What the official ``Worker.execute`` returns (see ``Worker.execute``).
    _Executed = TaskResult | TaskInProgress | Awaitable[TaskResult | TaskInProgress]


#: Longest ``__wrapped__`` chain followed from a module-level name to the worker function.
_MAX_WRAP_DEPTH = 32

_MAIN_HINT = (
    " Functions and classes in the main script are re-imported by every worker process: define them"
    " at module level and keep the code that starts the workers under"
    ' `if __name__ == "__main__":`.'
)


def _main_hint(module: str | None) -> str:
    return _MAIN_HINT if module in ("__main__", "__mp_main__") else ""


def _is_plain_function(obj: object) -> bool:
    """True for a function defined with ``def``/``async def``/``lambda`` (travels by reference)."""
    return inspect.isfunction(obj)


def _check_definition(func: Callable[..., Any], task_name: str) -> None:
    """Reject, at registration time, callables that can never be re-imported in a child.

    Lambdas and functions defined inside other functions are rejected; other callables (bound
    methods, callable instances, partials) must pickle. The module-level name of a function is
    checked later by ``_function_reference`` (it is not bound yet while a decorator runs).
    Raises ``WorkerRegistrationError``.
    """
    if not callable(func):
        raise WorkerRegistrationError(
            f"worker {task_name!r}: execute_function must be callable, got {type(func).__name__}"
        )
    if _is_plain_function(func):
        qualname = func.__qualname__
        if func.__name__ == "<lambda>":
            raise WorkerRegistrationError(
                f"worker {task_name!r}: a lambda cannot be a worker function, because worker processes"
                " re-import the function by its module and name. Define it with `def` at module level."
                + _main_hint(func.__module__)
            )
        if "<locals>" in qualname:
            raise WorkerRegistrationError(
                f"worker {task_name!r}: {func.__module__}.{qualname} is defined inside another function,"
                " so worker processes cannot re-import it. Define it at module level; if a decorator"
                " produced it, decorate the wrapper with functools.wraps(func)."
                + _main_hint(func.__module__)
            )
        return
    _check_picklable(func, f"worker {task_name!r}: the callable {func!r}")


def _check_picklable(obj: object, what: str) -> None:
    """Raise ``WorkerRegistrationError`` unless ``pickle.dumps(obj)`` works."""
    try:
        pickle.dumps(obj)
    except Exception as exc:
        module = getattr(type(obj), "__module__", None)
        raise WorkerRegistrationError(
            f"{what} cannot be pickled ({type(exc).__name__}: {exc}). Worker processes are started"
            " with 'spawn' and receive their worker by pickle: define the class at module level and"
            " keep only picklable state on it (create clients, locks and connections lazily, inside"
            " execute)." + _main_hint(module)
        ) from exc


@dataclass(frozen=True)
class FunctionReference:
    """Where a worker function can be found again: ``module.qualname`` then ``depth`` unwraps."""

    module: str
    qualname: str
    depth: int = 0

    def resolve(self) -> Callable[..., Any]:
        """Import the module and return the function. Raises ``WorkerRegistrationError``."""
        try:
            obj: Any = sys.modules.get(self.module) or importlib.import_module(self.module)
            for part in self.qualname.split("."):
                obj = getattr(obj, part)
            for _ in range(self.depth):
                obj = obj.__wrapped__
        except Exception as exc:
            raise WorkerRegistrationError(
                f"cannot re-import worker function {self.module}.{self.qualname}"
                f" ({type(exc).__name__}: {exc})." + _main_hint(self.module)
            ) from exc
        return obj  # type: ignore[no-any-return]


def _function_reference(func: Callable[..., Any], task_name: str) -> FunctionReference:
    """The reference a child process uses to find ``func``, after checking that it works.

    The module-level name ``func.__module__``/``func.__qualname__`` must lead to ``func`` itself
    or to a wrapper whose ``__wrapped__`` chain (functools.wraps) reaches it. Raises
    ``WorkerRegistrationError`` saying how to fix it otherwise.
    """
    module_name, qualname = func.__module__, func.__qualname__
    where = f"worker {task_name!r}: {module_name}.{qualname}"
    try:
        obj: Any = sys.modules.get(module_name) or importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception as exc:
        raise WorkerRegistrationError(
            f"{where} cannot be found by its module-level name ({type(exc).__name__}: {exc}), so worker"
            " processes cannot re-import it. Define the function at module level under its own name."
            + _main_hint(module_name)
        ) from exc
    depth = 0
    while obj is not func:
        obj = getattr(obj, "__wrapped__", None)
        depth += 1
        if obj is None or depth > _MAX_WRAP_DEPTH:
            raise WorkerRegistrationError(
                f"{where}: the module-level name {qualname!r} no longer points at the worker function"
                " (was it wrapped by a decorator that does not use functools.wraps?). Worker processes"
                " re-import the function by that name: use functools.wraps(func) in the decorator, or"
                " apply the other decorator below @worker_task." + _main_hint(module_name)
            )
    return FunctionReference(module_name, qualname, depth)


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
        _check_picklable(self, f"class-based worker {self.task_definition_name!r} ({type(self).__qualname__})")

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
        #: The execution module's prepared form of this worker (its input-binding plan), built by
        #: the first ``execute``; typed loosely because that module builds on this one.
        self._bound: object | None = None
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

    def execute(self, task: Task) -> _Executed:
        """Run the function for ``task`` in the calling thread, as the official ``Worker.execute``.

        Returns the ``TaskResult``, or the ``TaskInProgress`` the function returned, as is (the
        official SDK's contract); for an async function an awaitable of either. The runtime uses
        ``execute_sync``/``execute_async`` instead. Never raises for what the function or the data
        does (failures become FAILED results).
        """
        return _official_execute(self, task)

    def check_spawnable(self) -> None:
        """Raise ``WorkerRegistrationError`` unless a child process can re-create this worker; the
        message says how to fix it (a lambda or nested function: define it at module level)."""
        func = self.execute_function
        _check_definition(func, self.task_definition_name)
        if _is_plain_function(func):
            _function_reference(func, self.task_definition_name)
        else:
            _check_picklable(func, f"worker {self.task_definition_name!r}: the callable {func!r}")

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_bound"] = None
        func = state["_execute_function"]
        if _is_plain_function(func):
            state["_execute_function"] = _function_reference(func, self.task_definition_name)
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


# -- the effective configuration ------------------------------------------------------------------


@overload
def resolve_worker_config(worker: WorkerInterface, env: Mapping[str, str] | None = None) -> WorkerConfig: ...


@overload
def resolve_worker_config(*, worker_name: str, **code_values: Any) -> dict[str, Any]: ...


@overload
def resolve_worker_config(
    worker: str,
    poll_interval: float | None = None,
    domain: str | None = None,
    worker_id: str | None = None,
    thread_count: int | None = None,
    register_task_def: bool | None = None,
    poll_timeout: int | None = None,
    lease_extend_enabled: bool | None = None,
    paused: bool | None = None,
    overwrite_task_def: bool | None = None,
    strict_schema: bool | None = None,
    register_schema: bool | None = None,
) -> dict[str, Any]: ...


def resolve_worker_config(
    worker: WorkerInterface | str | None = None, *args: Any, **kwargs: Any
) -> WorkerConfig | dict[str, Any]:
    """The effective configuration of a worker: environment over code.

    ``resolve_worker_config(worker, env=None)`` takes the worker object and returns a
    ``WorkerConfig`` whose ``sources`` say where each value came from (``env`` defaults to
    ``os.environ``). ``resolve_worker_config(task_name, poll_interval=None, domain=None, ...)`` is
    the official SDK's form: the task name and the code values, returning a dict of the official
    property names (``poll_interval`` in ms; a property set nowhere stays as given, ``None``, except
    ``overwrite_task_def`` True, ``strict_schema`` and ``register_schema`` False). Both raise
    ``WorkerConfigError`` naming the variable (or keyword) and a value that does not parse. The
    task name may be given as the official keyword ``worker_name=`` too.
    """
    if worker is None and "worker_name" in kwargs:
        worker = kwargs.pop("worker_name")
        if not isinstance(worker, str):
            raise TypeError(f"resolve_worker_config(): worker_name must be a task name, got {type(worker).__name__}")
    if worker is None:
        raise TypeError("resolve_worker_config() needs the worker object or its task name (worker_name=)")
    if isinstance(worker, str):
        return resolve_official_config(worker, *args, **kwargs)
    return _resolve(worker, *args, **kwargs)


def _resolve(worker: WorkerInterface, env: Mapping[str, str] | None = None) -> WorkerConfig:
    """``resolve_worker_config`` of a worker object: its code-level properties under the environment."""

    def code_value(name: str) -> Any:
        # the worker id as set in code: the property's fallback (the host name) is no code value
        return worker._code_worker_id() if name == "worker_id" else getattr(worker, name, PROPERTIES[name].default)

    return resolve_config(worker.get_task_definition_name(), code_value, bool(getattr(worker, "is_async", False)), env)


#: Runs ``Worker.execute`` as the runtime runs a task. The execution module provides it
#: (``provide_official_execute``) when it is imported, which importing this package does: that module
#: builds on this one, so this one cannot import it.
_official_execute: Callable[[Worker, Task], _Executed]


def provide_official_execute(run: Callable[[Worker, Task], _Executed]) -> None:
    """Make ``run`` the implementation of ``Worker.execute`` (called once, by the execution module)."""
    global _official_execute
    _official_execute = run
