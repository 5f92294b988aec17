"""Restart building blocks: pure, no I/O, with injectable clock and random source.

``RestartPolicy`` bundles the numbers, ``RestartIntensity`` is the sliding-window limit (more
than ``max_restarts`` within ``within`` seconds = give up), ``restart_backoff`` the delay before
the n-th consecutive restart: ``min(cap, base * 2**(n-1))`` with +-``jitter`` (a fraction).
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RestartIntensity", "RestartPolicy", "restart_backoff"]


def _require_number(name: str, value: float, *, minimum: float, inclusive: bool = True) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < minimum or (not inclusive and value == minimum):
        relation = ">=" if inclusive else ">"
        raise ValueError(f"{name} must be {relation} {minimum}, got {value!r}")


def _require_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")


def _check_jitter(jitter: float) -> None:
    _require_number("jitter", jitter, minimum=0.0)
    if jitter >= 1:
        raise ValueError(f"jitter must be a fraction in [0, 1), got {jitter!r}")


@dataclass(frozen=True, kw_only=True)
class RestartPolicy:
    """How a supervisor restarts a failed actor (seconds; validated on construction).

    - ``max_restarts`` / ``within``: more restarts than this inside the sliding window = give up;
    - ``backoff_base`` / ``backoff_cap`` / ``jitter``: the delay before the n-th consecutive
      restart (see ``restart_backoff``);
    - ``reset_after``: an actor that ran this long before failing counts as n = 1 again.
    """

    max_restarts: int = 10
    within: float = 300.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    jitter: float = 0.2
    reset_after: float = 60.0

    def __post_init__(self) -> None:
        _require_count("max_restarts", self.max_restarts)
        _require_number("within", self.within, minimum=0.0, inclusive=False)
        _require_number("backoff_base", self.backoff_base, minimum=0.0)
        _require_number("backoff_cap", self.backoff_cap, minimum=0.0)
        _check_jitter(self.jitter)
        _require_number("reset_after", self.reset_after, minimum=0.0)

    def backoff(self, n: int, rng: Callable[[], float] = random.random) -> float:
        """The delay before the ``n``-th consecutive restart under this policy."""
        return restart_backoff(n, base=self.backoff_base, cap=self.backoff_cap, jitter=self.jitter, rng=rng)


class RestartIntensity:
    """Sliding-window restart limit: ``record()`` turns False once more than ``max_restarts``
    restarts happened within the last ``within`` seconds of ``clock``.

    Not thread-safe: one owner (e.g. a supervisor actor) calls it.
    """

    def __init__(
        self, max_restarts: int = 10, within: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        _require_count("max_restarts", max_restarts)
        _require_number("within", within, minimum=0.0, inclusive=False)
        self.max_restarts = max_restarts
        self.within = float(within)
        self._clock = clock
        self._times: deque[float] = deque()

    def record(self) -> bool:
        """Count a restart now; False when that makes more than ``max_restarts`` in the window."""
        now = self._clock()
        times = self._times
        times.append(now)
        horizon = now - self.within
        while times and times[0] <= horizon:
            times.popleft()
        return len(times) <= self.max_restarts

    def count(self) -> int:
        """Restarts recorded within the window ending now."""
        horizon = self._clock() - self.within
        return sum(1 for stamp in self._times if stamp > horizon)


def restart_backoff(
    n: int,
    *,
    base: float = 0.5,
    cap: float = 30.0,
    jitter: float = 0.2,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before the ``n``-th consecutive restart (n >= 1).

    ``min(cap, base * 2**(n-1))`` scaled by a uniform factor in ``[1 - jitter, 1 + jitter)``
    drawn from ``rng`` (a ``random.random``-like function returning [0, 1)).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n (the consecutive restart number) must be an int >= 1, got {n!r}")
    _require_number("base", base, minimum=0.0)
    _require_number("cap", cap, minimum=0.0)
    _check_jitter(jitter)
    delay = min(cap, base * 2.0 ** min(n - 1, 1000))
    return delay * (1.0 + jitter * (2.0 * rng() - 1.0))
