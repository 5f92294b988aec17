"""When a worker process should be recycled: after ``max_tasks`` tasks, or when its resident
memory is over ``max_rss_mb``.

Memory is checked after every task (``RecycleCheck.after_task``, called by the executor as each
task finishes) and on the worker process's heartbeat timer (``memory_over_limit``, for a leak that
grows while tasks run or while idle). The per-task check is what keeps a fast leak near the limit:
reading ``/proc/self/statm`` costs a few microseconds, and a timer alone lets a leak of many MiB
per task run on for a whole interval.
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Callable

from ._settings import RuntimeSettings

__all__ = ["RecycleCheck", "memory_over_limit", "rss_mib"]


def rss_mib() -> float:
    """This process's resident memory in MiB (current on Linux; peak where only that is known)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            resident_pages = int(statm.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

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
    and None otherwise. ``rss`` reads the resident memory in MiB (injectable for tests). Never
    raises.
    """

    def __init__(self, settings: RuntimeSettings, rss: Callable[[], float] = rss_mib) -> None:
        self._settings = settings
        self._rss = rss
        self._lock = threading.Lock()
        self._reached = False

    def after_task(self, executed: int) -> str | None:
        """Called once per finished task with the total of executed tasks (this one included)."""
        settings = self._settings
        reason: str | None = None
        if executed == settings.max_tasks:
            reason = f"executed {executed} tasks (max_tasks={settings.max_tasks})"
        elif settings.max_rss_mb:
            reason = memory_over_limit(settings, self._rss())
        if reason is None:
            return None
        with self._lock:  # several executor threads may cross the limit together
            if self._reached:
                return None
            self._reached = True
        return reason
