"""Messages between the parent (supervisor) and a worker process, over one pipe per child.

Parent -> child: ``Stop``, ``Pause``, ``Resume``.
Child -> parent: ``Ready``, ``Heartbeat``, ``EventBatch`` (events parent-side actors subscribed to,
plus pre-aggregated metric deltas), ``UndeliveredResult`` (a result whose update failed finally, for
the recovery actor), ``Exiting``.

All frozen dataclasses of plain, picklable data. Exceptions carried inside are made picklable on
the child's side (``picklable_error``) so one odd exception class cannot break the pipe.
"""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass
from typing import Any

from ..client import TaskResult
from ..events import RemoteError, TaskRunnerEvent
from ..metrics import MetricsDelta

__all__ = [
    "EventBatch",
    "Exiting",
    "Heartbeat",
    "Pause",
    "Ready",
    "Resume",
    "Stop",
    "UndeliveredResult",
    "picklable_error",
    "picklable_event",
]


@dataclass(frozen=True)
class Stop:
    """Stop gracefully: running tasks get ``grace`` seconds, then results ``flush`` seconds more."""

    grace: float
    flush: float


@dataclass(frozen=True)
class Pause:
    """Stop polling until ``Resume``; running tasks continue."""


@dataclass(frozen=True)
class Resume:
    """Poll again."""


@dataclass(frozen=True)
class Ready:
    """The worker process imported its worker, built its pipeline and is about to poll."""

    pid: int
    task_type: str
    flavour: str  # "sync" or "async"
    worker_id: str


@dataclass(frozen=True)
class Heartbeat:
    """Liveness: seconds since each watched stage loop last ran (``(stage, age)`` pairs)."""

    pid: int
    stage_ages: tuple[tuple[str, float], ...]
    in_flight: int
    #: For readiness: (seconds since the last successful poll or None, the last poll error or
    #: None, polling paused); None from a process that does not say.
    polling: tuple[float | None, str | None, bool] | None = None


@dataclass(frozen=True)
class EventBatch:
    """Events parent-side actors subscribed to, and the metric changes since the last batch."""

    events: tuple[TaskRunnerEvent, ...]
    metrics: MetricsDelta | None


@dataclass(frozen=True)
class UndeliveredResult:
    """A result the worker could not deliver; the parent keeps it for later delivery."""

    task_type: str
    result: TaskResult
    cause: BaseException
    attempts: int


@dataclass(frozen=True)
class Exiting:
    """The worker process is about to exit; ``reason`` is a short human sentence."""

    reason: str
    code: int


def picklable_error(exc: BaseException) -> BaseException:
    """``exc`` itself if it survives pickling, else a ``RemoteError`` with its class name and message."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RemoteError.of(exc)
    return exc


def picklable_event(event: Any) -> Any:
    """``event`` with its ``cause`` made picklable (events are frozen: a copy when needed)."""
    cause = getattr(event, "cause", None)
    if cause is None:
        return event
    safe = picklable_error(cause)
    if safe is cause:
        return event
    return dataclasses.replace(event, cause=safe)
