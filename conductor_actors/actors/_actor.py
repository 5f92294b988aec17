"""``Actor``: the base class with the life-cycle hooks, common to both flavours.

Users subclass ``ThreadActor`` (one thread per actor) or ``AsyncioActor`` (one task on an event
loop), override the hooks they need and start the actor with ``MyActor.start(...)``, which returns
an ``ActorRef``. An actor handles one message at a time, so its state needs no lock.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from ._timers import TimerHandle, TimerService

if TYPE_CHECKING:
    from ._cell import Cell
    from ._ref import ActorRef

__all__ = ["Actor"]

_log = logging.getLogger("conductor_actors.actors")
_numbers = itertools.count(1)


class Actor:
    """Base of both flavours; do not subclass it directly.

    Hooks run on the actor's own thread (``ThreadActor``) or as its task on its event loop
    (``AsyncioActor``), one at a time, never concurrently with each other.
    """

    #: The handle to this actor; set before ``on_start`` runs.
    actor_ref: ActorRef
    _actor_cell: Cell

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> ActorRef:
        """Create an instance with ``args``/``kwargs`` and run it; see the flavour's ``start``."""
        raise TypeError(f"{cls.__qualname__}: subclass ThreadActor or AsyncioActor, not Actor")

    def on_start(self) -> Awaitable[None] | None:
        """Runs before the first message. Raising fails the actor: it stops, ``on_failure`` runs,
        and the owner receives ``ActorFailed`` (``start()`` has already returned).

        Like the other hooks, it may be ``async def`` in an ``AsyncioActor`` (not in a
        ``ThreadActor``)."""

    def on_receive(self, message: Any) -> Any:
        """Handle one message; the return value answers an ``ask``.

        An exception raised for an ``ask`` goes back to the asking caller and the actor lives on.
        Raised for a ``tell``, it is logged, ``on_failure`` runs, the actor stops, and its owner
        (if any) receives ``ActorFailed``. The base implementation logs a warning and returns None.
        """
        _log.warning(
            "actor %s has no on_receive; a %s message was ignored", self.actor_ref.name, type(message).__qualname__
        )
        return None

    def on_stop(self) -> Awaitable[None] | None:
        """Runs after a normal stop (``stop()`` or ``stop_self()``), not after a failure.
        An exception here is logged; the actor is stopped anyway."""

    def on_failure(self, exc: BaseException) -> Awaitable[None] | None:
        """Runs after ``on_start`` or a told ``on_receive`` raised ``exc``; then the actor is dead.
        An exception here is logged."""

    def send_after(self, delay: float, message: Any) -> TimerHandle:
        """Send ``message`` to this actor after ``delay`` seconds; ``.cancel()`` the handle to undo.

        A timer that comes due once the actor is stopping does nothing. In a pool the message goes
        to the pool's shared mailbox. Call it from the actor's own hooks.
        """
        cell = self._actor_cell
        return cell.timers.schedule(delay, cell.deliver_timer, message)

    def timer_now(self) -> float:
        """The current time, in seconds, on the clock that ``send_after`` delays count on."""
        return self._actor_cell.timers.now()

    def stop_self(self) -> None:
        """Stop after the current message: ``on_stop`` runs, messages still queued are not handled
        (asks among them get ``ActorDeadError``). In a pool, stops the whole pool."""
        self._actor_cell.halt()


def check_start_options(cls: type, owner: object, name: object, timers: object) -> str:
    """Validate the options every ``start`` takes; return the actor's name (given or made up)."""
    from ._ref import ActorRef

    if owner is not None and not isinstance(owner, ActorRef):
        raise TypeError(f"owner must be an ActorRef or None, not {type(owner).__name__}")
    if timers is not None and not isinstance(timers, TimerService):
        raise TypeError(f"timers must be a TimerService or None, not {type(timers).__name__}")
    if name is None:
        return f"{cls.__name__}-{next(_numbers)}"
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty str, got {name!r}")
    return name
