"""Conductor HTTP client: wire models, configuration, errors, and sync/async clients.

``ConductorClient`` (``requests``) and ``AsyncConductorClient`` (``httpx``) are imported lazily so a
worker process loads only the HTTP library its flavour uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._answers import TaskBatch, UndecodableTask, UndecodableTaskError
from ._config import AuthenticationSettings, Configuration, ConfigurationError
from ._errors import (
    AuthorizationError,
    ConductorError,
    ConductorHTTPError,
    ConductorTimeoutError,
    ConductorTransportError,
    InvalidResponseError,
    NotFoundError,
    ResponseTooLargeError,
)
from ._models import Task, TaskDef, TaskExecLog, TaskResult, TaskResultStatus, TaskStatus

if TYPE_CHECKING:
    from ._clients import AsyncConductorClient, ConductorClient
    from ._workflow_models import (
        IdempotencyStrategy,
        StartWorkflowRequest,
        Workflow,
        WorkflowDef,
        WorkflowRun,
        WorkflowTask,
    )
    from ._workflows import (
        AsyncMetadataClient,
        AsyncWorkflowClient,
        AsyncWorkflowExecutor,
        MetadataClient,
        OrkesClients,
        OrkesMetadataClient,
        OrkesWorkflowClient,
        WorkflowClient,
        WorkflowExecutor,
    )

__all__ = [
    "AsyncConductorClient",
    "AsyncMetadataClient",
    "AsyncWorkflowClient",
    "AsyncWorkflowExecutor",
    "AuthenticationSettings",
    "AuthorizationError",
    "ConductorClient",
    "ConductorError",
    "ConductorHTTPError",
    "ConductorTimeoutError",
    "ConductorTransportError",
    "Configuration",
    "ConfigurationError",
    "IdempotencyStrategy",
    "InvalidResponseError",
    "MetadataClient",
    "NotFoundError",
    "OrkesClients",
    "OrkesMetadataClient",
    "OrkesWorkflowClient",
    "ResponseTooLargeError",
    "StartWorkflowRequest",
    "Task",
    "TaskBatch",
    "TaskDef",
    "TaskExecLog",
    "TaskResult",
    "TaskResultStatus",
    "TaskStatus",
    "UndecodableTask",
    "UndecodableTaskError",
    "Workflow",
    "WorkflowClient",
    "WorkflowDef",
    "WorkflowExecutor",
    "WorkflowRun",
    "WorkflowTask",
]

_LAZY = {
    "ConductorClient": "._clients",
    "AsyncConductorClient": "._clients",
    "IdempotencyStrategy": "._workflow_models",
    "StartWorkflowRequest": "._workflow_models",
    "Workflow": "._workflow_models",
    "WorkflowDef": "._workflow_models",
    "WorkflowRun": "._workflow_models",
    "WorkflowTask": "._workflow_models",
    "AsyncMetadataClient": "._workflows",
    "AsyncWorkflowClient": "._workflows",
    "AsyncWorkflowExecutor": "._workflows",
    "MetadataClient": "._workflows",
    "OrkesClients": "._workflows",
    "OrkesMetadataClient": "._workflows",
    "OrkesWorkflowClient": "._workflows",
    "WorkflowClient": "._workflows",
    "WorkflowExecutor": "._workflows",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value
