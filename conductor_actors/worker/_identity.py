"""The default worker id: unique per process, computed in the process that asks."""

from __future__ import annotations

import os
import socket

__all__ = ["default_worker_id"]

_cache: tuple[int, str] | None = None


def default_worker_id() -> str:
    """``<hostname>-<pid>`` of the calling process (the official SDK uses the bare host name,
    which every process on a host shares). Cached per pid; safe from any thread."""
    global _cache
    pid = os.getpid()
    cached = _cache
    if cached is None or cached[0] != pid:
        cached = (pid, f"{socket.gethostname()}-{pid}")
        _cache = cached
    return cached[1]
