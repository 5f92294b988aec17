"""The worker of the metrics tests, as a ``def``/``async def`` twin, and what tests need to know
about its outputs.

``work_sync`` runs on an executor thread of a sync worker process, ``work_async`` on the event
loop of an async one. Both do what the task input says: wait ``seconds``, then either raise
``MetricsAppError`` (``fail``; every message differs, so a metric label built from the message
would show) or return ``output_of(size, text)``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from conductor_actors.worker import Worker

__all__ = [
    "FAILURE_CLASS_NAME",
    "MetricsAppError",
    "make_worker",
    "output_of",
    "serialised_size",
    "worker_function",
]


class MetricsAppError(RuntimeError):
    """What the worker raises when a task asks it to fail."""


#: The ``exception`` label the runtime must use for ``MetricsAppError`` (the class name).
FAILURE_CLASS_NAME = MetricsAppError.__name__


def output_of(size: int, text: str = "x") -> dict[str, Any]:
    """The output returned for ``size``: ``{"blob": text * size}``."""
    return {"blob": text * size}


def serialised_size(output: Any) -> int:
    """Bytes of ``output`` as sent to the server: compact JSON text, UTF-8 encoded."""
    return len(json.dumps(output, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _outcome(size: int, text: str, fail: bool, index: int) -> dict[str, Any]:
    if fail:
        raise MetricsAppError(f"task #{index} was asked to fail")
    return output_of(size, text)


def work_sync(size: int = 0, text: str = "x", fail: bool = False, seconds: float = 0.0,
              index: int = 0) -> dict[str, Any]:
    """Executor thread of a sync worker process."""
    if seconds > 0:
        time.sleep(seconds)
    return _outcome(size, text, fail, index)


async def work_async(size: int = 0, text: str = "x", fail: bool = False, seconds: float = 0.0,
                     index: int = 0) -> dict[str, Any]:
    """Event loop of an async worker process."""
    if seconds > 0:
        await asyncio.sleep(seconds)
    return _outcome(size, text, fail, index)


def worker_function(flavour: str) -> Callable[..., Any]:
    """``work_sync`` for flavour "sync", ``work_async`` for "async"; ValueError otherwise."""
    if flavour == "sync":
        return work_sync
    if flavour == "async":
        return work_async
    raise ValueError(f"flavour={flavour!r}: expected 'sync' or 'async'")


def make_worker(flavour: str, task_type: str, *, thread_count: int = 8, poll_interval_millis: float = 10,
                processes: int = 1) -> Worker:
    """The ``Worker`` of ``task_type`` running the twin of ``flavour``."""
    return Worker(
        task_type, worker_function(flavour), poll_interval=poll_interval_millis, thread_count=thread_count,
        processes=processes,
    )
