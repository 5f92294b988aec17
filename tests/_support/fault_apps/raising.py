"""A worker function that raises a ``BaseException`` chosen by its input, in both flavours.

``raise_sync`` / ``raise_async`` take ``kind`` (a key of ``RAISED``, or ``"none"``) and return
``{"pid": <the process that ran it>}`` when told not to raise. They run in worker processes:
executor threads (sync) or the worker's event loop (async). A kind starting with ``helper_`` is
raised by a helper the function starts and waits for (a thread of its own for ``def``, an asyncio
task of its own for ``async def``), so it reaches the function through what it waits on.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conductor_actors import Worker

__all__ = ["RAISED", "TaskAbort", "loop_stopping_worker", "raising_worker"]


class TaskAbort(BaseException):
    """A user's own ``BaseException`` subclass (not an ``Exception``)."""


#: kind -> (the exception the function raises, the reasonForIncompletion the task must end with).
RAISED: dict[str, tuple[BaseException, str]] = {
    "keyboard_interrupt": (KeyboardInterrupt("pressed in a task"), "KeyboardInterrupt: pressed in a task"),
    "system_exit": (SystemExit("a library called sys.exit"), "SystemExit: a library called sys.exit"),
    "system_exit_code": (SystemExit(4), "SystemExit: 4"),
    "generator_exit": (GeneratorExit(), "GeneratorExit"),
    "custom": (TaskAbort("abandon this one"), "TaskAbort: abandon this one"),
    "helper_keyboard_interrupt": (KeyboardInterrupt("pressed in a helper"), "KeyboardInterrupt: pressed in a helper"),
    "helper_system_exit": (SystemExit(5), "SystemExit: 5"),
}
_HELPER = "helper_"


def _run(kind: str) -> dict[str, Any]:
    if kind != "none":
        raise RAISED[kind][0]
    return {"pid": os.getpid()}


def raise_sync(kind: str) -> dict[str, Any]:
    if kind.startswith(_HELPER):
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(_run, kind).result()
    return _run(kind)


async def _run_soon(kind: str) -> dict[str, Any]:
    await asyncio.sleep(0)
    return _run(kind)


async def raise_async(kind: str) -> dict[str, Any]:
    if kind.startswith(_HELPER):
        # asyncio lets KeyboardInterrupt and SystemExit out of the event loop from the step of the
        # helper task that raised them, besides handing them to the awaiting coroutine.
        (result,) = await asyncio.gather(asyncio.create_task(_run_soon(kind)))
        return result
    return _run(kind)


def raising_worker(flavour: str, task_type: str, **options: Any) -> Worker:
    """A ``Worker`` for ``task_type`` running the twin of ``flavour`` (default 20 ms poll interval)."""
    options.setdefault("poll_interval", 20)
    return Worker(task_type, raise_sync if flavour == "sync" else raise_async, **options)


async def stop_the_loop(kind: str) -> dict[str, Any]:
    """Stops the event loop it runs on (``kind == "stop"``), then finishes normally."""
    if kind == "stop":
        asyncio.get_running_loop().stop()
        await asyncio.sleep(0)
    return {"pid": os.getpid()}


def loop_stopping_worker(task_type: str, **options: Any) -> Worker:
    """A ``Worker`` for ``task_type`` whose ``async def`` function can stop its own event loop."""
    options.setdefault("poll_interval", 20)
    return Worker(task_type, stop_the_loop, **options)
