"""``@worker_task`` and its legacy alias ``WorkerTask``.

The decorator validates its keywords, wraps the function in a ``Worker``, registers it and returns
a ``functools.wraps`` wrapper, as the official SDK does: calling the wrapper runs the function
(the wrapper of an ``async def`` is itself a coroutine function), ``__wrapped__`` is the original,
and a call with a ``task_ref_name=`` keyword builds a SIMPLE ``WorkflowTask`` (the official
``SimpleTask``) instead of running anything. The registered ``Worker`` holds the original; worker
processes find it again through the module-level wrapper's ``__wrapped__``. The decorator runs while
the user's module is imported (whatever thread imports it).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..client import TaskDef
from ._exceptions import WorkerConfigError
from ._registry import register_worker
from ._worker import Worker

if TYPE_CHECKING:
    from ..client import WorkflowTask

__all__ = ["WorkerTask", "register_decorated_fn", "worker_task"]

F = TypeVar("F", bound=Callable[..., Any])


def worker_task(
    task_definition_name: str,
    poll_interval_millis: float = 100,
    domain: str | None = None,
    worker_id: str | None = None,
    thread_count: int = 1,
    register_task_def: bool = False,
    poll_timeout: int = 100,
    lease_extend_enabled: bool = False,
    task_def: TaskDef | None = None,
    overwrite_task_def: bool = True,
    strict_schema: bool = False,
    register_schema: bool = False,
    processes: int = 1,
) -> Callable[[F], F]:
    """Register a ``def`` or ``async def`` function as the worker for ``task_definition_name``.

    The parameters are in the official SDK's order (positional calls mean the same there and
    here); ``processes`` is new, last.

    Keywords are the code-level defaults (environment variables override them, see
    ``resolve_worker_config``): ``poll_interval_millis`` (ms), ``thread_count`` (tasks in flight
    per process), ``domain``, ``worker_id`` (default ``<hostname>-<pid>``), ``poll_timeout`` (server
    long-poll, ms, 0..5000), ``lease_extend_enabled``, ``register_task_def``, ``overwrite_task_def``,
    ``strict_schema``, ``task_def`` (a ``TaskDef`` template), ``register_schema`` and
    ``processes`` (OS processes running this worker).

    The decorated name becomes a ``functools.wraps`` wrapper (see the module docstring): calling it
    runs the function; ``fn(task_ref_name=..., **inputs)`` returns a SIMPLE ``WorkflowTask``.

    Raises ``WorkerConfigError`` for an invalid keyword value and ``WorkerRegistrationError`` for a
    function that cannot run in a worker process or a task name already taken by another function.
    """

    def decorate(func: F) -> F:
        register_decorated_fn(
            name=task_definition_name,
            poll_interval=poll_interval_millis,
            domain=domain,
            worker_id=worker_id,
            func=func,
            thread_count=thread_count,
            register_task_def=register_task_def,
            poll_timeout=poll_timeout,
            lease_extend_enabled=lease_extend_enabled,
            task_def=task_def,
            overwrite_task_def=overwrite_task_def,
            strict_schema=strict_schema,
            register_schema=register_schema,
            processes=processes,
        )
        return _wrap(func, task_definition_name)

    return decorate


def _workflow_task(task_definition_name: str, kwargs: dict[str, Any]) -> WorkflowTask:
    """The SIMPLE workflow task a ``task_ref_name=`` call stands for; the other keywords become
    its input parameters (as the official ``SimpleTask``)."""
    from ..client import WorkflowTask  # here: a worker process never needs it

    reference = kwargs.pop("task_ref_name")
    return WorkflowTask(
        name=task_definition_name, task_reference_name=reference, type="SIMPLE", input_parameters=dict(kwargs)
    )


def _wrap(func: F, task_definition_name: str) -> F:
    """The wrapper ``@worker_task`` returns for ``func``: a plain call runs ``func`` in the caller's
    thread (or loop, for ``async def``) and lets its exceptions through; a call with
    ``task_ref_name=`` returns a ``WorkflowTask`` (awaited, for an ``async def``: its wrapper is a
    coroutine function so that callers that test for one keep seeing one)."""
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if "task_ref_name" in kwargs:
                return _workflow_task(task_definition_name, kwargs)
            return await func(*args, **kwargs)

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "task_ref_name" in kwargs:
            return _workflow_task(task_definition_name, kwargs)
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def register_decorated_fn(
    name: str,
    poll_interval: float | None,
    domain: str | None,
    worker_id: str | None,
    func: Callable[..., Any],
    thread_count: int = 1,
    register_task_def: bool = False,
    poll_timeout: int = 100,
    lease_extend_enabled: bool = False,
    task_def: TaskDef | None = None,
    overwrite_task_def: bool = True,
    strict_schema: bool = False,
    register_schema: bool | None = None,
    processes: int = 1,
) -> None:
    """Register ``func`` as the worker for task ``name`` (the official SDK's function, with its
    signature; ``@worker_task`` calls it). ``poll_interval`` is in ms (None = 100);
    ``register_schema=None`` means False. Raises like ``worker_task``."""
    register_worker(
        Worker(
            name,
            func,
            poll_interval=poll_interval,
            domain=domain,
            worker_id=worker_id,
            thread_count=thread_count,
            register_task_def=register_task_def,
            poll_timeout=poll_timeout,
            lease_extend_enabled=lease_extend_enabled,
            task_def_template=task_def,
            overwrite_task_def=overwrite_task_def,
            strict_schema=strict_schema,
            register_schema=bool(register_schema),
            processes=processes,
        )
    )


def WorkerTask(
    task_definition_name: str,
    poll_interval: float = 100,
    domain: str | None = None,
    worker_id: str | None = None,
    poll_interval_seconds: float = 0,
    thread_count: int = 1,
    register_task_def: bool = False,
    poll_timeout: int = 100,
    lease_extend_enabled: bool = False,
    register_schema: bool = False,
    overwrite_task_def: bool = True,
    strict_schema: bool = False,
    task_def: TaskDef | None = None,
    processes: int = 1,
) -> Callable[[F], F]:
    """Legacy spelling of ``worker_task``: ``poll_interval`` is in ms; ``poll_interval_seconds``,
    when > 0, wins (times 1000). The official parameters come first, in its order;
    ``overwrite_task_def``, ``strict_schema``, ``task_def`` and ``processes`` follow. Raises like
    ``worker_task``."""
    if isinstance(poll_interval_seconds, bool) or not isinstance(poll_interval_seconds, (int, float)):
        raise WorkerConfigError(
            f"poll_interval_seconds={poll_interval_seconds!r}: must be a number of seconds"
            f" (worker {task_definition_name!r})"
        )
    millis = poll_interval_seconds * 1000 if poll_interval_seconds > 0 else poll_interval
    return worker_task(
        task_definition_name,
        poll_interval_millis=millis,
        thread_count=thread_count,
        domain=domain,
        worker_id=worker_id,
        poll_timeout=poll_timeout,
        lease_extend_enabled=lease_extend_enabled,
        register_task_def=register_task_def,
        overwrite_task_def=overwrite_task_def,
        strict_schema=strict_schema,
        task_def=task_def,
        register_schema=register_schema,
        processes=processes,
    )
