"""The parent's actors and the routing of what children send to them.

Users pass their own actors to ``TaskHandler(actors=[...])``: ``ThreadActor`` subclasses (or a
``functools.partial`` of one) that declare which events they want in a ``subscriptions`` class
attribute. They run under an ``ActorSupervisor``: an actor that raises is restarted as a fresh
instance behind the same ref, and can never take the supervisor down. Children forward exactly the
subscribed event types; the supervisor thread routes each to its subscribers with a ``tell``.

Built-in parent actors (metrics, recovery) plug in through ``sinks``.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .actors import ActorRef, ActorSupervisor, RestartPolicy, ThreadActor
from .events import TaskRunnerEvent
from .runtime import EventBatch, UndeliveredResult
from .supervision import ChildStatus

__all__ = ["ParentActors", "ParentSink", "actor_subscriptions"]

_log = logging.getLogger("conductor_actors.handler")


class ParentSink(Protocol):
    """A built-in parent-side consumer (metrics, recovery). ``start`` runs on the caller's thread
    (its errors stop the start-up); the ``on_*`` methods run on the supervisor thread and must only
    hand the data to an actor. ``on_undelivered`` returns True when the sink keeps the result."""

    def start(self, supervisor: ActorSupervisor) -> None: ...

    def close(self) -> None: ...

    def on_batch(self, status: ChildStatus, batch: EventBatch) -> None: ...

    def on_undelivered(self, status: ChildStatus, message: UndeliveredResult) -> bool: ...

    def on_child_state(self, status: ChildStatus) -> None: ...


def _is_asyncio_actor_class(target: Any) -> bool:
    """Without importing asyncio: a class can only subclass AsyncioActor once its module is loaded."""
    module = sys.modules.get("conductor_actors.actors")
    return module is not None and isinstance(target, type) and issubclass(target, module.AsyncioActor)


def actor_subscriptions(item: Any) -> tuple[type[TaskRunnerEvent], ...]:
    """The event classes a user actor (class or partial) subscribed to; raises TypeError/ValueError
    naming the actor when it is not something the parent can run."""
    target = item.func if isinstance(item, functools.partial) else item
    label = getattr(target, "__qualname__", repr(target))
    if _is_asyncio_actor_class(target):
        raise TypeError(f"actor {label}: parent-side actors run on threads; subclass ThreadActor")
    if not (isinstance(target, type) and issubclass(target, ThreadActor)):
        if isinstance(target, ThreadActor):
            raise TypeError(
                f"actor {label}: pass the actor class (or functools.partial of it), not an instance: "
                "a failed actor is restarted as a fresh instance"
            )
        raise TypeError(f"actor {label!s}: expected a ThreadActor subclass or a functools.partial of one")
    subscriptions = getattr(target, "subscriptions", ())
    if isinstance(subscriptions, type):
        subscriptions = (subscriptions,)
    subscriptions = tuple(subscriptions)
    for cls in subscriptions:
        if not (isinstance(cls, type) and issubclass(cls, TaskRunnerEvent) and cls is not TaskRunnerEvent):
            raise ValueError(f"actor {label}: subscriptions must be task-runner event classes, got {cls!r}")
    if not subscriptions:
        raise ValueError(f"actor {label}: declare the events it receives, e.g. subscriptions = (TaskUpdateFailure,)")
    return subscriptions


class ParentActors:
    """Starts, routes to and stops the parent's actors.

    Args:
        user_actors: ThreadActor subclasses (or partials) with ``subscriptions``.
        sinks: built-in consumers (metrics, recovery), called in order.
        policy: restart policy for user actors.
    """

    def __init__(
        self,
        user_actors: Sequence[Any] = (),
        *,
        sinks: Sequence[ParentSink] = (),
        policy: RestartPolicy | None = None,
    ) -> None:
        self._user = [(item, actor_subscriptions(item)) for item in user_actors]
        self._sinks = list(sinks)
        self._policy = policy
        self._supervisor: ActorSupervisor | None = None
        self._routes: dict[type[TaskRunnerEvent], list[ActorRef]] = {}

    def forward_event_types(self) -> tuple[str, ...]:
        """Names of the event classes children must forward (what some actor subscribed to)."""
        return tuple(sorted({cls.__name__ for _, subs in self._user for cls in subs}))

    def start(self, on_give_up: Callable[[ActorRef, BaseException], None] | None = None) -> None:
        """Start the built-in sinks (in order), then the user actors. A sink that cannot start
        (a port in use...) stops what was started and raises: no half-started parent."""
        if self._supervisor is not None:
            return
        self._supervisor = ActorSupervisor(self._policy, name="parent-actors", on_give_up=on_give_up)
        started: list[ParentSink] = []
        try:
            for sink in self._sinks:
                sink.start(self._supervisor)
                started.append(sink)
        except BaseException:
            self._supervisor.stop_all(10.0)
            self._supervisor = None  # a later start() starts everything afresh
            for sink in reversed(started):
                sink.close()
            raise
        for item, subscriptions in self._user:
            target = item.func if isinstance(item, functools.partial) else item
            ref = self._supervisor.start_child(item, name=target.__name__)
            for cls in subscriptions:
                self._routes.setdefault(cls, []).append(ref)
        if self._user:
            _log.info("parent actors: %s", ", ".join(
                f"{(i.func if isinstance(i, functools.partial) else i).__name__} <- "
                + "/".join(c.__name__ for c in subs) for i, subs in self._user
            ))

    def route(self, status: ChildStatus, message: object) -> None:
        """Supervisor thread: hand a child's message to whoever wants it."""
        if isinstance(message, EventBatch):
            for sink in self._sinks:
                sink.on_batch(status, message)
            for event in message.events:
                for ref in self._routes.get(type(event), ()):
                    try:
                        ref.tell(event)
                    except Exception as exc:  # an actor that gave up or is restarting: the event is dropped
                        _log.debug("event %s not delivered to %s: %s", type(event).__name__, ref.name, exc)
        elif isinstance(message, UndeliveredResult) and not self._keep_undelivered(status, message):
            _log.error(
                "the result of %s task %s (workflow %s) could not be delivered (%s) and recovery is off",
                message.task_type, message.result.task_id, message.result.workflow_instance_id, message.cause,
            )

    def _keep_undelivered(self, status: ChildStatus, message: UndeliveredResult) -> bool:
        """Offer the result to each sink until one keeps it (the outbox keeps every result it is
        offered, even while its actor restarts); False when none did, i.e. recovery is off. A sink
        that raises is logged and the next one is asked."""
        for sink in self._sinks:
            try:
                if sink.on_undelivered(status, message):
                    return True
            except Exception:
                _log.exception("%s failed to take the result of task %s", type(sink).__name__,
                               message.result.task_id)
        return False

    def child_state(self, status: ChildStatus) -> None:
        for sink in self._sinks:
            sink.on_child_state(status)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every actor in reverse start order (user actors, then the sinks' actors: metrics
        last), then close the sinks."""
        if self._supervisor is not None:
            stuck = self._supervisor.stop_all(timeout)
            if stuck:
                _log.warning("parent actors did not stop in time: %s", ", ".join(stuck))
            for sink in reversed(self._sinks):
                sink.close()
