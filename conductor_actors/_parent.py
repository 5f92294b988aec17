"""The parent's actors, the routing of what children send to them, and the start-up check.

Users pass their own actors to ``TaskHandler(actors=[...])``: ``ThreadActor`` subclasses (or a
``functools.partial`` of one) that declare which events they want in a ``subscriptions`` class
attribute. They run under an ``ActorSupervisor``: an actor that raises is restarted as a fresh
instance behind the same ref, and can never take the supervisor down. Children forward exactly the
subscribed event types; the supervisor thread routes each to its subscribers with a ``tell``.

Built-in parent actors (metrics, recovery) plug in through ``sinks``.

The start-up check makes one request to the Conductor server when the workers start, on a daemon
thread of its own, and logs one clear line when it shows that nothing can work (wrong URL, refused
credentials, unreachable host). The workers do not wait for it and keep retrying whatever it
finds: the server may come up later, and their own poll failures (``/ready``, the ``polling for
... failed`` lines) tell when it does. The request is ``GET <root>/tasks/queue/size`` for one
worker's task type: an endpoint of the worker API that takes no task, so the check never moves
work.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .actors import ActorRef, ActorSupervisor, AsyncioActor, RestartPolicy, ThreadActor
from .client import (
    AuthorizationError,
    ConductorClient,
    ConductorError,
    ConductorHTTPError,
    ConductorTransportError,
    InvalidResponseError,
)
from .events import TaskRunnerEvent
from .runtime import EventBatch, UndeliveredResult
from .supervision import ChildStatus

__all__ = [
    "ParentActors",
    "ParentSink",
    "actor_subscriptions",
    "check_server",
    "describe_server_problem",
    "start_server_check",
]

_log = logging.getLogger("conductor_actors.handler")
_startup_log = logging.getLogger("conductor_actors.startup")


class ParentSink(Protocol):
    """A built-in parent-side consumer (metrics, recovery). ``start`` runs on the caller's thread
    (its errors stop the start-up); the ``on_*`` methods run on the supervisor thread and must only
    hand the data to an actor. ``on_undelivered`` returns True when the sink keeps the result."""

    def start(self, supervisor: ActorSupervisor) -> None: ...

    def close(self) -> None: ...

    def on_batch(self, status: ChildStatus, batch: EventBatch) -> None: ...

    def on_undelivered(self, status: ChildStatus, message: UndeliveredResult) -> bool: ...

    def on_child_state(self, status: ChildStatus) -> None: ...


def _actor_target(item: Any) -> Any:
    """What a user actor item names: the class itself, or the class inside a ``functools.partial``."""
    return item.func if isinstance(item, functools.partial) else item


def actor_subscriptions(item: Any) -> tuple[type[TaskRunnerEvent], ...]:
    """The event classes a user actor (class or partial) subscribed to; raises TypeError/ValueError
    naming the actor when it is not something the parent can run."""
    target = _actor_target(item)
    label = getattr(target, "__qualname__", repr(target))
    if isinstance(target, type) and issubclass(target, AsyncioActor):
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
            ref = self._supervisor.start_child(item, name=_actor_target(item).__name__)
            for cls in subscriptions:
                self._routes.setdefault(cls, []).append(ref)
        if self._user:
            _log.info("parent actors: %s", ", ".join(
                f"{_actor_target(i).__name__} <- "
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


# --- the start-up check of the server ---


def describe_server_problem(exc: BaseException, url: str, has_credentials: bool) -> str:
    """The one line for what the check call raised: names the URL called and the likely fix."""
    called = f"{url}/tasks/queue/size"
    without_api = not url.rstrip("/").endswith("/api")
    if isinstance(exc, AuthorizationError) or (isinstance(exc, ConductorHTTPError) and exc.status in (401, 403)):
        status = getattr(exc, "status", "?")
        if has_credentials:
            return (f"the Conductor server at {url} refused the credentials ({status}): check "
                    "CONDUCTOR_AUTH_KEY and CONDUCTOR_AUTH_SECRET (the application key and its secret) and that "
                    "the application may poll these tasks")
        return (f"the Conductor server at {url} requires credentials ({status}) and none are set: set "
                "CONDUCTOR_AUTH_KEY and CONDUCTOR_AUTH_SECRET")
    if isinstance(exc, ConductorHTTPError) and exc.status == 404:
        if without_api:
            hint = f"the server URL must be the API root, which usually ends in /api (try {url.rstrip('/')}/api)"
        else:
            hint = "check the host and port: this server has no Conductor worker API there"
        return f"GET {called} answered 404 Not Found: {hint}"
    if isinstance(exc, InvalidResponseError) and without_api and "HTML" in str(exc):
        # A UI's address (the Conductor UI, Orkes Cloud) answers every path with its web page.
        return (f"GET {called} answered a web page, not the worker API: the server URL must be the API root, "
                f"which usually ends in /api (try {url.rstrip('/')}/api)")
    if isinstance(exc, ConductorTransportError):
        text = str(exc)
        if url.startswith("https://") and "SSL" in text and "CERTIFICATE" not in text:
            # Most often a plain-HTTP port: its answer to the handshake is not TLS.
            return (f"cannot reach the Conductor server at {url}: the TLS handshake failed ({exc}); if the "
                    f"server speaks plain HTTP, use http://{url[len('https://'):]}")
        return f"cannot reach the Conductor server at {url}: {exc}"
    if isinstance(exc, ConductorHTTPError):
        return f"GET {called} answered {exc.status}: {exc}"
    return f"the Conductor server at {url} gave an answer the workers cannot use: {type(exc).__name__}: {exc}"


def check_server(configuration: Any, task_type: str, domain: str | None = None) -> str | None:
    """Call the server once; returns the problem line, or None when it answered. Blocks the
    calling thread for at most the client's timeouts; never raises for what the server does."""
    url = configuration.server_api_url
    client = ConductorClient(configuration)
    try:
        client.get_queue_size(task_type, domain)
    except ConductorError as exc:
        return describe_server_problem(exc, url, configuration.authentication_settings is not None)
    finally:
        client.close()
    return None


def start_server_check(configuration: Any, task_type: str, domain: str | None = None) -> threading.Thread:
    """Run ``check_server`` on a daemon thread and log its outcome: the problem at ERROR (workers
    keep retrying), or a DEBUG line. Returns the thread (tests join it)."""

    def run() -> None:
        try:
            problem = check_server(configuration, task_type, domain)
        except Exception as exc:  # a bug here must not disturb the workers
            _startup_log.debug("the start-up check of the Conductor server failed: %r", exc)
            return
        if problem is None:
            _startup_log.debug("the Conductor server at %s answers", configuration.server_api_url)
        else:
            _startup_log.error("%s; the workers keep retrying", problem)

    thread = threading.Thread(target=run, name="server-check", daemon=True)
    thread.start()
    return thread
