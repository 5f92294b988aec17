"""Scenario "failing": a worker that fails the way its input says, for the failure log lines.

``mode`` "raise" raises ``ValueError`` (an unexpected exception), "terminal" raises
``NonRetryableException`` (a failure the worker chose), anything else completes. The task
definition is not registered, so the dev server does not retry a failed task.
"""

from __future__ import annotations

from typing import Any

from conductor_actors import NonRetryableException

from . import FAILING_TASK, register_flavoured


def _outcome(mode: str, index: int) -> dict[str, Any]:
    if mode == "raise":
        raise ValueError(f"card {index} was declined")
    if mode == "terminal":
        raise NonRetryableException(f"order {index} cannot be charged")
    return {"index": index}


def failing_sync(mode: str = "ok", index: int = 0) -> dict[str, Any]:
    return _outcome(mode, index)


async def failing_async(mode: str = "ok", index: int = 0) -> dict[str, Any]:
    return _outcome(mode, index)


register_flavoured(FAILING_TASK, failing_sync, failing_async, thread_count=4, poll_interval_millis=20)
