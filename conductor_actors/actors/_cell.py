"""The running side of an actor: its mailbox, members and life cycle, common to both flavours.

A cell has one mailbox and one or more members (actor instances; more than one for a pool). Each
member runs the receive loop of its flavour (``_thread_actor`` or ``_asyncio_actor``); what they
share lives here:

- stopping: ``request_stop`` (a stop message per member, then the mailbox closes) and ``halt``
  (stop after the current message: ``stop_self``, a failure);
- failure bookkeeping and logging;
- the end: when the last member is out, ``_finish`` rejects what is still queued (every ask gets
  ``ActorDeadError``; tells are dropped with one DEBUG line counting them), tells the owner
  ``ActorFailed`` when the actor failed, then marks the cell dead and wakes joiners.

Methods say which thread may call them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._errors import ActorDeadError
from ._mailbox import Mailbox, _reject
from ._messages import _STOP, ActorFailed
from ._timers import TimerService

if TYPE_CHECKING:
    from ._ref import ActorRef

_log = logging.getLogger("conductor_actors.actors")


class Cell:
    """State of one running actor or pool (private; refs and actors point at it)."""

    ref: ActorRef

    def __init__(
        self, name: str, mailbox: Mailbox, owner: ActorRef | None, timers: TimerService, members: int
    ) -> None:
        self.name = name
        self.mailbox = mailbox
        self.owner = owner
        self.timers = timers
        #: Set when the members must stop after their current message (stop_self, a failure).
        self.halting = False
        self._members = members
        self._members_left = members
        self._failure: BaseException | None = None
        self._dropped = 0
        self._stop_requested = False
        self._lock = threading.Lock()
        self._dead = threading.Event()
        self._death_callbacks: list[Callable[[], None]] = []

    # -- any thread ---------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Close the mailbox and queue one stop per member: queued messages are handled first."""
        with self._lock:
            if self._stop_requested:
                return
            self._stop_requested = True
        self.mailbox.close()
        for _ in range(self._members):
            self.mailbox.put_control(_STOP)

    def halt(self) -> None:
        """Stop every member after its current message; queued messages are rejected."""
        self.halting = True
        self.mailbox.close()
        for _ in range(self._members - 1):  # wake the members blocked waiting for a message
            self.mailbox.put_control(_STOP)

    def is_dead(self) -> bool:
        return self._dead.is_set()

    def wait_dead(self, timeout: float | None) -> bool:
        """Block the calling thread until every member stopped; False on timeout."""
        return self._dead.wait(timeout)

    def add_death_callback(self, callback: Callable[[], None]) -> None:
        """Run ``callback()`` once the cell is dead (now, on this thread, if it already is)."""
        with self._lock:
            if not self._dead.is_set():
                self._death_callbacks.append(callback)
                return
        callback()

    def deliver_timer(self, message: Any) -> None:
        """Timer callback: put ``message`` in the mailbox unless the actor is stopping."""
        try:
            self.mailbox.put(message)
        except ActorDeadError:
            _log.debug("actor %s: timer message %s dropped (actor stopping)", self.name, type(message).__qualname__)

    def check_blocking_allowed(self) -> None:
        """Raise RuntimeError when the caller would block the thread or loop this actor runs on."""
        raise NotImplementedError

    def check_async_allowed(self) -> None:
        """Raise RuntimeError when the awaiting coroutine is this actor's own receive loop."""

    # -- member threads / the actor's loop ----------------------------------------------------

    def record_failure(self, exc: BaseException, where: str) -> None:
        """A hook raised: log it, remember the first failure, halt the other members."""
        _log.error("actor %s failed in %s; stopping it", self.name, where, exc_info=exc)
        self._remember_failure(exc)
        self.halt()

    def record_abort(self, exc: BaseException) -> None:
        """A BaseException (KeyboardInterrupt, SystemExit) is ending a member: the actor ends."""
        _log.warning("actor %s ended by %s", self.name, type(exc).__name__)
        self._remember_failure(exc)
        self.halt()

    def record_cancel(self) -> None:
        """The actor's task was cancelled (its loop is going away): end without hooks or notice."""
        _log.debug("actor %s cancelled", self.name)
        self.halt()

    def _remember_failure(self, exc: BaseException) -> None:
        with self._lock:
            if self._failure is None:
                self._failure = exc

    def drop_taken(self, item: Any) -> None:
        """A member took ``item`` while halting: reject it (asks) or count it (tells)."""
        dropped = _reject((item,), self.name)
        if dropped:
            with self._lock:
                self._dropped += dropped

    def run_hook(self, hook: Callable[..., Any], *args: Any) -> None:
        """Call a clean-up hook (on_stop, on_failure, a callback); an Exception is logged, not raised."""
        try:
            hook(*args)
        except Exception:
            _log.exception("actor %s: %s raised", self.name, getattr(hook, "__name__", "hook"))

    def member_exited(self) -> None:
        """Called once by each member as it ends; the last one finishes the cell."""
        with self._lock:
            self._members_left -= 1
            last = self._members_left == 0
        if last:
            self._finish()

    def _finish(self) -> None:
        dropped = self.mailbox.finish() + self._dropped
        if dropped:
            _log.debug("actor %s stopped; dropped %d queued message(s)", self.name, dropped)
        failure = self._failure
        if failure is not None and self.owner is not None:
            # Before the cell is marked dead: once join() returns, the owner has its notice.
            try:
                self.owner._mailbox.put(ActorFailed(self.ref, failure))
            except ActorDeadError:
                _log.warning("actor %s failed but its owner %s is stopped", self.name, self.owner.name)
        with self._lock:
            self._dead.set()
            callbacks, self._death_callbacks = self._death_callbacks, []
        for callback in callbacks:
            self.run_hook(callback)


def ended_by(name: str, exc: BaseException) -> ActorDeadError:
    """The error an asker gets when a BaseException ended the actor during its message."""
    error = ActorDeadError(f"actor {name!r} ended by {type(exc).__name__} while handling the message")
    error.__cause__ = exc
    return error
