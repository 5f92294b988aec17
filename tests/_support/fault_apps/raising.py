"""A worker function that raises a ``BaseException`` chosen by its input, in both flavours.

``raise_sync`` / ``raise_async`` take ``kind`` (a key of ``RAISED``, or ``"none"``) and return
``{"pid": <the process that ran it>}`` when told not to raise. They run in worker processes:
executor threads (sync) or the worker's event loop (async).
"""

from __future__ import annotations

import os
from typing import Any

from conductor_actors import Worker

__all__ = ["RAISED", "TaskAbort", "raising_worker"]


class TaskAbort(BaseException):
    """A user's own ``BaseException`` subclass (not an ``Exception``)."""


#: kind -> (the exception the function raises, the reasonForIncompletion the task must end with).
RAISED: dict[str, tuple[BaseException, str]] = {
    "keyboard_interrupt": (KeyboardInterrupt("pressed in a task"), "KeyboardInterrupt: pressed in a task"),
    "system_exit": (SystemExit("a library called sys.exit"), "SystemExit: a library called sys.exit"),
    "system_exit_code": (SystemExit(4), "SystemExit: 4"),
    "generator_exit": (GeneratorExit(), "GeneratorExit"),
    "custom": (TaskAbort("abandon this one"), "TaskAbort: abandon this one"),
}


def _run(kind: str) -> dict[str, Any]:
    if kind != "none":
        raise RAISED[kind][0]
    return {"pid": os.getpid()}


def raise_sync(kind: str) -> dict[str, Any]:
    return _run(kind)


async def raise_async(kind: str) -> dict[str, Any]:
    return _run(kind)


def raising_worker(flavour: str, task_type: str, **options: Any) -> Worker:
    """A ``Worker`` for ``task_type`` running the twin of ``flavour`` (default 20 ms poll interval)."""
    options.setdefault("poll_interval", 20)
    return Worker(task_type, raise_sync if flavour == "sync" else raise_async, **options)
