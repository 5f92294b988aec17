"""Task-runner events and listeners (official SDK names), plus in-process dispatch.

The seven events are frozen dataclasses with the official SDK's class and field names, each
carrying ``task_type`` and a UTC ``timestamp``. Durations are milliseconds (``duration_ms``), as in
the official SDK; ``output_size_bytes`` is the size of the serialised task output. Events pickle,
so they can travel from a worker process to the parent; an exception in ``cause`` that cannot be
pickled is replaced by ``RemoteError`` on the way.

A listener is any object with some of the ``on_*`` methods of ``TaskRunnerEventsListener``; it
need not subclass it. ``SyncEventDispatcher`` calls listeners in registration order on the thread
(or event loop) that publishes; a listener that raises is logged with its traceback and skipped,
and never disturbs the worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .client import TaskResult

__all__ = [
    "LISTENER_METHODS",
    "PollCompleted",
    "PollFailure",
    "PollStarted",
    "RemoteError",
    "SyncEventDispatcher",
    "TaskExecutionCompleted",
    "TaskExecutionFailure",
    "TaskExecutionStarted",
    "TaskRunnerEvent",
    "TaskRunnerEventsListener",
    "TaskUpdateFailure",
]

def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class TaskRunnerEvent:
    """Base of the task-runner events."""

    task_type: str
    timestamp: datetime = field(default_factory=_utc_now, kw_only=True, compare=False)


@dataclass(frozen=True)
class PollStarted(TaskRunnerEvent):
    """A batch poll is about to be sent; ``poll_count`` = tasks asked for."""

    worker_id: str
    poll_count: int


@dataclass(frozen=True)
class PollCompleted(TaskRunnerEvent):
    """A batch poll answered; ``tasks_received`` may be 0."""

    duration_ms: float
    tasks_received: int


@dataclass(frozen=True)
class PollFailure(TaskRunnerEvent):
    """A batch poll failed (network, HTTP error, unreadable answer)."""

    duration_ms: float
    cause: BaseException


@dataclass(frozen=True)
class TaskExecutionStarted(TaskRunnerEvent):
    """The worker function is about to run for a task."""

    task_id: str
    worker_id: str
    workflow_instance_id: str | None = None


@dataclass(frozen=True)
class TaskExecutionCompleted(TaskRunnerEvent):
    """The worker function returned (any result it asked for, including IN_PROGRESS)."""

    task_id: str
    worker_id: str
    workflow_instance_id: str | None
    duration_ms: float
    output_size_bytes: int | None = None


@dataclass(frozen=True)
class TaskExecutionFailure(TaskRunnerEvent):
    """The worker function raised, or its input or output broke the task's contract."""

    task_id: str
    worker_id: str
    workflow_instance_id: str | None
    cause: BaseException
    duration_ms: float


@dataclass(frozen=True)
class TaskUpdateFailure(TaskRunnerEvent):
    """Reporting a result failed after every attempt; ``task_result`` is the full result."""

    task_id: str
    worker_id: str
    workflow_instance_id: str | None
    cause: BaseException
    retry_count: int
    task_result: TaskResult


class RemoteError(Exception):
    """Stands in for an exception that could not be pickled across processes.

    ``type_name`` is the original class's qualified name; ``str()`` is its message.
    """

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name

    def __reduce__(self) -> tuple[type[RemoteError], tuple[str, str]]:
        return (RemoteError, (self.type_name, str(self)))

    def __repr__(self) -> str:
        return f"RemoteError({self.type_name}: {self})"

    @classmethod
    def of(cls, exc: BaseException) -> RemoteError:
        kind = type(exc)
        return cls(f"{kind.__module__}.{kind.__qualname__}", str(exc))


# -- listeners and dispatch -----------------------------------------------------------------------

_log = logging.getLogger("conductor_actors.events")

#: Event class -> the listener method that receives it.
LISTENER_METHODS: dict[type[TaskRunnerEvent], str] = {
    PollStarted: "on_poll_started",
    PollCompleted: "on_poll_completed",
    PollFailure: "on_poll_failure",
    TaskExecutionStarted: "on_task_execution_started",
    TaskExecutionCompleted: "on_task_execution_completed",
    TaskExecutionFailure: "on_task_execution_failure",
    TaskUpdateFailure: "on_task_update_failure",
}


@runtime_checkable
class TaskRunnerEventsListener(Protocol):
    """Receives task-runner events inside each worker process. Implement only what you need.

    Methods run synchronously on the publishing thread or event loop: keep them fast. The default
    bodies do nothing, so a subclass that overrides a few methods is still concrete for type checkers.
    """

    def on_poll_started(self, event: PollStarted) -> None:
        return None

    def on_poll_completed(self, event: PollCompleted) -> None:
        return None

    def on_poll_failure(self, event: PollFailure) -> None:
        return None

    def on_task_execution_started(self, event: TaskExecutionStarted) -> None:
        return None

    def on_task_execution_completed(self, event: TaskExecutionCompleted) -> None:
        return None

    def on_task_execution_failure(self, event: TaskExecutionFailure) -> None:
        return None

    def on_task_update_failure(self, event: TaskUpdateFailure) -> None:
        return None


class SyncEventDispatcher:
    """Routes events to listeners by exact event class; thread-safe once built.

    Listeners are fixed at construction (the pipeline builds one per process) so publishing needs no
    lock. ``wants(cls)`` lets hot paths skip building an event nobody receives.
    """

    def __init__(
        self,
        listeners: Iterable[Any] = (),
        sinks: Iterable[tuple[type[TaskRunnerEvent], Callable[[Any], None]]] = (),
    ) -> None:
        routes: dict[type[TaskRunnerEvent], list[Callable[[Any], None]]] = {}
        for listener in listeners:
            for event_cls, method_name in LISTENER_METHODS.items():
                method = getattr(listener, method_name, None)
                if callable(method):
                    routes.setdefault(event_cls, []).append(method)
        for event_cls, sink in sinks:
            routes.setdefault(event_cls, []).append(sink)
        self._routes = {cls: tuple(handlers) for cls, handlers in routes.items()}

    def wants(self, event_cls: type[TaskRunnerEvent]) -> bool:
        """True if at least one handler receives events of exactly this class."""
        return event_cls in self._routes

    def publish(self, event: TaskRunnerEvent) -> None:
        """Deliver ``event`` to its handlers in order; a raising handler is logged and skipped,
        whatever it raises (``KeyboardInterrupt`` and any other ``BaseException`` included).

        Runs in the stage (thread or event loop) that publishes; listener code is the user's, and
        the runtime never stops a stage by raising into it, so nothing a handler raises may end
        the stage and strand its tasks.
        """
        for handler in self._routes.get(type(event), ()):
            try:
                handler(event)
            except BaseException:
                _log.exception(
                    "event listener %s failed on %s; skipped", _describe(handler), type(event).__name__
                )


def _describe(handler: Callable[[Any], None]) -> str:
    owner = getattr(handler, "__self__", None)
    if owner is not None:
        return f"{type(owner).__qualname__}.{getattr(handler, '__name__', '?')}"
    return getattr(handler, "__qualname__", repr(handler))
