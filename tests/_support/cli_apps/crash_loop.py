"""Scenario "crash_loop": every task kills its worker process (``os._exit(1)``), so under load
the worker crashes again after each restart until the supervisor gives up."""

from __future__ import annotations

import os

from . import CRASH_EXIT_CODE, CRASH_TASK, register_flavoured


def crash_sync(index: int = 0) -> dict[str, int]:
    os._exit(CRASH_EXIT_CODE)


async def crash_async(index: int = 0) -> dict[str, int]:
    os._exit(CRASH_EXIT_CODE)


register_flavoured(CRASH_TASK, crash_sync, crash_async, thread_count=4, poll_interval_millis=20)
