"""The memory limit of a worker process (the task limit is checked by the executor as tasks finish)."""

from __future__ import annotations

import os
import sys

from ._settings import RuntimeSettings

__all__ = ["memory_over_limit", "rss_mib"]


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
        return f"resident memory {rss:.0f} MiB is over max_rss_mb={settings.max_rss_mb:g}"
    return None
