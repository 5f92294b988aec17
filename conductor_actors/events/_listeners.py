"""Listener protocol and the in-process, synchronous event dispatcher.

A listener is any object with some of the ``on_*`` methods below (the official SDK's names); it need
not subclass ``TaskRunnerEventsListener``. The dispatcher calls listeners in registration order on
the thread (or event loop) that publishes; a listener that raises is logged with its traceback and
skipped, and never disturbs the worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from ._events import (
    PollCompleted,
    PollFailure,
    PollStarted,
    TaskExecutionCompleted,
    TaskExecutionFailure,
    TaskExecutionStarted,
    TaskRunnerEvent,
    TaskUpdateFailure,
)

__all__ = ["LISTENER_METHODS", "SyncEventDispatcher", "TaskRunnerEventsListener"]

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
