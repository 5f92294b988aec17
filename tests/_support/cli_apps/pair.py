"""Scenario "pair": two workers of different task types in one module, a ``def`` one and an
``async def`` one (whatever ``CLI_APPS_FLAVOUR`` says), so a run has one process of each flavour.
Each reports the pid of the process that ran it."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from conductor_actors import worker_task

from . import PAIR_ASYNC_TASK, PAIR_SYNC_TASK


@worker_task(task_definition_name=PAIR_SYNC_TASK, thread_count=8, poll_interval_millis=20)
def pair_sync(seconds: float = 0.0, index: int = 0) -> dict[str, Any]:
    time.sleep(seconds)
    return {"index": index, "pid": os.getpid()}


@worker_task(task_definition_name=PAIR_ASYNC_TASK, thread_count=8, poll_interval_millis=20)
async def pair_async(seconds: float = 0.0, index: int = 0) -> dict[str, Any]:
    await asyncio.sleep(seconds)
    return {"index": index, "pid": os.getpid()}
