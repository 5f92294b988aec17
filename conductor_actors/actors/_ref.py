"""``ActorRef``: the handle through which everybody else talks to an actor."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ._messages import _BlockingAsk, _LoopAsk, _settle, _settle_threadsafe

if TYPE_CHECKING:
    import asyncio

    from ._cell import Cell
    from ._mailbox import Mailbox

__all__ = ["ActorRef"]


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
