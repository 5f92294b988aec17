"""The running side of the kernel: the ``Actor`` base with its hooks, the running cell, the
``ActorRef`` handle to it, and the ``ActorFailed`` notice.

Users subclass ``ThreadActor`` (one thread per actor) or ``AsyncioActor`` (one task on an event
loop), override the hooks they need and start the actor with ``MyActor.start(...)``, which returns
an ``ActorRef``. An actor handles one message at a time, so its state needs no lock.

A ``Cell`` is the running side of one actor or pool: one mailbox and one or more members (actor
instances; more than one for a pool). Each member runs the receive loop of its flavour
(``_flavours``); what they share lives here:

- stopping: ``request_stop`` (a stop message per member, then the mailbox closes) and ``halt``
  (stop after the current message: ``stop_self``, a failure);
- answering an ask, failure bookkeeping and logging;
- the end: when the last member is out, ``_finish`` rejects what is still queued (every ask gets
  ``ActorDeadError``; tells are dropped with one DEBUG line counting them), tells the owner
  ``ActorFailed`` when the actor failed, then marks the cell dead and wakes joiners.

An ``ActorRef`` wraps the cell: everybody but the actor itself reaches the actor through it. It
lives next to the cell because each points at the other (a supervised actor's ref is re-bound to
the fresh cell of each restart). The mailboxes, the ask envelopes and the errors of a refused
message (``ActorDeadError``, ``MailboxClosed``) are ``_mailbox``'s, which this module builds on;
``ask`` also raises the builtin ``TimeoutError`` when no answer arrives in time.

Methods say which thread may call them.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._mailbox import (
    _STOP,
    ActorDeadError,
    Mailbox,
    _Ask,
    _BlockingAsk,
    _LoopAsk,
    _reject,
    _settle,
    _settle_threadsafe,
)
from ._timers import TimerHandle, TimerService

if TYPE_CHECKING:
    import asyncio

__all__ = ["Actor", "ActorFailed", "ActorRef", "Cell"]

_log = logging.getLogger("conductor_actors.actors")


# -- messages -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActorFailed:
    """Told to an actor's owner when that actor failed and is now stopped.

    ``exception`` is what ``on_start`` or ``on_receive`` (handling a ``tell``) raised, or the
    BaseException (e.g. SystemExit) that ended it. The notice is queued at the owner before the
    failed actor counts as stopped, so once ``join()`` returns the owner has it. An owner that
    supervises decides what to do, e.g. start a fresh instance.
    """

    actor: ActorRef
    exception: BaseException


# -- the running cell -----------------------------------------------------------------------------


class Cell:
    """State of one running actor or pool (private; refs and actors point at it).

    A flavour subclasses it with ``launch`` and the checks against blocking on oneself.
    """

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

    def launch(self) -> None:
        """Caller's thread: start running the members (threads, or a task on the loop)."""
        raise NotImplementedError

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

    def answer(self, ask: _Ask, receive: Callable[[Any], Any]) -> None:
        """Handle ``ask`` with a plain (not async) ``receive`` and resolve it."""
        try:
            result = receive(ask.message)
        except BaseException as exc:
            self.ask_failed(ask, exc)
            return
        ask.resolve(result, None)

    def ask_failed(self, ask: _Ask, exc: BaseException) -> None:
        """``on_receive`` raised ``exc`` for ``ask``. An Exception is the asker's answer and the
        actor lives on; anything else ends the actor: the asker gets ``ActorDeadError`` and ``exc``
        is raised again, out of the member."""
        if isinstance(exc, Exception):
            ask.resolve(None, exc)
            return
        error = ActorDeadError(f"actor {self.name!r} ended by {type(exc).__name__} while handling the message")
        error.__cause__ = exc
        ask.resolve(None, error)
        raise exc

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
            self.log_hook_error(hook)

    def log_hook_error(self, hook: Callable[..., Any]) -> None:
        """Called in the ``except`` of a clean-up hook that raised."""
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


# -- the handle -----------------------------------------------------------------------------------


def _check_timeout(timeout: float | None) -> None:
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or math.isnan(timeout) or timeout < 0:
        raise ValueError(f"timeout must be None or a number of seconds >= 0, got {timeout!r}")


class ActorRef:
    """A thread-safe handle to a running actor or pool; obtained from ``start()``.

    Every method may be called from any thread. The blocking ones (``ask``, ``join``,
    ``stop(block=True)``) raise RuntimeError instead of deadlocking when called
    from the actor's own thread or event loop; coroutines use the ``*_async`` twins.

    A supervised actor keeps its ref across restarts: the ref then reaches the new instance.
    """

    __slots__ = ("__weakref__", "_cell", "_mailbox", "_stop_requested", "name")

    def __init__(self, cell: Cell) -> None:
        self.name = cell.name
        self._stop_requested = False
        self._bind(cell)

    def _bind(self, cell: Cell) -> None:
        """Point this ref at ``cell`` (a new actor, or a supervised actor's fresh instance)."""
        self._cell = cell
        self._mailbox: Mailbox = cell.mailbox
        cell.ref = self

    def tell(self, message: Any) -> None:
        """Queue ``message`` for the actor and return at once (fire and forget).

        Raises ``MailboxClosed`` while the actor is stopping, ``ActorDeadError`` once it stopped.
        """
        self._mailbox.put(message)

    def ask(self, message: Any, timeout: float | None = None) -> Any:
        """Send ``message`` and block until the actor's ``on_receive`` returns; return its result.

        Raises what ``on_receive`` raised (the actor lives on), ``ActorDeadError`` if the actor
        is or becomes stopped before handling it, or ``TimeoutError`` after ``timeout`` seconds
        (the message stays queued and its answer is discarded).
        """
        _check_timeout(timeout)
        self._cell.check_blocking_allowed()
        envelope = _BlockingAsk(message)
        self._mailbox.put(envelope)
        if not envelope.wait(timeout):
            raise TimeoutError(f"actor {self.name!r} did not answer within {timeout} s")
        if envelope.error is not None:
            raise envelope.error
        return envelope.value

    async def ask_async(self, message: Any, timeout: float | None = None) -> Any:
        """``ask`` for a coroutine: waits on the caller's event loop without blocking it."""
        import asyncio  # loaded already: called from a coroutine

        _check_timeout(timeout)
        self._cell.check_async_allowed()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._mailbox.put(_LoopAsk(message, future))
        if timeout is None:
            return await future
        expiry = loop.call_later(timeout, self._expire, future, timeout)
        try:
            return await future
        finally:
            expiry.cancel()

    def _expire(self, future: asyncio.Future[Any], timeout: float) -> None:
        _settle(future, None, TimeoutError(f"actor {self.name!r} did not answer within {timeout} s"))

    def stop(self, timeout: float | None = None, block: bool = True) -> None:
        """Ask the actor to stop after every message queued before this call.

        The stop is a message; its mailbox closes at once (later sends raise ``MailboxClosed``).
        With ``block``, wait until it stopped; raises ``TimeoutError`` if that takes longer than
        ``timeout`` seconds. Stopping a stopped actor does nothing.
        """
        _check_timeout(timeout)
        cell = self._cell
        if block:
            cell.check_blocking_allowed()
        self._stop_requested = True
        cell.request_stop()
        if block and not cell.wait_dead(timeout):
            raise TimeoutError(f"actor {self.name!r} did not stop within {timeout} s")

    async def stop_async(self, timeout: float | None = None) -> None:
        """``stop`` for a coroutine: request the stop, then await the end without blocking."""
        _check_timeout(timeout)
        self._cell.check_async_allowed()
        self._stop_requested = True
        self._cell.request_stop()
        if not await self.join_async(timeout):
            raise TimeoutError(f"actor {self.name!r} did not stop within {timeout} s")

    def is_alive(self) -> bool:
        """True until the actor (every member of a pool) has stopped."""
        return not self._cell.is_dead()

    def join(self, timeout: float | None = None) -> bool:
        """Block until the actor stopped; False if ``timeout`` seconds passed first."""
        _check_timeout(timeout)
        cell = self._cell
        cell.check_blocking_allowed()
        return cell.wait_dead(timeout)

    async def join_async(self, timeout: float | None = None) -> bool:
        """``join`` for a coroutine; False if ``timeout`` seconds passed first."""
        import asyncio  # loaded already: called from a coroutine

        _check_timeout(timeout)
        cell = self._cell
        cell.check_async_allowed()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        cell.add_death_callback(lambda: _settle_threadsafe(future, True, None))
        if timeout is None:
            await future
            return True
        expiry = loop.call_later(timeout, _settle, future, False, None)
        try:
            return bool(await future)
        finally:
            expiry.cancel()

    def mailbox_depth(self) -> int:
        """How many messages wait in the actor's mailbox (a snapshot, for health reports)."""
        return self._mailbox.depth()

    def __repr__(self) -> str:
        return f"<ActorRef {self.name} {'alive' if self.is_alive() else 'stopped'}>"


# -- the base class -------------------------------------------------------------------------------


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
