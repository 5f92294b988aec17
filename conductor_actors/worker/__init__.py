"""The worker model: what a user writes and configures, independent of how it is run.

- Defining workers: ``@worker_task`` (and the legacy ``WorkerTask``), ``Worker``, ``WorkerInterface``,
  the registry (``get_registered_workers``).
- Configuration: ``resolve_worker_config`` -> ``WorkerConfig`` (environment over code).
- Discovery: ``WorkerLoader``, ``scan_for_workers``, ``auto_discover_workers``, ``merge_workers``.
- Executing one task (the runtime's hot path, no I/O): ``BoundWorker``, ``execute_sync``,
  ``execute_async`` -> ``ExecutionOutcome``; ``get_task_context`` / ``TaskInProgress`` for users.
- Task definitions and schemas: ``generate_json_schema_from_function``,
  ``register_task_definition`` / ``register_task_definition_async``.
"""

from __future__ import annotations

from ._config import (
    WorkerConfig,
    get_worker_config_oneline,
    get_worker_config_summary,
    resolve_worker_config,
)
from ._config import _get_env_value as _get_env_value
from ._config import _parse_env_value as _parse_env_value
from ._context import TaskContext, TaskInProgress, get_task_context
from ._decorator import WorkerTask, register_decorated_fn, worker_task
from ._exceptions import (
    NonRetryableException,
    TaskContextError,
    WorkerConfigError,
    WorkerDiscoveryError,
    WorkerRegistrationError,
)
from ._execution import BoundWorker, ExecutionOutcome, execute_async, execute_sync, failed_outcome
from ._identity import default_worker_id
from ._loader import WorkerLoader, auto_discover_workers, merge_workers, scan_for_workers
from ._registration import RegistrationReport, register_task_definition, register_task_definition_async
from ._registry import get_registered_worker_names, get_registered_workers
from ._schema import _generate_input_schema as _generate_input_schema
from ._schema import _generate_output_schema as _generate_output_schema
from ._schema import _type_to_json_schema as _type_to_json_schema
from ._schema import generate_json_schema_from_function, generate_output_json_schema_from_function
from ._worker import (
    Worker,
    WorkerInterface,
    is_callable_input_parameter_a_task,
    is_callable_return_value_of_type,
)

__all__ = [
    "BoundWorker",
    "ExecutionOutcome",
    "NonRetryableException",
    "RegistrationReport",
    "TaskContext",
    "TaskContextError",
    "TaskInProgress",
    "Worker",
    "WorkerConfig",
    "WorkerConfigError",
    "WorkerDiscoveryError",
    "WorkerInterface",
    "WorkerLoader",
    "WorkerRegistrationError",
    "WorkerTask",
    "auto_discover_workers",
    "default_worker_id",
    "execute_async",
    "execute_sync",
    "failed_outcome",
    "generate_json_schema_from_function",
    "generate_output_json_schema_from_function",
    "get_registered_worker_names",
    "get_registered_workers",
    "get_task_context",
    "get_worker_config_oneline",
    "get_worker_config_summary",
    "is_callable_input_parameter_a_task",
    "is_callable_return_value_of_type",
    "merge_workers",
    "register_decorated_fn",
    "register_task_definition",
    "register_task_definition_async",
    "resolve_worker_config",
    "scan_for_workers",
    "worker_task",
]
