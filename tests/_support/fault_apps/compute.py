"""The well-behaved worker of the fault suite: a deterministic computation, in both flavours.

``compute_sync`` / ``compute_async`` return ``expected_output(n, task_id)``: the output depends
only on the input and on the id of the task it was computed for, so a test can check every task's
final ``outputData`` on the server against what the worker computes, and a result delivered to the
wrong task (or a different result sent twice) shows up. ``pause`` makes a task take that long
(seconds), so a run spans a fault window. When the ``STARTED_DIR_VARIABLE`` environment variable
names a directory, each execution first creates a file there named by its task id, so a test can
tell the tasks the worker began running from those it only received.

They run in worker processes (executor threads, or the worker's event loop).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path
from typing import Any

from conductor_actors import Worker, get_task_context

__all__ = [
    "CLI_COMPUTE_TASK",
    "COMPUTE_TASK",
    "STARTED_DIR_VARIABLE",
    "compute_async",
    "compute_sync",
    "compute_worker",
    "expected_output",
]

#: Default task type of the compute worker.
COMPUTE_TASK = "fault_compute"
#: Task type of the compute worker that ``cli_compute`` registers.
CLI_COMPUTE_TASK = "fault_cli_compute"
STARTED_DIR_VARIABLE = "FAULT_APPS_STARTED_DIR"


def expected_output(n: int, task_id: str) -> dict[str, Any]:
    """What the compute worker returns for input ``n`` in task ``task_id``."""
    digest = hashlib.sha256(f"{task_id}:{n}".encode()).hexdigest()[:16]
    return {"n": n, "square": n * n, "task_id": task_id, "digest": digest}


def _mark_started() -> str:
    """The running task's id, after creating its marker file when a started directory is set."""
    task_id = str(get_task_context().get_task_id())
    started_dir = os.environ.get(STARTED_DIR_VARIABLE)
    if started_dir:
        (Path(started_dir) / task_id).touch()
    return task_id


def compute_sync(n: int, pause: float = 0.0) -> dict[str, Any]:
    task_id = _mark_started()
    if pause:
        time.sleep(pause)
    return expected_output(n, task_id)


async def compute_async(n: int, pause: float = 0.0) -> dict[str, Any]:
    task_id = _mark_started()
    if pause:
        await asyncio.sleep(pause)
    return expected_output(n, task_id)


def compute_worker(flavour: str, task_type: str = COMPUTE_TASK, **options: Any) -> Worker:
    """A ``Worker`` for ``task_type`` running the compute twin of ``flavour`` ("sync"/"async");
    ``options`` are ``Worker`` keywords (default: 8 slots, 20 ms poll interval)."""
    options.setdefault("thread_count", 8)
    options.setdefault("poll_interval", 20)
    return Worker(task_type, compute_sync if flavour == "sync" else compute_async, **options)
