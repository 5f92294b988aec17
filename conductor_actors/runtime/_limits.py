"""When a worker process should be recycled: after ``max_tasks`` tasks, or when its resident
memory is over ``max_rss_mb``.

Memory is checked after every task (``RecycleCheck.after_task``, called by the executor as each
task finishes) and on the worker process's heartbeat timer (``memory_over_limit``, for a leak that
grows while tasks run or while idle). The per-task check is what keeps a fast leak near the limit:
a timer alone lets a leak of many MiB per task run on for a whole interval. To keep it cheap, the
per-task check first asks the kernel for the process's peak resident memory (one ``getrusage``
call, no file to open): while the peak is clearly within the limit the current memory is too, and
``/proc/self/statm`` is read only once the peak comes within ``_PEAK_MARGIN_MIB`` (or 2 %) of it.
The margin is there because the kernel's two readings are approximate counters read at different
moments (a reading of the peak a few pages below the current memory is seen).
"""

from __future__ import annotations

import math
import os
import resource
import sys
import threading
from collections.abc import Callable

from ..settings import RuntimeSettings

__all__ = ["RecycleCheck", "memory_over_limit", "peak_rss_mib", "rss_mib"]

#: The per-task check reads the current memory once the peak is within this many MiB of the limit.
_PEAK_MARGIN_MIB = 8.0


def rss_mib() -> float:
    """This process's resident memory in MiB (current on Linux; peak where only that is known)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            resident_pages = int(statm.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mib()


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB so far (never below the current one)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def memory_over_limit(settings: RuntimeSettings, rss: float) -> str | None:
    """Why the process should be recycled for its memory now, or None."""
    if settings.max_rss_mb and rss > settings.max_rss_mb:
        # Rounded up: a reading just over the limit must not read as the limit itself.
        return f"resident memory {math.ceil(rss)} MiB is over max_rss_mb={settings.max_rss_mb:g}"
    return None


class RecycleCheck:
    """The recycling limits checked at each task boundary of one pipeline.

    ``after_task`` runs on whichever executor thread (sync) or on the loop (async) finished a
    task; it returns the reason to recycle at most once per process (the first limit reached),
    and None otherwise. ``rss`` reads the resident memory in MiB and ``peak`` the peak so far
    (injectable for tests; ``peak`` defaults to the process's own only with the real ``rss``).
    Never raises.
    """

    def __init__(
        self,
        settings: RuntimeSettings,
        rss: Callable[[], float] = rss_mib,
        peak: Callable[[], float] | None = None,
    ) -> None:
        self._settings = settings
        self._rss = rss
        self._peak = peak if peak is not None else (peak_rss_mib if rss is rss_mib else None)
        self._peak_below = settings.max_rss_mb - max(_PEAK_MARGIN_MIB, settings.max_rss_mb * 0.02)
        self._lock = threading.Lock()
        self._reached = False

    def after_task(self, executed: int) -> str | None:
        """Called once per finished task with the total of executed tasks (this one included)."""
        settings = self._settings
        reason: str | None = None
        if executed == settings.max_tasks:
            reason = f"executed {executed} tasks (max_tasks={settings.max_tasks})"
        elif settings.max_rss_mb and (self._peak is None or self._peak() > self._peak_below):
            reason = memory_over_limit(settings, self._rss())  # the peak is near or over: read the memory
        if reason is None:
            return None
        with self._lock:  # several executor threads may cross the limit together
            if self._reached:
                return None
            self._reached = True
        return reason
