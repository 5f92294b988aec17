"""Task-runner events and listeners (official SDK names), plus in-process dispatch."""

from ._events import (
    PollCompleted,
    PollFailure,
    PollStarted,
    RemoteError,
    TaskExecutionCompleted,
    TaskExecutionFailure,
    TaskExecutionStarted,
    TaskRunnerEvent,
    TaskUpdateFailure,
)
from ._listeners import LISTENER_METHODS, SyncEventDispatcher, TaskRunnerEventsListener

__all__ = [
    "LISTENER_METHODS",
    "PollCompleted",
    "PollFailure",
    "PollStarted",
    "RemoteError",
    "SyncEventDispatcher",
    "TaskExecutionCompleted",
    "TaskExecutionFailure",
    "TaskExecutionStarted",
    "TaskRunnerEvent",
    "TaskRunnerEventsListener",
    "TaskUpdateFailure",
]
