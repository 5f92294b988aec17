"""The public API of ``conductor_actors.worker``."""

from __future__ import annotations

import conductor_actors.worker as worker_package

REQUIRED = {
    "worker_task", "WorkerTask", "Worker", "WorkerInterface", "WorkerConfig", "resolve_worker_config",
    "get_worker_config_oneline", "get_worker_config_summary", "WorkerLoader", "scan_for_workers",
    "auto_discover_workers", "get_registered_workers", "get_registered_worker_names", "get_task_context",
    "TaskContext", "TaskInProgress", "NonRetryableException", "WorkerConfigError", "WorkerRegistrationError",
    "WorkerDiscoveryError", "TaskContextError", "generate_json_schema_from_function", "register_task_definition",
    "register_task_definition_async", "BoundWorker", "ExecutionOutcome", "execute_sync", "execute_async",
    "merge_workers", "default_worker_id",
}


def test_all_lists_the_public_names_and_each_exists():
    assert set(worker_package.__all__) >= REQUIRED
    assert len(worker_package.__all__) == len(set(worker_package.__all__))
    assert worker_package.__all__ == sorted(worker_package.__all__)
    for name in worker_package.__all__:
        assert getattr(worker_package, name).__module__.startswith("conductor_actors.worker")


def test_exception_hierarchy():
    assert issubclass(worker_package.WorkerConfigError, ValueError)
    assert issubclass(worker_package.TaskContextError, RuntimeError)
    assert issubclass(worker_package.WorkerDiscoveryError, ImportError)
    assert issubclass(worker_package.NonRetryableException, Exception)
