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

# Plain imports: none of these modules imports asyncio at module level (sync worker processes run
# thread actors only), so AsyncioActor is exported like the rest.
from ._actor import Actor, ActorFailed, ActorRef
from ._flavours import ActorPool, AsyncioActor, ThreadActor
from ._mailbox import ActorDeadError, MailboxClosed
from ._supervisor import ActorSupervisor, RestartIntensity, RestartPolicy, restart_backoff
from ._timers import LoopDeadlines, ManualTimerService, ThreadTimerService, TimerHandle, TimerService

__all__ = [
    "Actor",
    "ActorDeadError",
    "ActorFailed",
    "ActorPool",
    "ActorRef",
    "ActorSupervisor",
    "AsyncioActor",
    "LoopDeadlines",
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
