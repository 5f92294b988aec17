"""Messages of the actor kernel: the public ``ActorFailed`` notice and the private envelopes.

A ``tell`` puts the user's message into the mailbox as it is (no wrapper). Only an ``ask`` needs
an envelope, which carries the message and the way back to the caller; ``_STOP`` is the stop
request. Both derive from ``_Control`` so the receive loop tells them apart from user messages
with one ``isinstance`` check.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

    from ._ref import ActorRef

__all__ = ["ActorFailed"]


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


def _settle_threadsafe(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    """``_settle`` from any thread: at once on the future's own loop, else through that loop."""
    import asyncio  # loaded already: the future was made by a coroutine

    loop = future.get_loop()
    if asyncio._get_running_loop() is loop:
        _settle(future, value, error)
        return
    try:
        loop.call_soon_threadsafe(_settle, future, value, error)
    except RuntimeError:
        pass  # the waiting loop is closed: nobody is waiting any more
