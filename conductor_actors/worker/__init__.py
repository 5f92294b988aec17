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
    WorkerConfigError,
    default_worker_id,
    get_worker_config_oneline,
    get_worker_config_summary,
)
from ._config import _get_env_value as _get_env_value
from ._config import _parse_env_value as _parse_env_value
from ._discovery import (
    WorkerLoader,
    WorkerTask,
    auto_discover_workers,
    get_registered_worker_names,
    get_registered_workers,
    merge_workers,
    register_decorated_fn,
    scan_for_workers,
    worker_task,
)
from ._execution import (
    BoundWorker,
    ExecutionOutcome,
    TaskContext,
    execute_async,
    execute_sync,
    failed_outcome,
    get_task_context,
)
from ._registration import (
    RegistrationReport,
    generate_json_schema_from_function,
    generate_output_json_schema_from_function,
    register_task_definition,
    register_task_definition_async,
)
from ._registration import _generate_input_schema as _generate_input_schema
from ._registration import _generate_output_schema as _generate_output_schema
from ._registration import _type_to_json_schema as _type_to_json_schema
from ._worker import (
    NonRetryableException,
    TaskContextError,
    TaskInProgress,
    Worker,
    WorkerDiscoveryError,
    WorkerInterface,
    WorkerRegistrationError,
    is_callable_input_parameter_a_task,
    is_callable_return_value_of_type,
    resolve_worker_config,
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
