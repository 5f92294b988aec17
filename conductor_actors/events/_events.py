"""The seven task-runner events, with the official SDK's class and field names.

Every event is a frozen dataclass carrying ``task_type`` and a UTC ``timestamp``. Durations are
milliseconds (``duration_ms``), as in the official SDK; ``output_size_bytes`` is the size of the
serialised task output. Events pickle, so they can travel from a worker process to the parent;
an exception in ``cause`` that cannot be pickled is replaced by ``RemoteError`` on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..client import TaskResult

__all__ = [
    "PollCompleted",
    "PollFailure",
    "PollStarted",
    "RemoteError",
    "TaskExecutionCompleted",
    "TaskExecutionFailure",
    "TaskExecutionStarted",
    "TaskRunnerEvent",
    "TaskUpdateFailure",
]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class TaskRunnerEvent:
    """Base of the task-runner events."""

    task_type: str
    timestamp: datetime = field(default_factory=_utc_now, kw_only=True, compare=False)


@dataclass(frozen=True)
class PollStarted(TaskRunnerEvent):
    """A batch poll is about to be sent; ``poll_count`` = tasks asked for."""

    worker_id: str
    poll_count: int


@dataclass(frozen=True)
class PollCompleted(TaskRunnerEvent):
    """A batch poll answered; ``tasks_received`` may be 0."""

    duration_ms: float
    tasks_received: int


@dataclass(frozen=True)
class PollFailure(TaskRunnerEvent):
    """A batch poll failed (network, HTTP error, unreadable answer)."""

    duration_ms: float
    cause: BaseException


@dataclass(frozen=True)
class TaskExecutionStarted(TaskRunnerEvent):
    """The worker function is about to run for a task."""

    task_id: str
    worker_id: str
    workflow_instance_id: str | None = None


@dataclass(frozen=True)
class TaskExecutionCompleted(TaskRunnerEvent):
    """The worker function returned (any result it asked for, including IN_PROGRESS)."""

    task_id: str
    worker_id: str
    workflow_instance_id: str | None
    duration_ms: float
    output_size_bytes: int | None = None


@dataclass(frozen=True)
class TaskExecutionFailure(TaskRunnerEvent):
    """The worker function raised, or its input or output broke the task's contract."""

    task_id: str
    worker_id: str
    workflow_instance_id: str | None
    cause: BaseException
    duration_ms: float


@dataclass(frozen=True)
class TaskUpdateFailure(TaskRunnerEvent):
    """Reporting a result failed after every attempt; ``task_result`` is the full result."""

    task_id: str
    worker_id: str
    workflow_instance_id: str | None
    cause: BaseException
    retry_count: int
    task_result: TaskResult


class RemoteError(Exception):
    """Stands in for an exception that could not be pickled across processes.

    ``type_name`` is the original class's qualified name; ``str()`` is its message.
    """

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name

    def __reduce__(self) -> tuple[type[RemoteError], tuple[str, str]]:
        return (RemoteError, (self.type_name, str(self)))

    def __repr__(self) -> str:
        return f"RemoteError({self.type_name}: {self})"

    @classmethod
    def of(cls, exc: BaseException) -> RemoteError:
        kind = type(exc)
        return cls(f"{kind.__module__}.{kind.__qualname__}", str(exc))
