"""Mailboxes, the one queue in front of an actor (or of every member of a pool), the kernel's own
items that travel in them, and the errors of a message a mailbox refuses.

Two mailboxes implement the ``Mailbox`` seam (what a cell and its refs need); both are unbounded:

- ``ThreadMailbox``: on ``queue.SimpleQueue`` (no lock besides the queue's own);
- ``LoopMailbox``: for an asyncio actor; a deque read by the actor's task. A sender on the actor's
  own loop appends directly. Other threads append to an inbound deque and wake the loop with
  ``loop.call_soon_threadsafe`` (one wake-up covers every message sent before it runs, so a burst
  costs one wake-up, not one per message); each sender's order is kept.

A ``tell`` puts the user's message into the mailbox as it is (no wrapper). Only an ``ask`` needs
an envelope, which carries the message and the way back to the caller; ``_STOP`` is the stop
request. Both derive from ``_Control`` so the receive loop tells them apart from user messages
with one ``isinstance`` check. They never leave the kernel.

Life cycle: open -> ``close()`` (puts raise ``MailboxClosed``; what is queued is still delivered)
-> ``finish()`` (the receiver is gone: puts raise ``ActorDeadError``; whatever is still queued is
rejected: every ask is answered with ``ActorDeadError``, tells are counted and dropped).

Exception tree::

    RuntimeError
     +-- ActorDeadError        the actor has stopped (or died); the message was not delivered
          +-- MailboxClosed    the actor is stopping: its mailbox takes no new messages, while the
                               messages already queued are still processed

Send methods may be called from any thread; ``get``/``wait`` run on the receiver's thread or loop;
``finish`` runs once, on the thread or loop of the last receiver to stop. An ask envelope is
resolved exactly once, by the thread or loop that handled or rejected its message. This module
imports nothing else of the kernel: the running side (``_actor``) builds on it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import asyncio

__all__ = ["ActorDeadError", "LoopMailbox", "Mailbox", "MailboxClosed", "ThreadMailbox"]

_log = logging.getLogger("conductor_actors.actors")


# -- errors ---------------------------------------------------------------------------------------


class ActorDeadError(RuntimeError):
    """The actor is not running: a message sent to it was not (and will not be) handled."""


class MailboxClosed(ActorDeadError):
    """The actor's mailbox is closed (the actor is stopping); the message was not accepted.

    A subclass of ``ActorDeadError`` so one ``except ActorDeadError`` covers "stopping" and
    "stopped".
    """


# -- what the kernel puts into a mailbox ----------------------------------------------------------


class _Control:
    """Base of the kernel's own mailbox items."""

    __slots__ = ()


class _Stop(_Control):
    __slots__ = ()

    def __repr__(self) -> str:
        return "<stop>"


#: The stop request: everything queued before it is handled first.
_STOP = _Stop()


class _Ask(_Control):
    """An envelope for ``ask``: the message plus the way back to the waiting caller.

    ``resolve`` is called exactly once, by the thread or loop that handled (or rejected) the
    message.
    """

    __slots__ = ("message",)

    def __init__(self, message: Any) -> None:
        self.message = message

    def resolve(self, value: Any, error: BaseException | None) -> None:
        raise NotImplementedError


class _BlockingAsk(_Ask):
    """Answer for a caller blocked in ``ask``: a pre-acquired lock released on resolve."""

    __slots__ = ("_done", "error", "value")

    def __init__(self, message: Any) -> None:
        super().__init__(message)
        self._done = threading.Lock()
        self._done.acquire()
        self.value: Any = None
        self.error: BaseException | None = None

    def resolve(self, value: Any, error: BaseException | None) -> None:
        self.value = value
        self.error = error
        self._done.release()

    def wait(self, timeout: float | None) -> bool:
        """Block the calling thread until resolved; False when ``timeout`` elapsed first."""
        return self._done.acquire(timeout=-1 if timeout is None else timeout)


class _LoopAsk(_Ask):
    """Answer for a coroutine awaiting ``ask_async``: a future on the caller's event loop."""

    __slots__ = ("future",)

    def __init__(self, message: Any, future: asyncio.Future[Any]) -> None:
        super().__init__(message)
        self.future = future

    def resolve(self, value: Any, error: BaseException | None) -> None:
        _settle_threadsafe(self.future, value, error)


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    """Complete ``future`` unless the caller already gave up (timeout or cancellation)."""
    if future.done():
        return
    if error is None:
        future.set_result(value)
    else:
        future.set_exception(error)


def running_here(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the calling thread is running ``loop`` right now (any thread may ask)."""
    import asyncio  # loaded already: the caller holds a loop

    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:  # this thread runs no event loop
        return False


def _settle_threadsafe(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    """``_settle`` from any thread: at once on the future's own loop, else through that loop."""
    loop = future.get_loop()
    if running_here(loop):
        _settle(future, value, error)
        return
    try:
        loop.call_soon_threadsafe(_settle, future, value, error)
    except RuntimeError:
        pass  # the waiting loop is closed: nobody is waiting any more


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


# -- the mailboxes --------------------------------------------------------------------------------


class Mailbox(Protocol):
    """What a cell and its refs need from a mailbox: the seam that ``ThreadMailbox`` and
    ``LoopMailbox`` implement, one per flavour."""

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

    __slots__ = ("_inbound", "_loop", "_waiter", "_wake_pending", "closed", "gone", "items", "name")

    def __init__(self, name: str, loop: asyncio.AbstractEventLoop) -> None:
        self.name = name
        self.closed = False
        self.gone = False
        self.items: deque[Any] = deque()
        self._inbound: deque[Any] = deque()
        self._wake_pending = False
        self._loop = loop
        self._waiter: asyncio.Future[None] | None = None

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
        if running_here(self._loop):
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
