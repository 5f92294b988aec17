"""Timers: deliver a message to an actor later, without a sleeping thread per timer.

- ``ThreadTimerService``: ONE thread per service, a heap of due times under a condition. Thread
  actors share the process-wide one (``default_timer_service()``), started on first use.
- The asyncio flavour uses its loop's ``call_later`` (a private service made per actor).
- ``LoopDeadlines``: many deadlines on one loop behind one ``call_at`` (request and task
  timeouts, which are nearly always cancelled before they are due).
- ``ManualTimerService``: no thread, no real time; ``advance(seconds)`` fires what became due, in
  due order, on the calling thread. Pass it as ``timers=`` to check schedules without waiting.

Every service hands out a ``TimerHandle``; ``cancel()`` before the due time means the callback
never runs. Callbacks run on the service's thread (or loop, or the thread calling ``advance``)
and must be quick; one that raises is logged and the service goes on.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._mailbox import running_here

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "LoopDeadlines",
    "ManualTimerService",
    "ThreadTimerService",
    "TimerHandle",
    "TimerService",
    "default_timer_service",
]

_log = logging.getLogger("conductor_actors.actors")
_K = TypeVar("_K")
_CLOCK_RESOLUTION = time.get_clock_info("monotonic").resolution

_PENDING, _FIRED, _CANCELLED = 0, 1, 2

#: Rebuild a heap once more than this many cancelled entries make up over half of it.
_COMPACT_MIN = 64


class TimerHandle:
    """A scheduled callback. ``cancel()`` (from any thread) stops it if it has not fired yet."""

    __slots__ = ("_args", "_callback", "_loop_handle", "_on_cancel", "_state")

    def __init__(
        self, callback: Callable[..., Any], args: tuple[Any, ...], on_cancel: Callable[[TimerHandle], None]
    ) -> None:
        self._callback = callback
        self._args = args
        self._state = _PENDING
        self._on_cancel = on_cancel
        self._loop_handle: asyncio.TimerHandle | None = None

    def cancel(self) -> None:
        """Prevent the callback; no effect once it fired or was cancelled."""
        if self._state != _PENDING:
            return
        self._state = _CANCELLED
        self._on_cancel(self)  # lets the service forget it before it is due

    @property
    def cancelled(self) -> bool:
        return self._state == _CANCELLED

    def _fire(self) -> None:
        if self._state != _PENDING:
            return
        self._state = _FIRED
        try:
            self._callback(*self._args)
        except Exception:
            _log.exception("timer callback %r failed", getattr(self._callback, "__qualname__", self._callback))

    def __repr__(self) -> str:
        state = ("pending", "fired", "cancelled")[self._state]
        return f"<TimerHandle {state}>"


def _check_delay(delay: float) -> float:
    if isinstance(delay, bool) or not isinstance(delay, (int, float)):
        raise TypeError(f"timer delay must be a number of seconds, not {type(delay).__name__}")
    if not math.isfinite(delay) or delay < 0:
        raise ValueError(f"timer delay must be finite and >= 0 seconds, got {delay!r}")
    return float(delay)


class TimerService:
    """Schedules callbacks after a delay in seconds. Subclasses define the clock and the firing."""

    def now(self) -> float:
        """The service's current time in seconds (its own clock)."""
        raise NotImplementedError

    def schedule(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` once ``delay`` seconds have passed on this service's clock."""
        raise NotImplementedError


class _TimerHeap:
    """Due-ordered timers (not thread-safe: the owning service locks around it)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._cancelled = 0

    def push(self, due: float, handle: TimerHandle) -> bool:
        """Add a timer; True when it is now the earliest."""
        entry = (due, next(self._seq), handle)
        heapq.heappush(self._heap, entry)
        return self._heap[0] is entry

    def note_cancel(self) -> None:
        self._cancelled += 1
        if self._cancelled > _COMPACT_MIN and self._cancelled * 2 > len(self._heap):
            self._heap = [entry for entry in self._heap if entry[2]._state == _PENDING]
            heapq.heapify(self._heap)
            self._cancelled = 0

    def next_due(self) -> float | None:
        """Due time of the earliest pending timer, dropping cancelled ones on top."""
        heap = self._heap
        while heap and heap[0][2]._state != _PENDING:
            heapq.heappop(heap)
            self._cancelled = max(0, self._cancelled - 1)
        return heap[0][0] if heap else None

    def pop_next_due(self, now: float) -> tuple[float, TimerHandle] | None:
        """Remove and return the earliest pending timer if it is due at ``now``."""
        due = self.next_due()
        if due is None or due > now:
            return None
        _, _, handle = heapq.heappop(self._heap)
        return due, handle

    def pending(self) -> int:
        return sum(1 for entry in self._heap if entry[2]._state == _PENDING)


class ThreadTimerService(TimerService):
    """All timers of a process on one daemon thread (started on first ``schedule``).

    ``clock`` is the monotonic time source in seconds; waits use its differences, so it must run
    at the pace of real time. ``close()`` stops the thread; pending timers then never fire.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, name: str = "conductor-actors-timers") -> None:
        self._clock = clock
        self._name = name
        self._cond = threading.Condition()
        self._heap = _TimerHeap()
        self._thread: threading.Thread | None = None
        self._closed = False

    def now(self) -> float:
        return self._clock()

    def schedule(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        """Any thread. Raises RuntimeError after ``close()``."""
        delay = _check_delay(delay)
        handle = TimerHandle(callback, args, self._note_cancel)
        with self._cond:
            if self._closed:
                raise RuntimeError(f"timer service {self._name!r} is closed")
            if self._heap.push(self._clock() + delay, handle):
                self._cond.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        return handle

    def _note_cancel(self, handle: TimerHandle) -> None:
        with self._cond:
            self._heap.note_cancel()

    def _run(self) -> None:
        """The timer thread: wait for the earliest due time, fire, repeat until closed."""
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    now = self._clock()
                    due = self._heap.pop_next_due(now)
                    if due is not None:
                        break
                    next_due = self._heap.next_due()
                    self._cond.wait(None if next_due is None else next_due - now)
            due[1]._fire()

    def close(self, timeout: float | None = None) -> None:
        """Stop the timer thread (any thread but the timer thread itself waits for it)."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


class ManualTimerService(TimerService):
    """A timer service driven by hand, for tests: time moves only in ``advance``.

    Thread-safe; callbacks run on the thread that calls ``advance``.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self._heap = _TimerHeap()

    def now(self) -> float:
        return self._now

    def schedule(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        delay = _check_delay(delay)
        handle = TimerHandle(callback, args, self._note_cancel)
        with self._lock:
            self._heap.push(self._now + delay, handle)
        return handle

    def _note_cancel(self, handle: TimerHandle) -> None:
        with self._lock:
            self._heap.note_cancel()

    def advance(self, seconds: float) -> int:
        """Move time forward by ``seconds``, firing due timers in order; return how many fired.

        A callback that schedules a timer due within the advanced span sees it fire too.
        """
        target = self._now + _check_delay(seconds)
        fired = 0
        while True:
            with self._lock:
                due = self._heap.pop_next_due(target)
                if due is None:
                    self._now = target
                    return fired
                self._now = max(self._now, due[0])
            due[1]._fire()
            fired += 1

    def pending(self) -> int:
        """How many timers are scheduled and neither fired nor cancelled."""
        with self._lock:
            return self._heap.pending()


class LoopTimerService(TimerService):
    """Timers on an asyncio loop (``call_later``); ``schedule`` may be called from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def now(self) -> float:
        return self._loop.time()

    def schedule(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        delay = _check_delay(delay)
        handle = TimerHandle(callback, args, self._disarm)
        if running_here(self._loop):
            self._arm(handle, delay)
        else:
            self._loop.call_soon_threadsafe(self._arm, handle, delay)
        return handle

    def _arm(self, handle: TimerHandle, delay: float) -> None:
        """Runs on the loop."""
        if handle._state == _PENDING:
            handle._loop_handle = self._loop.call_later(delay, handle._fire)

    def _disarm(self, handle: TimerHandle) -> None:
        """Drop a cancelled timer from the loop (its callback would do nothing anyway)."""
        armed = handle._loop_handle
        if armed is None:
            return  # not armed yet: _arm will see it is cancelled
        if running_here(self._loop):
            armed.cancel()
            return
        try:
            self._loop.call_soon_threadsafe(armed.cancel)
        except RuntimeError:
            pass  # the loop is closed: nothing left to drop


class LoopDeadlines(Generic[_K]):
    """Deadlines of many keys on one event loop, behind at most one loop timer.

    Why: a ``call_later`` and its ``cancel`` for each request or task cost about 2 µs on the loop,
    and nearly every deadline is cancelled long before it is due. Here ``add`` and ``discard`` are
    a dict write; the one timer is armed for the earliest deadline and re-armed when it fires, so
    with deadlines of one length it fires about once per deadline length, not once per key.

    ``expire(key)`` runs on the loop when ``key``'s deadline passed without a ``discard``; an
    exception from it is logged and the others still expire. Every method runs on the loop.
    """

    __slots__ = ("_armed_at", "_due", "_expire", "_loop", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop, expire: Callable[[_K], Any]) -> None:
        self._loop = loop
        self._expire = expire
        self._due: dict[_K, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at = math.inf

    def add(self, key: _K, delay: float) -> None:
        """``key`` expires ``delay`` seconds from now unless discarded first (replaces its deadline)."""
        when = self._loop.time() + delay
        self._due[key] = when
        if when < self._armed_at:
            self._arm(when)

    def discard(self, key: _K) -> None:
        self._due.pop(key, None)

    def __len__(self) -> int:
        return len(self._due)

    def close(self) -> None:
        """Forget every deadline and drop the timer."""
        self._due.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed_at = math.inf

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed_at = when
        self._timer = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._armed_at = math.inf
        # The loop runs a timer up to its clock's resolution early (as asyncio does): the same slack
        # here, or a deadline a hair in the future would re-arm the timer over and over.
        now = self._loop.time() + _CLOCK_RESOLUTION
        due = [key for key, when in self._due.items() if when <= now]
        try:
            for key in due:
                if self._due.pop(key, None) is None:
                    continue  # discarded by the callback of an earlier key
                try:
                    self._expire(key)
                except Exception:
                    _log.exception("a deadline callback failed")
        finally:
            if self._due and self._timer is None:
                self._arm(min(self._due.values()))


_default_lock = threading.Lock()
_default: ThreadTimerService | None = None


def default_timer_service() -> ThreadTimerService:
    """The process-wide timer service of thread actors (its thread starts on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ThreadTimerService()
        return _default


def _forget_default_after_fork() -> None:
    global _default, _default_lock
    _default = None  # the timer thread does not exist in a forked child
    _default_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_default_after_fork)
