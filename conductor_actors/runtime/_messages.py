"""Messages between the pipeline stages of one worker process (poller -> executor -> updater).

All frozen and slotted; a stage never calls another stage's methods, it tells one of these.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..client import Task, TaskResult

__all__ = [
    "Beat",
    "CancelRunning",
    "CancelSends",
    "Execute",
    "Flush",
    "LeaseBeat",
    "LeaseRelease",
    "LeaseTrack",
    "Pause",
    "PollTick",
    "Purpose",
    "Report",
    "Resume",
    "SlotsFreed",
    "StopPolling",
]


class Purpose(enum.Enum):
    """Why a result is being sent: it decides the endpoint and what success means."""

    RESULT = "result"  # the outcome of an execution: update-v2 may chain the next task
    HANDBACK = "handback"  # return an unstarted task to the server (IN_PROGRESS, callback 0)


@dataclass(frozen=True, slots=True)
class PollTick:
    """Poller -> itself: poll now if slots are free and nothing forbids it."""


@dataclass(frozen=True, slots=True)
class SlotsFreed:
    """Updater -> poller: ``count`` tasks were settled; their slots are free again."""

    count: int = 1


@dataclass(frozen=True, slots=True)
class Pause:
    """Stop polling until ``Resume`` (running tasks continue)."""


@dataclass(frozen=True, slots=True)
class Resume:
    """Poll again after ``Pause``."""


@dataclass(frozen=True, slots=True)
class StopPolling:
    """Runner -> poller: poll no more (a stop was asked for)."""


@dataclass(frozen=True, slots=True)
class Beat:
    """A stage -> itself, on a timer: report liveness."""


@dataclass(frozen=True, slots=True)
class Execute:
    """Poller or updater -> executor: run the worker function for ``task`` (its slot is taken)."""

    task: Task


@dataclass(frozen=True, slots=True)
class Report:
    """Executor or runner -> updater: send ``result`` for ``task``. ``attempt`` is 1-based;
    ``v1_only``: send it over POST /tasks, never update-v2 (its update-v2 answer was too large)."""

    task: Task
    result: TaskResult
    purpose: Purpose = Purpose.RESULT
    attempt: int = 1
    v1_only: bool = False


@dataclass(frozen=True, slots=True)
class CancelRunning:
    """Runner -> async executor, at the shutdown deadline: cancel every running coroutine."""


@dataclass(frozen=True, slots=True)
class CancelSends:
    """Runner -> async updater / lease keeper, after the flush deadline: cancel the sends in flight
    and answer with their coroutines (the runner awaits them)."""


@dataclass(frozen=True, slots=True)
class Flush:
    """Runner -> updater: send every result waiting for a retry now, once."""


@dataclass(frozen=True, slots=True)
class LeaseTrack:
    """Executor -> lease keeper: ``task`` started running; extend its lease until released."""

    task: Task


@dataclass(frozen=True, slots=True)
class LeaseRelease:
    """Executor -> lease keeper: the task finished; stop extending its lease."""

    task_id: str


@dataclass(frozen=True, slots=True)
class LeaseBeat:
    """Lease keeper -> itself, on a timer: time to extend the lease of ``task_id``."""

    task_id: str
