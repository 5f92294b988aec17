"""The actor kernel: mailboxes, actors with life-cycle hooks, pools, timers and supervision.

It knows nothing of Conductor. Two flavours share one API: ``ThreadActor`` (a thread per actor)
and ``AsyncioActor`` (a task on an event loop). An actor handles one message at a time; others
reach it only through its ``ActorRef``::

    from conductor_actors.actors import ThreadActor

    class Counter(ThreadActor):
        def on_start(self) -> None:          # runs on the actor's own thread
            self.total = 0

        def on_receive(self, message: int) -> int:
            self.total += message            # no lock needed: one message at a time
            return self.total

    counter = Counter.start(name="counter")
    counter.tell(2)                          # fire and forget
    assert counter.ask(3, timeout=5) == 5    # wait for the answer
    counter.stop()                           # after every message sent before it

Failures: an exception on an ``ask`` goes back to the caller; on a ``tell`` it stops the actor,
runs ``on_failure`` and tells the owner ``ActorFailed``. ``ActorSupervisor`` restarts failed
actors fresh with backoff and gives up past a restart intensity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._actor import Actor
from ._errors import ActorDeadError, MailboxClosed
from ._messages import ActorFailed
from ._ref import ActorRef
from ._restart import RestartIntensity, RestartPolicy, restart_backoff
from ._supervisor import ActorSupervisor
from ._thread_actor import ActorPool, ThreadActor
from ._timers import ManualTimerService, ThreadTimerService, TimerHandle, TimerService

if TYPE_CHECKING:
    from ._asyncio_actor import AsyncioActor

__all__ = [
    "Actor",
    "ActorDeadError",
    "ActorFailed",
    "ActorPool",
    "ActorRef",
    "ActorSupervisor",
    "AsyncioActor",
    "MailboxClosed",
    "ManualTimerService",
    "RestartIntensity",
    "RestartPolicy",
    "ThreadActor",
    "ThreadTimerService",
    "TimerHandle",
    "TimerService",
    "restart_backoff",
]


def __getattr__(name: str) -> Any:
    """``AsyncioActor`` loads on first use, so processes without event loops never import asyncio."""
    if name == "AsyncioActor":
        from ._asyncio_actor import AsyncioActor

        globals()[name] = AsyncioActor
        return AsyncioActor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
