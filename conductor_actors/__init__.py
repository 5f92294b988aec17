"""conductor_actors: a supervised, actor-based runtime for Conductor task workers.

Write workers as plain functions::

    from conductor_actors import worker_task

    @worker_task(task_definition_name="charge_payment", thread_count=20)
    def charge_payment(order_id: str, amount: float) -> dict:
        ...

and run them with ``python -m conductor_actors my_app.workers`` or ``TaskHandler`` from code.
Names a worker process does not need (the handler, the clients, the runner) load on first use.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .actors import ActorFailed, ActorRef, AsyncioActor, ThreadActor
from .client import (
    AuthenticationSettings,
    AuthorizationError,
    ConductorError,
    ConductorHTTPError,
    Configuration,
    NotFoundError,
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
from .metrics._settings import MetricsSettings
from .runtime._settings import RuntimeSettings
from .worker import (
    NonRetryableException,
    TaskContext,
    TaskInProgress,
    Worker,
    WorkerConfig,
    WorkerConfigError,
    WorkerInterface,
    WorkerLoader,
    WorkerTask,
    auto_discover_workers,
    get_registered_worker_names,
    get_registered_workers,
    get_task_context,
    resolve_worker_config,
    scan_for_workers,
    worker_task,
)

if TYPE_CHECKING:
    from .client import AsyncConductorClient, ConductorClient
    from .handler import TaskHandler, TaskHandlerError
    from .runtime._runner import WorkerRunner, run_worker
    from .runtime._shutdown import StopReport
    from .supervision import SupervisionSettings

logging.getLogger("conductor_actors").addHandler(logging.NullHandler())

__all__ = [
    "ActorFailed",
    "ActorRef",
    "AsyncConductorClient",
    "AsyncioActor",
    "AuthenticationSettings",
    "AuthorizationError",
    "ConductorClient",
    "ConductorError",
    "ConductorHTTPError",
    "Configuration",
    "MetricsSettings",
    "NonRetryableException",
    "NotFoundError",
    "PollCompleted",
    "PollFailure",
    "PollStarted",
    "RuntimeSettings",
    "StopReport",
    "SupervisionSettings",
    "Task",
    "TaskContext",
    "TaskDef",
    "TaskExecLog",
    "TaskExecutionCompleted",
    "TaskExecutionFailure",
    "TaskExecutionStarted",
    "TaskHandler",
    "TaskHandlerError",
    "TaskInProgress",
    "TaskResult",
    "TaskResultStatus",
    "TaskRunnerEvent",
    "TaskRunnerEventsListener",
    "TaskUpdateFailure",
    "ThreadActor",
    "Worker",
    "WorkerConfig",
    "WorkerConfigError",
    "WorkerInterface",
    "WorkerLoader",
    "WorkerRunner",
    "WorkerTask",
    "__version__",
    "auto_discover_workers",
    "get_registered_worker_names",
    "get_registered_workers",
    "get_task_context",
    "resolve_worker_config",
    "run_worker",
    "scan_for_workers",
    "worker_task",
]

#: Public names whose modules load on first use (name -> module relative to this package).
_LAZY = {
    "AsyncConductorClient": ".client",
    "ConductorClient": ".client",
    "StopReport": ".runtime._shutdown",
    "SupervisionSettings": ".supervision",
    "TaskHandler": ".handler",
    "TaskHandlerError": ".handler",
    "WorkerRunner": ".runtime._runner",
    "run_worker": ".runtime._runner",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
