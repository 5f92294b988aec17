"""One place where the pipeline reports what happens: events and metrics.

Each happening (a poll, an execution, an update) is one call here. The hub
- publishes the official task-runner event to in-process listeners, synchronously, on the calling
  thread or loop (only when someone listens: no event object is built otherwise);
- forwards events of the types parent-side actors subscribed to (through ``forward``);
- records metric observations in the process's ``MetricsAccumulator``.

Called from every stage thread (sync flavour) or the loop (async flavour); thread-safe because the
dispatcher is immutable and the accumulator locks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..client import Task, TaskResult
from ..events import (
    PollCompleted,
    PollFailure,
    PollStarted,
    SyncEventDispatcher,
    TaskExecutionCompleted,
    TaskExecutionFailure,
    TaskExecutionStarted,
    TaskRunnerEvent,
    TaskUpdateFailure,
)
from ..metrics import MetricsAccumulator

__all__ = ["Telemetry"]

_SUCCESS, _FAILURE = "SUCCESS", "FAILURE"


class Telemetry:
    """Events + metrics for one worker (task type) in one process.

    Args:
        task_type: the worker's task definition name (the ``taskType`` label).
        worker_id: the worker id sent with polls and results.
        listeners: in-process listeners (``TaskRunnerEventsListener``-like objects).
        forward: receives each event whose class is in ``forward_types`` (e.g. the relay to the
            parent); runs on the publishing thread and must not block.
        metrics: where observations go; None disables metrics.
    """

    def __init__(
        self,
        task_type: str,
        worker_id: str,
        *,
        listeners: Iterable[object] = (),
        forward: Callable[[TaskRunnerEvent], None] | None = None,
        forward_types: Iterable[type[TaskRunnerEvent]] = (),
        metrics: MetricsAccumulator | None = None,
    ) -> None:
        self.task_type = task_type
        self.worker_id = worker_id
        sinks = [(cls, forward) for cls in forward_types] if forward is not None else []
        self._dispatcher = SyncEventDispatcher(listeners, sinks)
        self.metrics = metrics
        self._type_label = (task_type,)
        wants = self._dispatcher.wants
        self._want_poll_started = wants(PollStarted)
        self._want_poll_completed = wants(PollCompleted)
        self._want_poll_failure = wants(PollFailure)
        self._want_started = wants(TaskExecutionStarted)
        self._want_completed = wants(TaskExecutionCompleted)
        self._want_failure = wants(TaskExecutionFailure)

    def poll_started(self, count: int) -> None:
        if self.metrics is not None:
            self.metrics.inc("task_poll_total", self._type_label)
        if self._want_poll_started:
            self._dispatcher.publish(PollStarted(self.task_type, self.worker_id, count))

    def poll_completed(self, duration: float, received: int) -> None:
        if self.metrics is not None:
            self.metrics.observe("task_poll_time_seconds", (self.task_type, _SUCCESS), duration)
        if self._want_poll_completed:
            self._dispatcher.publish(PollCompleted(self.task_type, duration * 1000.0, received))

    def poll_failed(self, duration: float, cause: BaseException) -> None:
        if self.metrics is not None:
            self.metrics.observe("task_poll_time_seconds", (self.task_type, _FAILURE), duration)
            self.metrics.inc("task_poll_error_total", (self.task_type, type(cause).__name__))
        if self._want_poll_failure:
            self._dispatcher.publish(PollFailure(self.task_type, duration * 1000.0, cause))

    def execution_started(self, task: Task) -> None:
        if self.metrics is not None:
            self.metrics.inc("task_execution_started_total", self._type_label)
        if self._want_started:
            self._dispatcher.publish(
                TaskExecutionStarted(self.task_type, task.task_id or "", self.worker_id, task.workflow_instance_id)
            )

    def execution_finished(
        self, task: Task, *, failed: bool, cause: BaseException | None, duration: float, output_size: int
    ) -> None:
        metrics = self.metrics
        if metrics is not None:
            status = _FAILURE if failed else _SUCCESS
            metrics.observe("task_execute_time_seconds", (self.task_type, status), duration)
            metrics.observe("task_result_size_bytes", self._type_label, float(output_size))
            if failed:
                metrics.inc("task_execute_error_total", (self.task_type, type(cause).__name__ if cause else "Error"))
        if failed:
            if self._want_failure:
                self._dispatcher.publish(
                    TaskExecutionFailure(
                        self.task_type, task.task_id or "", self.worker_id, task.workflow_instance_id,
                        cause if cause is not None else RuntimeError("task failed"), duration * 1000.0,
                    )
                )
        elif self._want_completed:
            self._dispatcher.publish(
                TaskExecutionCompleted(
                    self.task_type, task.task_id or "", self.worker_id, task.workflow_instance_id,
                    duration * 1000.0, output_size,
                )
            )

    def update_sent(self, duration: float, error: BaseException | None) -> None:
        """One update call finished (``error`` None = accepted)."""
        if self.metrics is None:
            return
        self.metrics.observe(
            "task_update_time_seconds", (self.task_type, _SUCCESS if error is None else _FAILURE), duration
        )
        if error is not None:
            self.metrics.inc("task_update_error_total", (self.task_type, type(error).__name__))

    def update_failed(self, task: Task, result: TaskResult, cause: BaseException, attempts: int) -> None:
        """A result could not be delivered after every attempt: always published (and forwarded)."""
        if self.metrics is not None:
            self.metrics.inc("task_update_failed_total", self._type_label)
        self._dispatcher.publish(
            TaskUpdateFailure(
                self.task_type, task.task_id or "", self.worker_id, task.workflow_instance_id,
                cause, attempts, result,
            )
        )

    def handed_back(self, count: int = 1) -> None:
        if self.metrics is not None:
            self.metrics.inc("task_handback_total", self._type_label, float(count))

    def lease_extended(self, ok: bool) -> None:
        if self.metrics is not None:
            self.metrics.inc("task_lease_extend_total", (self.task_type, _SUCCESS if ok else _FAILURE))
