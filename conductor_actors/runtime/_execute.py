"""The executor and the lease keeper: what they do around one execution, except the call itself.

- ``ExecutorBehaviour``: claims a task for running (ledger RECEIVED -> RUNNING, lease tracking),
  and once the flavour ran the worker function, records the outcome (telemetry, task log, the
  recycle check) and gives the flavour the ``Report`` to send, whose first attempt the executor
  thread (sync) or the task's coroutine (async) sends itself.
- ``LeaseBehaviour``: which running tasks need a lease extension, and when.
- ``hand_back``: return a received, unstarted task to the server; ``handback_result``,
  ``lease_extension_result`` and ``overdue_result`` are the results the runtime sends itself.

Each flavour's stage class (``runtime/_sync.py``, ``runtime/_async.py``) is one of these behaviours
plus ``ThreadActor`` or ``AsyncioActor``; every method here runs on the stage's own thread (sync)
or on the event loop (async) and never raises for what a worker function did.
"""

from __future__ import annotations

import logging
from typing import Any

from ..actors import TimerHandle
from ..client import Task, TaskResult, TaskResultStatus
from ..settings import RuntimeSettings
from ..worker import ExecutionOutcome
from ._messages import LeaseBeat, LeaseRelease, LeaseTrack, Purpose, Report, ValidTask
from ._pipeline import PipelineState, Stage, TaskState, tell_quietly

__all__ = [
    "ExecutorBehaviour",
    "LeaseBehaviour",
    "hand_back",
    "handback_result",
    "lease_extension_result",
    "lease_interval",
    "overdue_result",
]

_log = logging.getLogger("conductor_actors.runtime")


def handback_result(task: Task, worker_id: str) -> TaskResult:
    """The result that returns a received-but-unstarted task to the server for another worker.

    IN_PROGRESS with ``callbackAfterSeconds: 0`` makes the server re-queue it at once; the output the
    task already had is sent back unchanged (the server replaces output on every update).
    """
    output = task.output_data if isinstance(task.output_data, dict) else {}
    return TaskResult(
        task_id=task.task_id,
        workflow_instance_id=task.workflow_instance_id,
        worker_id=worker_id,
        status=TaskResultStatus.IN_PROGRESS,
        output_data=dict(output),
        callback_after_seconds=0,
    )


def hand_back(pipeline: PipelineState, task: ValidTask) -> None:
    """Return a received, unstarted task to the server (via the updater); its slot is freed when that
    settles. The ledger claim makes sure one task is handed back once, whoever notices first."""
    if pipeline.ledger.transition(task.task_id, TaskState.RECEIVED, TaskState.REPORTING):
        tell_quietly(pipeline.updater, Report(task, handback_result(task, pipeline.worker_id), Purpose.HANDBACK))


def lease_interval(task: Task, settings: RuntimeSettings) -> float | None:
    """Seconds between lease extensions for ``task``, or None when it has no response timeout."""
    timeout = task.response_timeout_seconds
    if not timeout or timeout <= 0:
        return None
    return max(0.5, settings.lease_fraction * float(timeout))


def lease_extension_result(task: Task, worker_id: str) -> TaskResult:
    """The heartbeat that restarts the server's response-timeout clock for a running task."""
    return TaskResult(
        task_id=task.task_id,
        workflow_instance_id=task.workflow_instance_id,
        worker_id=worker_id,
        status=TaskResultStatus.IN_PROGRESS,
        extend_lease=True,
    )


def overdue_result(task: Task, worker_id: str, timeout: float) -> TaskResult:
    """FAILED result for an async task cancelled because it outlived its response timeout.

    The server times such a task out and retries it anyway; saying so at once spares the wait for
    its sweeper.
    """
    return TaskResult(
        task_id=task.task_id,
        workflow_instance_id=task.workflow_instance_id,
        worker_id=worker_id,
        status=TaskResultStatus.FAILED,
        reason_for_incompletion=(
            f"cancelled by the worker: ran longer than responseTimeoutSeconds ({timeout:g} s) "
            "without lease extension"
        ),
    )


class ExecutorBehaviour(Stage):
    """Bookkeeping around one execution (the call itself belongs to the flavour)."""

    def __init__(self, pipeline: PipelineState) -> None:
        self.pipeline = pipeline

    def begin(self, task: ValidTask) -> bool:
        """Claim ``task`` for running; False when it must not run (shutdown: it is handed back)."""
        pipeline = self.pipeline
        if pipeline.shutting_down.is_set():
            hand_back(pipeline, task)
            return False
        if not pipeline.ledger.transition(task.task_id, TaskState.RECEIVED, TaskState.RUNNING):
            return False  # handed back by the shutdown deadline while it waited
        pipeline.telemetry.execution_started(task)
        if pipeline.leases is not None:
            tell_quietly(pipeline.leases, LeaseTrack(task))
        return True

    def finish(self, task: ValidTask, outcome: ExecutionOutcome) -> Report | None:
        """Record the outcome; the report to send, or None when the task was handed back meanwhile."""
        pipeline = self.pipeline
        recycle = pipeline.recycling.after_task(pipeline.executed.add())  # max_tasks, and memory after every task
        if recycle is not None and pipeline.on_task_limit is not None:
            pipeline.on_task_limit(recycle)
        if pipeline.leases is not None:
            tell_quietly(pipeline.leases, LeaseRelease(task.task_id))
        pipeline.telemetry.execution_finished(
            task, failed=outcome.failed, cause=outcome.cause,
            duration=outcome.duration, output_size=outcome.output_size_bytes,
        )
        pipeline.task_log.finished(task, outcome)
        if pipeline.ledger.transition(task.task_id, TaskState.RUNNING, TaskState.REPORTING, outcome.result):
            return Report(task, outcome.result)
        _log.warning(
            "%s finished after the shutdown deadline and was already handed back; its result is dropped",
            pipeline.describe(task),
        )
        return None


class LeaseBehaviour(Stage):
    """Which running tasks need a lease extension, and when."""

    def __init__(self, pipeline: PipelineState) -> None:
        self.pipeline = pipeline
        self.tracked: dict[str, tuple[ValidTask, float, TimerHandle]] = {}

    def handle(self, message: Any) -> tuple[ValidTask, TaskResult] | None:
        """Process a message; returns (task, extension result) when an extension must be sent now."""
        if isinstance(message, LeaseTrack):
            interval = lease_interval(message.task, self.pipeline.runtime)
            if interval is not None:
                task_id = message.task.task_id
                self.tracked[task_id] = (message.task, interval, self.send_after(interval, LeaseBeat(task_id)))
        elif isinstance(message, LeaseRelease):
            entry = self.tracked.pop(message.task_id, None)
            if entry is not None:
                entry[2].cancel()
        elif isinstance(message, LeaseBeat):
            entry = self.tracked.get(message.task_id)
            if entry is not None:
                return entry[0], lease_extension_result(entry[0], self.pipeline.worker_id)
        return None

    def extended(self, task: ValidTask, error: BaseException | None) -> None:
        """The extension was sent (``error`` None) or failed; schedule the next one."""
        task_id = task.task_id
        entry = self.tracked.get(task_id)
        if entry is None:
            return  # the task finished meanwhile
        interval = entry[1]
        pipeline = self.pipeline
        pipeline.telemetry.lease_extended(error is None)
        delay = interval
        if error is not None:
            delay = min(1.0, interval / 4)
            _log.warning(
                "extending the lease of %s failed: %s; retrying in %.1f s", pipeline.describe(task), error, delay
            )
        self.tracked[task_id] = (task, interval, self.send_after(delay, LeaseBeat(task_id)))
