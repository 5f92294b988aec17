"""Scenario "sleepy": the plain worker under load. Each task sleeps ``seconds`` and reports which
process ran it, so tests can tell the processes (and a restarted process) apart."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from . import SLEEPY_TASK, register_flavoured


def sleepy_sync(seconds: float = 0.0, index: int = 0) -> dict[str, Any]:
    time.sleep(seconds)
    return {"index": index, "pid": os.getpid()}


async def sleepy_async(seconds: float = 0.0, index: int = 0) -> dict[str, Any]:
    await asyncio.sleep(seconds)
    return {"index": index, "pid": os.getpid()}


register_flavoured(SLEEPY_TASK, sleepy_sync, sleepy_async, thread_count=8, poll_interval_millis=20)
