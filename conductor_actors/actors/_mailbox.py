"""Mailboxes, the one queue in front of an actor (or of every member of a pool), and
``ActorRef``, the handle through which everybody else puts messages into it.

Two mailboxes implement the cell's ``Mailbox`` seam; both are unbounded:

- ``ThreadMailbox``: on ``queue.SimpleQueue`` (no lock besides the queue's own);
- ``LoopMailbox``: for an asyncio actor; a deque read by the actor's task. A sender on the actor's
  own loop appends directly. Other threads append to an inbound deque and wake the loop with
  ``loop.call_soon_threadsafe`` (one wake-up covers every message sent before it runs, so a burst
  costs one wake-up, not one per message); each sender's order is kept.

Life cycle: open -> ``close()`` (puts raise ``MailboxClosed``; what is queued is still delivered)
-> ``finish()`` (the receiver is gone: puts raise ``ActorDeadError``; whatever is still queued is
rejected: every ask is answered with ``ActorDeadError``, tells are counted and dropped).

Send methods and every ``ActorRef`` method may be called from any thread; ``get``/``wait`` run on
the receiver's thread or loop; ``finish`` runs once, on the thread or loop of the last receiver to
stop.
"""

from __future__ import annotations

import logging
import math
import queue
from collections import deque
from typing import TYPE_CHECKING, Any

from ._actor import (
    ActorDeadError,
    Cell,
    Mailbox,
    MailboxClosed,
    _BlockingAsk,
    _LoopAsk,
    _reject,
    _settle,
    _settle_threadsafe,
)

if TYPE_CHECKING:
    import asyncio

__all__ = ["ActorRef", "LoopMailbox", "ThreadMailbox"]

_log = logging.getLogger("conductor_actors.actors")


def _refusal(name: str, gone: bool) -> ActorDeadError:
    if gone:
        return ActorDeadError(f"actor {name!r} is stopped")
    return MailboxClosed(f"actor {name!r} is stopping and takes no new messages")


def _log_late_drops(name: str, count: int) -> None:
    if count:
        _log.debug("actor %s: dropped %d message(s) that arrived while it stopped", name, count)


class ThreadMailbox:
    """Unbounded mailbox for thread actors; ``get`` blocks the receiving thread."""

    __slots__ = ("_queue", "closed", "gone", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False
        self.gone = False
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def put(self, item: Any) -> None:
        """Enqueue ``item`` (any thread). Raises MailboxClosed / ActorDeadError when refused."""
        if self.closed:
            raise _refusal(self.name, self.gone)
        self._queue.put(item)
        if self.gone:
            # The receiver finished between the check and the put: nobody else will look.
            _log_late_drops(self.name, self._drain())

    def put_control(self, item: Any) -> None:
        """Enqueue a kernel control item even when closed; ignored once the receiver is gone."""
        if not self.gone:
            self._queue.put(item)
            if self.gone:
                _log_late_drops(self.name, self._drain())

    def get(self) -> Any:
        """Block the receiving thread until an item is available and return it."""
        return self._queue.get()

    def close(self) -> None:
        self.closed = True

    def finish(self) -> int:
        """Mark the receiver gone, reject what is queued; return the number of dropped tells."""
        self.closed = True
        self.gone = True
        return self._drain()

    def depth(self) -> int:
        return self._queue.qsize()

    def _drain(self) -> int:
        items = []
        get = self._queue.get_nowait
        try:
            while True:
                items.append(get())
        except queue.Empty:
            pass
        return _reject(items, self.name)


class LoopMailbox:
    """Mailbox of an asyncio actor: read by one task on ``loop``, written from anywhere."""

    __slots__ = ("_inbound", "_loop", "_running_loop", "_waiter", "_wake_pending", "closed", "gone", "items", "name")

    def __init__(self, name: str, loop: asyncio.AbstractEventLoop) -> None:
        self.name = name
        self.closed = False
        self.gone = False
        self.items: deque[Any] = deque()
        self._inbound: deque[Any] = deque()
        self._wake_pending = False
        self._loop = loop
        self._waiter: asyncio.Future[None] | None = None
        import asyncio  # only asyncio actors build this mailbox: thread-only processes never load asyncio

        self._running_loop = asyncio._get_running_loop

    def put(self, item: Any) -> None:
        if self.closed:
            raise _refusal(self.name, self.gone)
        self._send(item)

    def put_control(self, item: Any) -> None:
        if not self.gone:
            try:
                self._send(item)
            except ActorDeadError:
                pass  # loop closed: the actor cannot run any more anyway

    def _send(self, item: Any) -> None:
        if self._running_loop() is self._loop:
            self._append(item)
            return
        # Append first, then look at the flag; the loop clears the flag before it drains. So a
        # message is either drained by a wake-up already under way or schedules its own.
        self._inbound.append(item)
        if self._wake_pending:
            return
        self._wake_pending = True
        try:
            self._loop.call_soon_threadsafe(self._take_inbound)
        except RuntimeError as exc:  # the loop is closed
            self._wake_pending = False
            raise ActorDeadError(f"actor {self.name!r}: its event loop is closed") from exc

    def _take_inbound(self) -> None:
        """Runs on the actor's loop: move what other threads sent into the mailbox, in order."""
        self._wake_pending = False
        inbound = self._inbound
        while inbound:
            self._append(inbound.popleft())

    def _append(self, item: Any) -> None:
        """Runs on the actor's loop."""
        if self.gone:
            _log_late_drops(self.name, _reject((item,), self.name))
            return
        self.items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> Any:
        """Wait (on the actor's loop) until an item is queued and return it."""
        items = self.items
        while not items:
            waiter = self._loop.create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
        return items.popleft()

    def close(self) -> None:
        self.closed = True

    def finish(self) -> int:
        """Runs on the actor's loop."""
        self.closed = True
        self.gone = True
        items = list(self.items)
        self.items.clear()
        while self._inbound:
            items.append(self._inbound.popleft())
        return _reject(items, self.name)

    def depth(self) -> int:
        return len(self.items) + len(self._inbound)


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
