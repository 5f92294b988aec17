"""Worker functions that misbehave in ways that take their whole process down, in both flavours.

- ``leak_*``: keeps ``LEAK_MIB`` MiB more per task for good (a memory leak), then waits ``pause``
  seconds; the process's resident memory grows by that much per task.
- ``hard_exit_*``: ends the process at once with ``os._exit(HARD_EXIT_CODE)`` (no clean-up, like a
  native crash).

Each returns (when it returns) ``{"n": n, "pid": <the process that ran it>}``. They run in worker
processes: executor threads (sync) or the worker's event loop (async).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from conductor_actors import Worker

__all__ = ["HARD_EXIT_CODE", "LEAK_MIB", "misbehaving_worker"]

LEAK_MIB = 16
HARD_EXIT_CODE = 7

_kept: list[bytes] = []


def _leak(n: int) -> dict[str, Any]:
    _kept.append(bytes([n % 251 + 1]) * (LEAK_MIB * 2**20))  # written, so it is resident
    return {"n": n, "pid": os.getpid()}


def leak_sync(n: int, pause: float = 0.0) -> dict[str, Any]:
    time.sleep(pause)
    return _leak(n)


async def leak_async(n: int, pause: float = 0.0) -> dict[str, Any]:
    await asyncio.sleep(pause)
    return _leak(n)


def hard_exit_sync(n: int) -> dict[str, Any]:
    os._exit(HARD_EXIT_CODE)


async def hard_exit_async(n: int) -> dict[str, Any]:
    os._exit(HARD_EXIT_CODE)


_TWINS = {
    "leak": (leak_sync, leak_async),
    "hard_exit": (hard_exit_sync, hard_exit_async),
}


def misbehaving_worker(kind: str, flavour: str, task_type: str, **options: Any) -> Worker:
    """A ``Worker`` for ``task_type`` running the ``kind`` twin ("leak" or "hard_exit") of
    ``flavour``; ``options`` are ``Worker`` keywords (default 20 ms poll interval)."""
    sync_function, async_function = _TWINS[kind]
    options.setdefault("poll_interval", 20)
    return Worker(task_type, sync_function if flavour == "sync" else async_function, **options)
