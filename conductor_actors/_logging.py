"""Logging for people and for log aggregators: the formats and the TRACE level.

- ``configure_logging`` sets up the root handler of the parent (the command line) and of every
  worker process: ``text`` (the default, one readable line) or ``json`` (one JSON object per line:
  ``time``, ``level``, ``logger``, ``message``, ``pid``, ``worker``, ``task_id`` and
  ``workflow_id`` when the line is about a task, ``traceback`` when there is one).
- ``TRACE`` (5) sits below DEBUG: per-poll lines go there, so DEBUG stays readable on idle workers.
- ``TASK_LOGGER`` is the logger of the per-task lines (written by the runtime's task log): at
  INFO with ``--log-tasks``, else only failures.

Imports nothing of the package: every layer may use it.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from typing import Any, TextIO

__all__ = [
    "LOG_FORMATS",
    "TASK_LOGGER",
    "TRACE",
    "JsonFormatter",
    "configure_logging",
    "level_number",
    "text_formatter",
]

#: Below DEBUG: one line per poll and per HTTP exchange of a poll.
TRACE = 5
logging.addLevelName(TRACE, "TRACE")

#: The logger of the per-task lines (failures always; completions with ``--log-tasks``).
TASK_LOGGER = "conductor_actors.tasks"
#: ``--log-format`` values.
LOG_FORMATS = ("text", "json")

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
    numeric = level_number(level)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr if stream is None else stream)
        handler.setFormatter(JsonFormatter(worker) if log_format == "json" else text_formatter())
        root.addHandler(handler)
    root.setLevel(numeric)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
    logging.getLogger(TASK_LOGGER).setLevel(numeric if log_tasks else max(numeric, logging.WARNING))


def level_number(level: int | str) -> int:
    """A logging level from a number or a name (any case; ``TRACE`` included, since this module
    registers it on import). Raises ``ValueError`` for an unknown name. Runs on the caller's thread.
    """
    if isinstance(level, int):
        return level
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ValueError(f"log_level={level!r}: not a logging level name")
    return number
