"""Scenario "wedge": a task asked to block wedges its worker process for ``block_seconds``.

The ``async def`` twin calls ``time.sleep`` on the pipeline's event loop, so no stage coroutine
runs. The ``def`` twin holds the GIL (a libc ``usleep`` called through ``ctypes.PyDLL``, which
does not release it), so the poller and relay threads cannot run either. Either way the
heartbeats stop and the supervisor must kill and restart the process. With ``block_seconds`` 0
the task returns at once, reporting the pid that ran it.
"""

from __future__ import annotations

import ctypes
import os
import time
from typing import Any

from . import WEDGE_TASK, register_flavoured


def _hold_the_gil(seconds: float) -> None:
    libc = ctypes.PyDLL(None)  # PyDLL: the call keeps the GIL
    libc.usleep(ctypes.c_uint(int(seconds * 1_000_000)))


def wedge_sync(block_seconds: float = 0.0) -> dict[str, Any]:
    if block_seconds > 0:
        _hold_the_gil(block_seconds)
    return {"pid": os.getpid()}


async def wedge_async(block_seconds: float = 0.0) -> dict[str, Any]:
    if block_seconds > 0:
        time.sleep(block_seconds)  # on the event loop, on purpose
    return {"pid": os.getpid()}


register_flavoured(WEDGE_TASK, wedge_sync, wedge_async, thread_count=2, poll_interval_millis=20)
