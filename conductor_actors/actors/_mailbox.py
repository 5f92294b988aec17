"""Mailboxes: the one queue in front of an actor (or of every member of a pool).

Two implementations share one small interface, the seam between the flavours; both are
unbounded:

- ``ThreadMailbox``: on ``queue.SimpleQueue`` (no lock besides the queue's own);
- ``LoopMailbox``: for an asyncio actor; a deque read by the actor's task. A sender on the actor's
  own loop appends directly. Other threads append to an inbound deque and wake the loop with
  ``loop.call_soon_threadsafe`` (one wake-up covers every message sent before it runs, so a burst
  costs one wake-up, not one per message); each sender's order is kept.

Life cycle: open -> ``close()`` (puts raise ``MailboxClosed``; what is queued is still delivered)
-> ``finish()`` (the receiver is gone: puts raise ``ActorDeadError``; whatever is still queued is
rejected: every ask is answered with ``ActorDeadError``, tells are counted and dropped).

Send methods may be called from any thread; ``get``/``wait`` run on the receiver's thread or
loop; ``finish`` runs once, on the thread or loop of the last receiver to stop.
"""

from __future__ import annotations

import logging
import queue
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from ._errors import ActorDeadError, MailboxClosed
from ._messages import _Ask, _Control

if TYPE_CHECKING:
    import asyncio

__all__ = ["LoopMailbox", "Mailbox", "ThreadMailbox"]

_log = logging.getLogger("conductor_actors.actors")


class Mailbox(Protocol):
    """What an actor cell and its refs need from a mailbox (private seam)."""

    name: str
    closed: bool

    def put(self, item: Any) -> None: ...

    def put_control(self, item: Any) -> None: ...

    def close(self) -> None: ...

    def finish(self) -> int: ...

    def depth(self) -> int: ...


def _refusal(name: str, gone: bool) -> ActorDeadError:
    if gone:
        return ActorDeadError(f"actor {name!r} is stopped")
    return MailboxClosed(f"actor {name!r} is stopping and takes no new messages")


def _reject(items: Iterable[Any], name: str) -> int:
    """Answer every ask in ``items`` with ActorDeadError; return how many tells were dropped."""
    dropped = 0
    for item in items:
        if isinstance(item, _Control):
            if isinstance(item, _Ask):
                item.resolve(None, ActorDeadError(f"actor {name!r} stopped before it handled the message"))
        else:
            dropped += 1
    return dropped


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
