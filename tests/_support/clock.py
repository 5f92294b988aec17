"""The one fake clock of the tests: seconds that move only when the test moves them.

``FakeClock`` is passed where the code takes a clock function (``clock=``, ``time.monotonic`` or
``time.time`` style): calling it reads it. The test reads it as ``clock.now`` and moves it with
``advance(seconds)``; it never goes back. ``FakeClock.running()`` follows ``time.monotonic()``
instead, plus every jump the test made: for code that also waits in real time (a supervisor
watching real processes) while the test jumps it past a window. Any thread may read it; the test's
thread moves it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["FakeClock"]


class FakeClock:
    """A clock reading ``start`` until the test advances it; see the module docstring."""

    def __init__(self, start: float = 1000.0, source: Callable[[], float] | None = None) -> None:
        self._offset = start
        self._source = source

    @classmethod
    def running(cls) -> FakeClock:
        """``time.monotonic()`` plus the seconds ``advance`` added."""
        return cls(0.0, time.monotonic)

    @property
    def now(self) -> float:
        """The current reading."""
        return self._offset + (self._source() if self._source is not None else 0.0)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward; ``ValueError`` for a negative amount."""
        if seconds < 0:
            raise ValueError(f"a clock does not go back ({seconds} s)")
        self._offset += seconds
