"""conductor_actors: a supervised, actor-based runtime for Conductor task workers.

The public API is re-exported here; everything else is private to the package.
"""

from __future__ import annotations

import logging

from ._version import __version__
from .client import (
    AuthenticationSettings,
    Configuration,
    Task,
    TaskDef,
    TaskExecLog,
    TaskResult,
    TaskResultStatus,
)
from .events import (
    PollCompleted,
    PollFailure,
    PollStarted,
    TaskExecutionCompleted,
    TaskExecutionFailure,
    TaskExecutionStarted,
    TaskRunnerEvent,
    TaskRunnerEventsListener,
    TaskUpdateFailure,
)

logging.getLogger("conductor_actors").addHandler(logging.NullHandler())

__all__ = [
    "AuthenticationSettings",
    "Configuration",
    "PollCompleted",
    "PollFailure",
    "PollStarted",
    "Task",
    "TaskDef",
    "TaskExecLog",
    "TaskExecutionCompleted",
    "TaskExecutionFailure",
    "TaskExecutionStarted",
    "TaskResult",
    "TaskResultStatus",
    "TaskRunnerEvent",
    "TaskRunnerEventsListener",
    "TaskUpdateFailure",
    "__version__",
]
