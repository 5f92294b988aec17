"""Conductor HTTP client: wire models, configuration, errors, and the sync/async clients.

Plain re-exports. Importing this package stays light: the clients load ``requests``, ``httpx`` or
``asyncio`` only when one is built that needs it (see ``_clients``).
"""

from __future__ import annotations

from ._answers import TaskBatch, UndecodableTask, UndecodableTaskError
from ._clients import AsyncConductorClient, ConductorClient
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
