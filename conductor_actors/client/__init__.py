"""Conductor HTTP client: wire models, configuration, errors, and sync/async clients.

``ConductorClient`` (``requests``) and ``AsyncConductorClient`` (``httpx``) are imported lazily so a
worker process loads only the HTTP library its flavour uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from ._wire import TaskBatch, UndecodableTask, UndecodableTaskError

if TYPE_CHECKING:
    from ._async import AsyncConductorClient
    from ._sync import ConductorClient

__all__ = [
    "AsyncConductorClient",
    "AuthenticationSettings",
    "AuthorizationError",
    "ConductorClient",
    "ConductorError",
    "ConductorHTTPError",
    "ConductorTimeoutError",
    "ConductorTransportError",
    "Configuration",
    "ConfigurationError",
    "InvalidResponseError",
    "NotFoundError",
    "ResponseTooLargeError",
    "Task",
    "TaskBatch",
    "TaskDef",
    "TaskExecLog",
    "TaskResult",
    "TaskResultStatus",
    "TaskStatus",
    "UndecodableTask",
    "UndecodableTaskError",
]

_LAZY = {"ConductorClient": "._sync", "AsyncConductorClient": "._async"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value
