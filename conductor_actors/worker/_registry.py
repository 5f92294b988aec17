"""The process-wide registry of decorated worker functions, keyed by (task name, domain).

Filled by ``@worker_task`` while modules are imported (any thread; guarded by a lock). Registering
the same key again replaces the entry, as in the official SDK, when it comes from the same module
and qualified name (a module reload) or when either function is defined inside another function
(a test that decorates a function in its body: such a worker never runs in a worker process).
Two module-level functions claiming one key is an error: one of them would silently never run.
"""

from __future__ import annotations

import threading
from collections.abc import Collection

from ._exceptions import WorkerRegistrationError
from ._worker import Worker

__all__ = [
    "get_registered_worker_names",
    "get_registered_workers",
    "register_worker",
    "registered_workers_from_modules",
]

_lock = threading.Lock()
_registry: dict[tuple[str, str | None], Worker] = {}


def register_worker(worker: Worker) -> None:
    """Add ``worker`` to the registry.

    Raises ``WorkerRegistrationError`` when another module-level function already registered the
    same task name and domain.
    """
    key = (worker.task_definition_name, worker.domain)
    with _lock:
        existing = _registry.get(key)
        if (
            existing is not None
            and existing.function_path != worker.function_path
            and not _is_local(existing)
            and not _is_local(worker)
        ):
            domain = f" in domain {worker.domain!r}" if worker.domain else ""
            raise WorkerRegistrationError(
                f"task {worker.task_definition_name!r}{domain} is already registered by"
                f" {existing.function_path}; {worker.function_path} cannot register it too."
                " Give one of them another task_definition_name or a different domain."
            )
        _registry[key] = worker


def _is_local(worker: Worker) -> bool:
    return "<locals>" in worker.function_path


def get_registered_workers() -> list[Worker]:
    """Every worker registered by ``@worker_task`` so far in this process, in registration order."""
    with _lock:
        return list(_registry.values())


def get_registered_worker_names() -> list[str]:
    """The task names of the registered workers (each name once, in registration order)."""
    with _lock:
        return list(dict.fromkeys(name for name, _ in _registry))


def registered_workers_from_modules(modules: Collection[str]) -> list[Worker]:
    """The registered workers whose function is defined in one of ``modules``."""
    with _lock:
        return [w for w in _registry.values() if getattr(w.execute_function, "__module__", None) in modules]
