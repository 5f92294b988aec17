"""Logging for people and for log aggregators: the formats, the TRACE level, and the task log.

- ``configure_logging`` sets up the root handler of the parent (the command line) and of every
  worker process: ``text`` (the default, one readable line) or ``json`` (one JSON object per line:
  ``time``, ``level``, ``logger``, ``message``, ``pid``, ``worker``, ``task_id`` and
  ``workflow_id`` when the line is about a task, ``traceback`` when there is one).
- ``TRACE`` (5) sits below DEBUG: per-poll lines go there, so DEBUG stays readable on idle workers.
- ``TaskLog`` writes the per-task lines on the ``conductor_actors.tasks`` logger: every failed task
  once (ERROR with the traceback for an unexpected exception, WARNING for a failure the worker
  chose: ``NonRetryableException``, input or output that breaks the contract, a returned FAILED
  result), rate limited per (task type, kind of failure); and, when that logger is at INFO
  (``--log-tasks``), ``task X of type T completed in N ms`` for every task.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

__all__ = [
    "FAILURE_BURST",
    "FAILURE_INTERVAL",
    "LOG_FORMATS",
    "TASK_LOGGER",
    "TRACE",
    "JsonFormatter",
    "TaskLog",
    "configure_logging",
    "text_formatter",
]

#: Below DEBUG: one line per poll and per HTTP exchange of a poll.
TRACE = 5
logging.addLevelName(TRACE, "TRACE")

#: The logger of the per-task lines (failures always; completions with ``--log-tasks``).
TASK_LOGGER = "conductor_actors.tasks"
#: ``--log-format`` values.
LOG_FORMATS = ("text", "json")
#: Failures of one (task type, kind) logged in full per interval; the rest are counted.
FAILURE_BURST = 5
#: Seconds of one rate-limiting interval of the failure lines.
FAILURE_INTERVAL = 60.0

_TEXT_FORMAT = "%(asctime)s %(levelname)-7s [%(processName)s %(process)d] %(name)s: %(message)s"
#: Loggers of the HTTP libraries: one line per request below WARNING.
_NOISY = ("httpx", "httpcore", "urllib3")


def text_formatter() -> logging.Formatter:
    """The default format: time, level, ``[process name pid]``, logger, message."""
    return logging.Formatter(_TEXT_FORMAT)


class JsonFormatter(logging.Formatter):
    """One JSON object per line for log aggregators.

    ``worker`` is the worker process's key (None in the parent); ``task_id`` and ``workflow_id``
    appear when the line was logged with them (``extra={"task_id": ..., "workflow_id": ...}``).
    A traceback goes into ``traceback`` instead of following lines. Runs on the logging thread;
    never raises for an odd message (``logging`` reports formatting errors itself).
    """

    def __init__(self, worker: str | None = None) -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _iso_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
            "worker": self.worker,
        }
        for name in ("task_id", "workflow_id", "task_type"):
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["traceback"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.stack_info:
            entry["traceback"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


def _iso_time(created: float) -> str:
    """``2024-05-01T12:00:00.123Z`` (UTC, milliseconds)."""
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def configure_logging(
    level: int | str,
    log_format: str = "text",
    *,
    log_tasks: bool = False,
    worker: str | None = None,
    stream: TextIO | None = None,
) -> None:
    """Set up the root handler (once: a root logger that already has handlers, e.g. configured
    by the embedding program, keeps them) and the levels of the runtime's loggers.

    ``log_tasks`` puts ``conductor_actors.tasks`` at INFO (one line per completed task); otherwise
    it logs only failures (WARNING and up). ``worker`` names the worker process in JSON lines.
    Raises ``ValueError`` for an unknown format or level name. Runs on the main thread at start.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r}: expected one of {', '.join(LOG_FORMATS)}")
    numeric = _level_number(level)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr if stream is None else stream)
        handler.setFormatter(JsonFormatter(worker) if log_format == "json" else text_formatter())
        root.addHandler(handler)
    root.setLevel(numeric)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
    logging.getLogger(TASK_LOGGER).setLevel(numeric if log_tasks else max(numeric, logging.WARNING))


def _level_number(level: int | str) -> int:
    if isinstance(level, int):
        return level
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ValueError(f"log level {level!r}: not a logging level name")
    return number


# -- the task log ---------------------------------------------------------------------------------


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

    def finished(self, task: Any, outcome: Any) -> None:
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

    def _failed(self, task: Any, failure: _Failure) -> None:
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


def _classify(outcome: Any) -> _Failure | None:
    """How a task's outcome is logged: None for a success (or IN_PROGRESS)."""
    result = outcome.result
    status = getattr(result.status, "value", result.status)
    if not outcome.failed and status not in ("FAILED", "FAILED_WITH_TERMINAL_ERROR"):
        return None  # the common case, before any formatting
    from .worker import NonRetryableException  # loaded by then; not at import (cycle)

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


def _attempt(task: Any) -> int:
    return int(getattr(task, "retry_count", 0) or 0) + 1


def _ids(task: Any, task_type: str) -> dict[str, Any]:
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
