"""Scenario "slow": tasks that run for ``seconds`` (long) and log a line when they start, so a
test knows from the log that they are running (not merely received) before it stops the CLI.
The ``async def`` twin sleeps cooperatively, so it can be cancelled; the ``def`` twin sleeps on
its executor thread, which nothing can interrupt."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from . import SLOW_TASK, register_flavoured

_log = logging.getLogger("cli_apps.slow")


def slow_sync(seconds: float = 0.0, index: int = 0) -> dict[str, Any]:
    _log.info("slow task %d running", index)
    time.sleep(seconds)
    return {"index": index, "pid": os.getpid()}


async def slow_async(seconds: float = 0.0, index: int = 0) -> dict[str, Any]:
    _log.info("slow task %d running", index)
    await asyncio.sleep(seconds)
    return {"index": index, "pid": os.getpid()}


register_flavoured(SLOW_TASK, slow_sync, slow_async, thread_count=4, poll_interval_millis=20)
