"""What the feature document's examples use without defining it, made concrete and observable.

Helpers that stand for the outside world print one line to stdout (flushed, so a test reading the
worker processes' output sees it) and record what they were given in module-level lists. They run
where the examples call them: in a worker process, on the thread or event loop executing the task,
or on the thread that publishes an event to a listener. ``custom_update_service`` raises what the
client raises when the server refuses the result; everything else never raises.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterable
from typing import Any

import httpx

from conductor_actors import (
    ConductorClient,
    Configuration,
    PollStarted,
    TaskExecutionCompleted,
    TaskExecutionStarted,
    TaskResult,
)

__all__ = [
    "ALERTS",
    "APPROVALS",
    "BATCH_SIZES",
    "CustomAuditLogger",
    "PrometheusMetricsCollector",
    "actual_async_work",
    "alert",
    "backup_db",
    "check_approval_system",
    "custom_update_service",
    "expensive_computation",
    "logger",
    "process_data",
    "process_next_100_items",
    "send_notification",
    "send_pagerduty_alert",
]

#: Every alert raised (``alert`` and ``send_pagerduty_alert``), in order.
ALERTS: list[str] = []

#: Items in each batch the examples' ``batch_processor`` may be given.
BATCH_SIZES = {"batch-small": 140, "batch-large": 10_000}

#: The approval system's answer per request id; unknown ids are PENDING.
APPROVALS = {"req-approved": "APPROVED", "req-rejected": "REJECTED"}


def _say(line: str) -> None:
    """One write per line, so lines of several processes sharing an output never mix."""
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


def expensive_computation(value: int | Iterable[int]) -> int:
    """The sum of the squares of 0..value (an int) or of the values (a list)."""
    numbers = range(value + 1) if isinstance(value, int) else value
    return sum(n * n for n in numbers)


def process_data(payload: Any) -> dict[str, Any]:
    """The CPU part of ``mixed_task``: a digest of a JSON document."""
    keys = sorted(payload) if isinstance(payload, dict) else []
    return {"keys": len(keys), "name": payload.get("name") if isinstance(payload, dict) else None}


def process_next_100_items(batch_id: str, offset: int) -> int:
    """How many of the next 100 items of the batch, from item number ``offset``, were processed."""
    return max(0, min(100, BATCH_SIZES[batch_id] - offset))


def check_approval_system(request_id: str) -> str:
    return APPROVALS.get(request_id, "PENDING")


class _AuditLog:
    """``logger`` of the examples: an async ``log`` (``log_event``) and a sync ``critical``."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def log(self, event: str) -> None:
        await asyncio.sleep(0)
        self.events.append(event)
        _say(f"AUDIT LOG pid={os.getpid()}: {event}")

    def critical(self, message: str) -> None:
        _say(f"LOGGER CRITICAL: {message}")


logger = _AuditLog()


async def send_notification(message: str) -> None:
    await asyncio.sleep(0)
    _say(f"NOTIFICATION pid={os.getpid()}: {message}")


async def actual_async_work(url: str) -> dict[str, Any]:
    """What the rollback example runs with ``asyncio.run``: fetch a JSON document."""
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
        return {"fetched": response.json()}


def alert(message: str) -> None:
    ALERTS.append(message)
    _say(f"ALERT: {message}")


def send_pagerduty_alert(message: str, task_id: str | None = None, workflow_id: str | None = None) -> None:
    ALERTS.append(message)
    _say(f"PAGERDUTY: {message} task_id={task_id} workflow_id={workflow_id}")


class _BackupDb:
    def __init__(self) -> None:
        self.saved: list[dict[str, Any]] = []

    def save_task_result(self, task_id: str, result: TaskResult, timestamp: Any, error: str) -> None:
        row = {"task_id": task_id, "result": result.to_dict(), "timestamp": str(timestamp), "error": error}
        self.saved.append(row)
        _say(f"BACKUP DB: {json.dumps(row, sort_keys=True)}")


backup_db = _BackupDb()


class _CustomUpdateService:
    """Delivers a result again with a fresh client (``CONDUCTOR_SERVER_URL``)."""

    def update_task_with_custom_retry(self, result: TaskResult) -> None:
        with ConductorClient(Configuration()) as client:
            client.update_task(result)
        _say(f"CUSTOM UPDATE: delivered the result of task {result.task_id}")


custom_update_service = _CustomUpdateService()


class PrometheusMetricsCollector:
    """The document's stand-in for a metrics listener: counts polls and completions."""

    def __init__(self) -> None:
        self.polls = 0
        self.completed = 0

    def on_poll_started(self, event: PollStarted) -> None:
        self.polls += 1

    def on_task_execution_completed(self, event: TaskExecutionCompleted) -> None:
        self.completed += 1


class CustomAuditLogger:
    """The document's stand-in for an audit listener: one line per task started."""

    def on_task_execution_started(self, event: TaskExecutionStarted) -> None:
        _say(f"AUDIT: {event.task_type} task {event.task_id} started on {event.worker_id}")
