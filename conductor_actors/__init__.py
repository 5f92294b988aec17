"""conductor_actors: a supervised, actor-based runtime for Conductor task workers.

Write workers as plain functions::

    from conductor_actors import worker_task

    @worker_task(task_definition_name="charge_payment", thread_count=20)
    def charge_payment(order_id: str, amount: float) -> dict:
        ...

and run them with ``python -m conductor_actors my_app.workers`` or ``TaskHandler`` from code.
Every name loads on first use, so a worker process imports only what its flavour needs.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .actors import (
        ActorFailed,
        ActorRef,
        AsyncioActor,
        ThreadActor,
    )
    from .client import (
        AsyncConductorClient,
        AsyncMetadataClient,
        AsyncWorkflowClient,
        AsyncWorkflowExecutor,
        AuthenticationSettings,
        AuthorizationError,
        ConductorClient,
        ConductorError,
        ConductorHTTPError,
        Configuration,
        IdempotencyStrategy,
        MetadataClient,
        NotFoundError,
        OrkesClients,
        OrkesMetadataClient,
        OrkesWorkflowClient,
        StartWorkflowRequest,
        Task,
        TaskDef,
        TaskExecLog,
        TaskResult,
        TaskResultStatus,
        Workflow,
        WorkflowClient,
        WorkflowDef,
        WorkflowExecutor,
        WorkflowRun,
        WorkflowTask,
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
    from .handler import (
        TaskHandler,
        TaskHandlerError,
    )
    from .runtime import (
        StopReport,
        WorkerRunner,
        run_worker,
    )
    from .settings import (
        MetricsSettings,
        MetricsSettingsError,
        RuntimeSettings,
        SupervisionSettings,
    )
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
        generate_json_schema_from_function,
        get_registered_worker_names,
        get_registered_workers,
        get_task_context,
        get_worker_config_oneline,
        get_worker_config_summary,
        is_callable_input_parameter_a_task,
        is_callable_return_value_of_type,
        register_decorated_fn,
        resolve_worker_config,
        scan_for_workers,
        worker_task,
    )

logging.getLogger("conductor_actors").addHandler(logging.NullHandler())

__all__ = [
    "ActorFailed",
    "ActorRef",
    "AsyncConductorClient",
    "AsyncMetadataClient",
    "AsyncWorkflowClient",
    "AsyncWorkflowExecutor",
    "AsyncioActor",
    "AuthenticationSettings",
    "AuthorizationError",
    "ConductorClient",
    "ConductorError",
    "ConductorHTTPError",
    "Configuration",
    "IdempotencyStrategy",
    "MetadataClient",
    "MetricsSettings",
    "MetricsSettingsError",
    "NonRetryableException",
    "NotFoundError",
    "OrkesClients",
    "OrkesMetadataClient",
    "OrkesWorkflowClient",
    "PollCompleted",
    "PollFailure",
    "PollStarted",
    "RuntimeSettings",
    "StartWorkflowRequest",
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
    "Workflow",
    "WorkflowClient",
    "WorkflowDef",
    "WorkflowExecutor",
    "WorkflowRun",
    "WorkflowTask",
    "__version__",
    "auto_discover_workers",
    "generate_json_schema_from_function",
    "get_registered_worker_names",
    "get_registered_workers",
    "get_task_context",
    "get_worker_config_oneline",
    "get_worker_config_summary",
    "is_callable_input_parameter_a_task",
    "is_callable_return_value_of_type",
    "register_decorated_fn",
    "resolve_worker_config",
    "run_worker",
    "scan_for_workers",
    "worker_task",
]

#: Every public name and the module it comes from; each loads on first use, so a worker process
#: imports only what it needs (no asyncio in sync workers, no prometheus_client without metrics).
_LAZY = {
    "ActorFailed": ".actors",
    "ActorRef": ".actors",
    "AsyncioActor": ".actors",
    "ThreadActor": ".actors",
    "AsyncConductorClient": ".client",
    "AuthenticationSettings": ".client",
    "AuthorizationError": ".client",
    "ConductorClient": ".client",
    "ConductorError": ".client",
    "ConductorHTTPError": ".client",
    "Configuration": ".client",
    "NotFoundError": ".client",
    "Task": ".client",
    "TaskDef": ".client",
    "TaskExecLog": ".client",
    "TaskResult": ".client",
    "TaskResultStatus": ".client",
    "IdempotencyStrategy": ".client",
    "StartWorkflowRequest": ".client",
    "Workflow": ".client",
    "WorkflowDef": ".client",
    "WorkflowRun": ".client",
    "WorkflowTask": ".client",
    "AsyncMetadataClient": ".client",
    "AsyncWorkflowClient": ".client",
    "AsyncWorkflowExecutor": ".client",
    "MetadataClient": ".client",
    "OrkesClients": ".client",
    "OrkesMetadataClient": ".client",
    "OrkesWorkflowClient": ".client",
    "WorkflowClient": ".client",
    "WorkflowExecutor": ".client",
    "PollCompleted": ".events",
    "PollFailure": ".events",
    "PollStarted": ".events",
    "TaskExecutionCompleted": ".events",
    "TaskExecutionFailure": ".events",
    "TaskExecutionStarted": ".events",
    "TaskRunnerEvent": ".events",
    "TaskRunnerEventsListener": ".events",
    "TaskUpdateFailure": ".events",
    "MetricsSettings": ".settings",
    "MetricsSettingsError": ".settings",
    "RuntimeSettings": ".settings",
    "StopReport": ".runtime",
    "WorkerRunner": ".runtime",
    "run_worker": ".runtime",
    "SupervisionSettings": ".settings",
    "TaskHandler": ".handler",
    "TaskHandlerError": ".handler",
    "NonRetryableException": ".worker",
    "TaskContext": ".worker",
    "TaskInProgress": ".worker",
    "Worker": ".worker",
    "WorkerConfig": ".worker",
    "WorkerConfigError": ".worker",
    "WorkerInterface": ".worker",
    "WorkerLoader": ".worker",
    "WorkerTask": ".worker",
    "auto_discover_workers": ".worker",
    "get_registered_worker_names": ".worker",
    "get_registered_workers": ".worker",
    "get_task_context": ".worker",
    "generate_json_schema_from_function": ".worker",
    "get_worker_config_oneline": ".worker",
    "get_worker_config_summary": ".worker",
    "is_callable_input_parameter_a_task": ".worker",
    "is_callable_return_value_of_type": ".worker",
    # the official modules' private helpers, for code that imports them through the package root
    "_type_to_json_schema": ".worker",
    "_generate_input_schema": ".worker",
    "_generate_output_schema": ".worker",
    "_get_env_value": ".worker",
    "_parse_env_value": ".worker",
    "register_decorated_fn": ".worker",
    "resolve_worker_config": ".worker",
    "scan_for_workers": ".worker",
    "worker_task": ".worker",
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
