"""One place where the pipeline reports what happens: events and metrics, the per-task log
lines, and the relay that carries what the parent needs over the pipe.

- ``Telemetry``: each happening (a poll, an execution, an update) is one call. It publishes the
  official task-runner event to in-process listeners, synchronously, on the calling thread or loop
  (only when someone listens: no event object is built otherwise); forwards events of the types
  parent-side actors subscribed to (through ``forward``); records metric observations in the
  process's ``MetricsAccumulator``. Called from every stage thread (sync flavour) or the loop
  (async flavour); thread-safe because the dispatcher is immutable and the accumulator locks.
- ``TaskLog`` writes the per-task lines on the ``conductor_actors.tasks`` logger: every failed task
  once (ERROR with the traceback for an unexpected exception, WARNING for a failure the worker
  chose: ``NonRetryableException``, input or output that breaks the contract, a returned FAILED
  result), rate limited per (task type, kind of failure); and, when that logger is at INFO
  (``--log-tasks``), ``task X of type T completed in N ms`` for every task.
- ``Relay``: in a worker process, the one writer on the pipe to the parent. It batches the events
  parent-side actors subscribed to together with the metric deltas every ``relay_interval``, sends
  a ``Heartbeat`` (with each stage's liveness) every ``heartbeat_interval``, and sends ``Ready``,
  ``UndeliveredResult`` and ``Exiting`` at once. A thread actor; other threads only tell it. If the
  parent is gone (broken pipe) it stops writing and says so once; the control reader notices the
  same and stops the worker.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from .._logging import TASK_LOGGER
from ..actors import ThreadActor
from ..client import TaskResult
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
from ..worker import ExecutionOutcome, NonRetryableException
from ._messages import (
    EventBatch,
    Heartbeat,
    SendNow,
    SetProbe,
    ShipNow,
    UndeliveredResult,
    ValidTask,
    picklable_error,
    picklable_event,
)

__all__ = ["FAILURE_BURST", "FAILURE_INTERVAL", "Relay", "TaskLog", "Telemetry"]

_log = logging.getLogger("conductor_actors.runtime")

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

    def execution_started(self, task: ValidTask) -> None:
        if self.metrics is not None:
            self.metrics.inc("task_execution_started_total", self._type_label)
        if self._want_started:
            self._dispatcher.publish(
                TaskExecutionStarted(self.task_type, task.task_id, self.worker_id, task.workflow_instance_id)
            )

    def execution_finished(
        self, task: ValidTask, *, failed: bool, cause: BaseException | None, duration: float, output_size: int
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
                        self.task_type, task.task_id, self.worker_id, task.workflow_instance_id,
                        cause if cause is not None else RuntimeError("task failed"), duration * 1000.0,
                    )
                )
        elif self._want_completed:
            self._dispatcher.publish(
                TaskExecutionCompleted(
                    self.task_type, task.task_id, self.worker_id, task.workflow_instance_id,
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

    def update_failed(self, task: ValidTask, result: TaskResult, cause: BaseException, attempts: int) -> None:
        """A result could not be delivered after every attempt: always published (and forwarded)."""
        if self.metrics is not None:
            self.metrics.inc("task_update_failed_total", self._type_label)
        self._dispatcher.publish(
            TaskUpdateFailure(
                self.task_type, task.task_id, self.worker_id, task.workflow_instance_id,
                cause, attempts, result,
            )
        )

    def handed_back(self, count: int = 1) -> None:
        if self.metrics is not None:
            self.metrics.inc("task_handback_total", self._type_label, float(count))

    def lease_extended(self, ok: bool) -> None:
        if self.metrics is not None:
            self.metrics.inc("task_lease_extend_total", (self.task_type, _SUCCESS if ok else _FAILURE))

    def request_observer(self) -> Callable[[str, str, int, float], None] | None:
        """The client's ``on_request`` hook feeding ``http_api_client_request_seconds`` (None
        without metrics); called on the thread or loop of each request."""
        metrics = self.metrics
        if metrics is None:
            return None

        def observe(method: str, uri: str, status: int, seconds: float) -> None:
            metrics.observe("http_api_client_request_seconds", (method, uri, str(status)), seconds)

        return observe


# -- the task log ---------------------------------------------------------------------------------


#: Failures of one (task type, kind) logged in full per interval; the rest are counted.
FAILURE_BURST = 5
#: Seconds of one rate-limiting interval of the failure lines.
FAILURE_INTERVAL = 60.0


@dataclass(frozen=True)
class _Failure:
    """One failed task as the log line describes it."""

    level: int
    kind: str  # the exception's class name, or what the worker chose ("FAILED", "bad input")
    text: str  # what happened, after "task X of type T (workflow W, attempt N)"
    exc: BaseException | None  # logged with its traceback (unexpected exceptions only)


class _Window:
    """One (task type, kind) in the current interval: lines logged and failures suppressed."""

    __slots__ = ("last", "level", "logged", "started", "suppressed")

    def __init__(self, started: float, level: int) -> None:
        self.started = started
        self.level = level
        self.logged = 0
        self.suppressed = 0
        self.last = ""


class TaskLog:
    """The per-task lines of one worker in one process.

    Every failed task is logged once, with task type, task id, workflow id and attempt (the task's
    ``retryCount`` + 1). So that a failing dependency cannot flood the log, the first ``burst``
    failures of one (task type, kind) in an ``interval`` are logged in full; the others are
    counted, and one line per interval says how many were suppressed (written by the next failure
    after the interval, or by ``flush``, which the poller calls on its heartbeat).

    Thread-safe (the sync flavour's executor threads call it concurrently); ``clock`` is the
    monotonic clock the intervals are measured on (tests pass a fake one). Never raises for what
    a worker returned or raised.
    """

    def __init__(
        self,
        task_type: str,
        *,
        burst: int = FAILURE_BURST,
        interval: float = FAILURE_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger | None = None,
    ) -> None:
        self.task_type = task_type
        self.burst = burst
        self.interval = interval
        self._clock = clock
        self._logger = logger if logger is not None else logging.getLogger(TASK_LOGGER)
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def finished(self, task: ValidTask, outcome: ExecutionOutcome) -> None:
        """One task ran: ``outcome`` is its ``ExecutionOutcome``. Logs a failure (always) or the
        completion line (only when the task logger is at INFO)."""
        failure = _classify(outcome)
        if failure is not None:
            self._failed(task, failure)
        elif self._logger.isEnabledFor(logging.INFO):
            status = getattr(outcome.result.status, "value", outcome.result.status)
            verb = "completed" if status == "COMPLETED" else f"returned {status}"
            self._logger.info(
                "task %s of type %s %s in %s", task.task_id, self.task_type, verb, _millis(outcome.duration),
                extra=_ids(task, self.task_type),
            )

    def _failed(self, task: ValidTask, failure: _Failure) -> None:
        now = self._clock()
        with self._lock:
            summaries = self._expired(now)
            window = self._windows.get(failure.kind)
            if window is None:
                window = self._windows[failure.kind] = _Window(now, failure.level)
            what = f"task {task.task_id} of type {self.task_type} (workflow {task.workflow_instance_id}, " \
                   f"attempt {_attempt(task)})"
            full = window.logged < self.burst
            if full:
                window.logged += 1
            else:
                window.suppressed += 1
                window.last = f"{what} {failure.text}"
        for line in summaries:
            self._summary(*line)
        if full:
            exc_info = None
            if failure.exc is not None:
                tb = failure.exc.__traceback__  # its first frame is the runtime's call of the function
                exc_info = (type(failure.exc), failure.exc, tb.tb_next if tb is not None else None)
            self._logger.log(failure.level, "%s %s", what, failure.text, exc_info=exc_info,
                             extra=_ids(task, self.task_type))
            if window.logged == self.burst:
                self._logger.log(
                    failure.level, "%d %s failures of %s tasks within %s: further ones are counted and "
                    "summarised once per %s", self.burst, failure.kind, self.task_type,
                    _seconds(self.interval), _seconds(self.interval), extra={"task_type": self.task_type},
                )

    def flush(self, *, final: bool = False) -> None:
        """Write the summary of every interval that ended with suppressed failures; with ``final``
        (the worker is stopping) of every interval still open too, so no count is lost. Any thread."""
        with self._lock:
            summaries = self._expired(self._clock(), final=final)
        for line in summaries:
            self._summary(*line)

    def _expired(self, now: float, *, final: bool = False) -> list[tuple[int, str, int, str, str]]:
        """Remove the windows whose interval ended (all with ``final``); returns the summaries they
        owe. Under the lock."""
        owed = []
        for kind, window in list(self._windows.items()):
            elapsed = now - window.started
            if final or elapsed >= self.interval:
                del self._windows[kind]
                if window.suppressed:
                    span = _seconds(self.interval) if elapsed >= self.interval else f"{elapsed:.1f} s"
                    owed.append((window.level, kind, window.suppressed, window.last, span))
        return owed

    def _summary(self, level: int, kind: str, count: int, last: str, span: str) -> None:
        self._logger.log(
            level, "suppressed %d more %s failure(s) of %s tasks in the last %s; the last: %s",
            count, kind, self.task_type, span, last, extra={"task_type": self.task_type},
        )


def _classify(outcome: ExecutionOutcome) -> _Failure | None:
    """How a task's outcome is logged: None for a success (or IN_PROGRESS)."""
    result = outcome.result
    status = getattr(result.status, "value", result.status)
    if not outcome.failed and status not in ("FAILED", "FAILED_WITH_TERMINAL_ERROR"):
        return None  # the common case, before any formatting
    reason = " ".join(str(result.reason_for_incompletion or "").split())
    if outcome.failed:
        cause = outcome.cause
        if status == "FAILED_WITH_TERMINAL_ERROR":
            if isinstance(cause, NonRetryableException):
                return _Failure(logging.WARNING, "NonRetryableException",
                                f"failed terminally (NonRetryableException): {reason}", None)
            # contract_violation: the input could not be bound or the output is not JSON
            return _Failure(logging.WARNING, "bad input or output",
                            f"failed terminally: the input or output breaks the worker's contract: {reason}", None)
        name = type(cause).__name__ if cause is not None else "Error"
        # The reason of a BaseException that is not an Exception already starts with its type.
        named = cause is not None and not isinstance(cause, Exception)
        return _Failure(logging.ERROR, name, f"failed: {reason}" if named else f"failed: {name}: {reason}", cause)
    text = f"returned {status}" + (f": {reason}" if reason else "")
    return _Failure(logging.WARNING, f"returned {status}", text, None)


def _attempt(task: ValidTask) -> int:
    return int(getattr(task, "retry_count", 0) or 0) + 1


def _ids(task: ValidTask, task_type: str) -> dict[str, Any]:
    return {"task_id": task.task_id, "workflow_id": task.workflow_instance_id, "task_type": task_type}


def _millis(seconds: float) -> str:
    """``12 ms``; ``1.5 ms`` below 10 ms, ``0.04 ms`` below 1 ms; ``12.31 s`` from 10 s."""
    if seconds >= 10:
        return f"{seconds:.2f} s"
    millis = seconds * 1000.0
    if millis < 1:
        return f"{millis:.2f} ms"
    return f"{millis:.1f} ms" if millis < 10 else f"{millis:.0f} ms"


def _seconds(value: float) -> str:
    return f"{value:g} s"


# -- the relay ------------------------------------------------------------------------------------


#: Most events kept between two batches; beyond it the oldest are dropped (and counted).
MAX_BUFFERED_EVENTS = 20_000


class _FlushDue:
    pass


class _HeartbeatDue:
    pass


_FLUSH, _HEARTBEAT = _FlushDue(), _HeartbeatDue()


class Relay(ThreadActor):
    """Ships what the parent needs from this worker process.

    Args:
        conn: the child's end of the pipe.
        relay_interval / heartbeat_interval: seconds between batches / heartbeats.
        metrics: the process's accumulator (None = no metrics).

    ``probe`` (set once the pipeline runs) returns ``(stage ages, tasks in flight)`` for heartbeats.
    """

    use_daemon_thread = True

    def __init__(
        self,
        conn: Connection,
        *,
        relay_interval: float,
        heartbeat_interval: float,
        metrics: MetricsAccumulator | None,
    ) -> None:
        self.conn = conn
        self.relay_interval = relay_interval
        self.heartbeat_interval = heartbeat_interval
        self.metrics = metrics
        self.probe: Callable[[], tuple[tuple[tuple[str, float], ...], int]] | None = None
        self.polling: Callable[[], tuple[float | None, str | None, bool]] | None = None
        self.events: deque[TaskRunnerEvent] = deque(maxlen=MAX_BUFFERED_EVENTS)
        self.dropped = 0
        self.broken = False
        self.pid = os.getpid()

    def on_start(self) -> None:
        self.send_after(self.relay_interval, _FLUSH)
        self.send_after(self.heartbeat_interval, _HEARTBEAT)

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, TaskRunnerEvent):
            if len(self.events) == MAX_BUFFERED_EVENTS:
                self.dropped += 1
            self.events.append(message)
        elif isinstance(message, _FlushDue):
            self._flush()
            self.send_after(self.relay_interval, _FLUSH)
        elif isinstance(message, _HeartbeatDue):
            self._heartbeat()
            self.send_after(self.heartbeat_interval, _HEARTBEAT)
        elif isinstance(message, SetProbe):
            self.probe, self.polling = message.probe, message.polling
        elif isinstance(message, SendNow):
            self._flush()
            self._send(message.message)
        elif isinstance(message, UndeliveredResult):
            self._flush()
            self._send(
                UndeliveredResult(message.task_type, message.result, picklable_error(message.cause), message.attempts)
            )
        elif isinstance(message, ShipNow):
            self._flush()
            return True
        return None

    def _flush(self) -> None:
        events = tuple(picklable_event(e) for e in self.events)
        self.events.clear()
        if self.dropped:
            _log.warning("the parent was too slow: %d event(s) were dropped", self.dropped)
            self.dropped = 0
        delta = self.metrics.drain() if self.metrics is not None else None
        if events or delta:
            self._send(EventBatch(events, delta or None))

    def _heartbeat(self) -> None:
        ages, in_flight = self.probe() if self.probe is not None else ((), 0)
        polling = self.polling() if self.polling is not None else None
        self._send(Heartbeat(self.pid, ages, in_flight, polling))

    def _send(self, message: Any) -> None:
        if self.broken:
            return
        try:
            self.conn.send(message)
        except (OSError, EOFError, ValueError) as exc:
            self.broken = True
            _log.warning("the parent process is gone (%s); nothing more is sent to it", exc)
