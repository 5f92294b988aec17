"""The dev server's clock: wall time plus an offset that tests can push forward.

Every time the server keeps or compares (task and workflow timestamps, WAIT durations, retry
delays, ``callbackAfterSeconds``, ``startDelay``, response timeouts) is read from this clock, and
every timer the server sets runs through it. :meth:`ServerClock.advance` moves the clock forward
and fires, in order, every timer that became due, so a workflow with a one-hour WAIT finishes as
soon as a test advances the clock by an hour.

Loop thread only (``advance`` is reached through ``DevServer.advance_clock``).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

__all__ = ["ServerClock", "Timer"]

_log = logging.getLogger("conductor_actors.devserver")


class Timer:
    """A callback due at a clock time; ``cancel()`` stops it from running."""

    __slots__ = ("args", "callback", "cancelled", "due")

    def __init__(self, due: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.due = due
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ServerClock:
    """Wall time (``time.time()``) plus ``offset`` seconds, with timers on that time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.offset = 0.0
        self._heap: list[tuple[float, int, Timer]] = []
        self._sequence = itertools.count()
        self._wakeup: asyncio.TimerHandle | None = None
        self._wakeup_at = float("inf")

    def time(self) -> float:
        """Seconds since the epoch, as the server sees it."""
        return time.time() + self.offset

    def now_ms(self) -> int:
        """Epoch milliseconds, the unit of every time field on the wire."""
        return int(self.time() * 1000)

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        """Run ``callback(*args)`` on the loop once ``delay`` seconds of server time have passed."""
        timer = Timer(self.time() + max(0.0, delay), callback, args)
        heapq.heappush(self._heap, (timer.due, next(self._sequence), timer))
        self._arm()
        return timer

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (>= 0) and run every timer now due, earliest first."""
        if seconds < 0:
            raise ValueError(f"the clock only moves forward; got {seconds} seconds")
        self.offset += seconds
        self._fire()

    def _arm(self) -> None:
        """Keep one loop timer for the earliest pending timer (re-armed when an earlier one appears)."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        if not heap:
            return
        due = heap[0][0]
        if due >= self._wakeup_at and self._wakeup is not None:
            return
        if self._wakeup is not None:
            self._wakeup.cancel()
        self._wakeup_at = due
        self._wakeup = self._loop.call_later(max(0.0, due - self.time()), self._on_wakeup)

    def _on_wakeup(self) -> None:
        self._wakeup = None
        self._wakeup_at = float("inf")
        self._fire()

    def _fire(self) -> None:
        heap = self._heap
        while heap and heap[0][0] <= self.time():
            _, _, timer = heapq.heappop(heap)
            if timer.cancelled:
                continue
            timer.cancelled = True  # ran: a later cancel() is a no-op
            try:
                timer.callback(*timer.args)
            except Exception:  # one failing timer must not stop the others
                _log.exception("dev server: a timer callback failed")
        if self._wakeup is not None:
            self._wakeup.cancel()
            self._wakeup = None
            self._wakeup_at = float("inf")
        self._arm()
