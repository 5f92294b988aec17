"""The worker-process runtime: the pipeline (poller -> executor -> updater) in both flavours, the
child process entry point, and ``WorkerRunner`` to run one worker in the current process.

Importing it loads no asyncio: the async pipeline (``_async``) is imported only when an async
worker's pipeline is built.
"""

from __future__ import annotations

from ._child import EXIT_BOOT_FAILURE, EXIT_CRASH, EXIT_OK, EXIT_RECYCLE, child_main
from ._messages import EventBatch, Exiting, Heartbeat, Pause, Ready, Resume, Stop, UndeliveredResult
from ._pipeline import WorkerSettings
from ._runner import WorkerRunner, run_worker
from ._stop import StopReport
from ._telemetry import TaskLog

__all__ = [
    "EXIT_BOOT_FAILURE",
    "EXIT_CRASH",
    "EXIT_OK",
    "EXIT_RECYCLE",
    "EventBatch",
    "Exiting",
    "Heartbeat",
    "Pause",
    "Ready",
    "Resume",
    "Stop",
    "StopReport",
    "TaskLog",
    "UndeliveredResult",
    "WorkerRunner",
    "WorkerSettings",
    "child_main",
    "run_worker",
]
