"""How workers are found: ``@worker_task`` registers functions, ``WorkerLoader`` scans modules.

``@worker_task`` (and its legacy spelling ``WorkerTask``) validates its keywords, wraps the function
in a ``Worker``, registers it and returns a ``functools.wraps`` wrapper, as the official SDK does:
calling the wrapper runs the function (the wrapper of an ``async def`` is itself a coroutine
function), ``__wrapped__`` is the original, and a call with a ``task_ref_name=`` keyword builds a
SIMPLE ``WorkflowTask`` (the official ``SimpleTask``) instead of running anything. The registered
``Worker`` holds the original; worker processes find it again through the module-level wrapper's
``__wrapped__``. The decorator runs while the user's module is imported (whatever thread imports it).

The process-wide registry of decorated functions is keyed by (task name, domain) and guarded by a
lock. Registering the same key again replaces the entry, as in the official SDK, when it comes from
the same module and qualified name (a module reload) or when either function is defined inside
another function (a test that decorates a function in its body: such a worker never runs in a
worker process). Two module-level functions claiming one key is an error: one of them would
silently never run.

``WorkerLoader`` imports modules so their decorators register workers; it remembers which modules it
scanned and hands out only the workers defined in them (not the whole process registry): the
``@worker_task`` functions (``get_workers``) and the worker objects the modules hold at module level
(``get_module_level_workers``: ``Worker(...)`` and ``WorkerInterface`` instances, alone or in a list
or tuple), which official-SDK code builds to pass as ``TaskHandler(workers=[...])``. An import error
raises ``WorkerDiscoveryError`` naming the module, with the original traceback in the message and
chained. ``merge_workers`` combines workers passed explicitly with scanned ones without duplicates.
Scanning runs in the calling thread (imports are not meant to run concurrently with other imports
of the same modules).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import pkgutil
import sys
import threading
import traceback
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from ..client import TaskDef
from ._config import WorkerConfigError
from ._worker import Worker, WorkerDiscoveryError, WorkerInterface, WorkerRegistrationError

if TYPE_CHECKING:
    from ..client import WorkflowTask

__all__ = [
    "WorkerLoader",
    "WorkerTask",
    "auto_discover_workers",
    "get_registered_worker_names",
    "get_registered_workers",
    "merge_workers",
    "register_decorated_fn",
    "register_worker",
    "registered_workers_from_modules",
    "scan_for_workers",
    "worker_task",
]

F = TypeVar("F", bound=Callable[..., Any])


def worker_task(
    task_definition_name: str,
    poll_interval_millis: float = 100,
    domain: str | None = None,
    worker_id: str | None = None,
    thread_count: int = 1,
    register_task_def: bool = False,
    poll_timeout: int = 100,
    lease_extend_enabled: bool = False,
    task_def: TaskDef | None = None,
    overwrite_task_def: bool = True,
    strict_schema: bool = False,
    register_schema: bool = False,
    processes: int = 1,
) -> Callable[[F], F]:
    """Register a ``def`` or ``async def`` function as the worker for ``task_definition_name``.

    The parameters are in the official SDK's order (positional calls mean the same there and
    here); ``processes`` is new, last.

    Keywords are the code-level defaults (environment variables override them, see
    ``resolve_worker_config``): ``poll_interval_millis`` (ms), ``thread_count`` (tasks in flight
    per process), ``domain``, ``worker_id`` (default ``<hostname>-<pid>``), ``poll_timeout`` (server
    long-poll, ms, 0..5000), ``lease_extend_enabled``, ``register_task_def``, ``overwrite_task_def``,
    ``strict_schema``, ``task_def`` (a ``TaskDef`` template), ``register_schema`` and
    ``processes`` (OS processes running this worker).

    The decorated name becomes a ``functools.wraps`` wrapper (see the module docstring): calling it
    runs the function; ``fn(task_ref_name=..., **inputs)`` returns a SIMPLE ``WorkflowTask``.

    Raises ``WorkerConfigError`` for an invalid keyword value and ``WorkerRegistrationError`` for a
    function that cannot run in a worker process or a task name already taken by another function.
    """

    def decorate(func: F) -> F:
        register_decorated_fn(
            name=task_definition_name,
            poll_interval=poll_interval_millis,
            domain=domain,
            worker_id=worker_id,
            func=func,
            thread_count=thread_count,
            register_task_def=register_task_def,
            poll_timeout=poll_timeout,
            lease_extend_enabled=lease_extend_enabled,
            task_def=task_def,
            overwrite_task_def=overwrite_task_def,
            strict_schema=strict_schema,
            register_schema=register_schema,
            processes=processes,
        )
        return _wrap(func, task_definition_name)

    return decorate


def _workflow_task(task_definition_name: str, kwargs: dict[str, Any]) -> WorkflowTask:
    """The SIMPLE workflow task a ``task_ref_name=`` call stands for; the other keywords become
    its input parameters (as the official ``SimpleTask``)."""
    from ..client import WorkflowTask  # here: a worker process never needs it

    reference = kwargs.pop("task_ref_name")
    return WorkflowTask(
        name=task_definition_name, task_reference_name=reference, type="SIMPLE", input_parameters=dict(kwargs)
    )


def _wrap(func: F, task_definition_name: str) -> F:
    """The wrapper ``@worker_task`` returns for ``func``: a plain call runs ``func`` in the caller's
    thread (or loop, for ``async def``) and lets its exceptions through; a call with
    ``task_ref_name=`` returns a ``WorkflowTask`` (awaited, for an ``async def``: its wrapper is a
    coroutine function so that callers that test for one keep seeing one)."""
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if "task_ref_name" in kwargs:
                return _workflow_task(task_definition_name, kwargs)
            return await func(*args, **kwargs)

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "task_ref_name" in kwargs:
            return _workflow_task(task_definition_name, kwargs)
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def register_decorated_fn(
    name: str,
    poll_interval: float | None,
    domain: str | None,
    worker_id: str | None,
    func: Callable[..., Any],
    thread_count: int = 1,
    register_task_def: bool = False,
    poll_timeout: int = 100,
    lease_extend_enabled: bool = False,
    task_def: TaskDef | None = None,
    overwrite_task_def: bool = True,
    strict_schema: bool = False,
    register_schema: bool | None = None,
    processes: int = 1,
) -> None:
    """Register ``func`` as the worker for task ``name`` (the official SDK's function, with its
    signature; ``@worker_task`` calls it). ``poll_interval`` is in ms (None = 100);
    ``register_schema=None`` means False. Raises like ``worker_task``."""
    register_worker(
        Worker(
            name,
            func,
            poll_interval=poll_interval,
            domain=domain,
            worker_id=worker_id,
            thread_count=thread_count,
            register_task_def=register_task_def,
            poll_timeout=poll_timeout,
            lease_extend_enabled=lease_extend_enabled,
            task_def_template=task_def,
            overwrite_task_def=overwrite_task_def,
            strict_schema=strict_schema,
            register_schema=bool(register_schema),
            processes=processes,
        )
    )


def WorkerTask(
    task_definition_name: str,
    poll_interval: float = 100,
    domain: str | None = None,
    worker_id: str | None = None,
    poll_interval_seconds: float = 0,
    thread_count: int = 1,
    register_task_def: bool = False,
    poll_timeout: int = 100,
    lease_extend_enabled: bool = False,
    register_schema: bool = False,
    overwrite_task_def: bool = True,
    strict_schema: bool = False,
    task_def: TaskDef | None = None,
    processes: int = 1,
) -> Callable[[F], F]:
    """Legacy spelling of ``worker_task``: ``poll_interval`` is in ms; ``poll_interval_seconds``,
    when > 0, wins (times 1000). The official parameters come first, in its order;
    ``overwrite_task_def``, ``strict_schema``, ``task_def`` and ``processes`` follow. Raises like
    ``worker_task``."""
    if isinstance(poll_interval_seconds, bool) or not isinstance(poll_interval_seconds, (int, float)):
        raise WorkerConfigError(
            f"poll_interval_seconds={poll_interval_seconds!r}: must be a number of seconds"
            f" (worker {task_definition_name!r})"
        )
    millis = poll_interval_seconds * 1000 if poll_interval_seconds > 0 else poll_interval
    return worker_task(
        task_definition_name,
        poll_interval_millis=millis,
        thread_count=thread_count,
        domain=domain,
        worker_id=worker_id,
        poll_timeout=poll_timeout,
        lease_extend_enabled=lease_extend_enabled,
        register_task_def=register_task_def,
        overwrite_task_def=overwrite_task_def,
        strict_schema=strict_schema,
        task_def=task_def,
        register_schema=register_schema,
        processes=processes,
    )


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


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as exc:
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        raise WorkerDiscoveryError(
            f"importing worker module {name!r} failed: {type(exc).__name__}: {exc}\n{trace}", name=name
        ) from exc


class WorkerLoader:
    """Scans packages, modules and directories for ``@worker_task`` functions.

    Every ``scan_*`` method raises ``WorkerDiscoveryError`` when a module fails to import and
    ``WorkerRegistrationError`` when a worker it defines could not run in a worker process.
    """

    def __init__(self) -> None:
        self._modules: dict[str, None] = {}

    def scan_packages(self, package_names: Iterable[str] | str, recursive: bool = True) -> None:
        """Import each package and its modules (sub-packages' contents too when ``recursive``)."""
        names = [package_names] if isinstance(package_names, str) else list(package_names)
        for name in names:
            module = self.scan_module(name)
            paths = getattr(module, "__path__", None)
            if paths is not None:
                self._scan_submodules(name, paths, recursive)

    def _scan_submodules(self, package: str, paths: Iterable[str], recursive: bool) -> None:
        found = sorted(pkgutil.iter_modules(list(paths), prefix=f"{package}."), key=lambda info: info.name)
        for info in found:
            module = self.scan_module(info.name)
            if info.ispkg and recursive:
                self._scan_submodules(info.name, getattr(module, "__path__", []), recursive)

    def scan_module(self, module_name: str) -> ModuleType:
        """Import one module and record it as scanned."""
        module = _import(module_name)
        self._modules[module_name] = None
        for worker in registered_workers_from_modules({module_name}):
            worker.check_spawnable()
        return module

    def scan_path(self, path: str | os.PathLike[str], package_prefix: str = "") -> None:
        """Import every ``.py`` file under ``path`` (a directory, recursively, or one file).

        Files and directories whose names start with ``_`` (or ``.``) are skipped. Module names are
        ``package_prefix`` + the dotted relative path; without a prefix the directory is put on
        ``sys.path`` (children started with spawn inherit it).
        """
        root = Path(path)
        if not root.exists():
            raise WorkerDiscoveryError(f"scan_path: {str(root)!r} does not exist")
        base = root.parent if root.is_file() else root
        files = [root] if root.is_file() else sorted(_python_files(root))
        if not package_prefix and str(base) not in sys.path:
            sys.path.insert(0, str(base))
        for file in files:
            parts = file.relative_to(base).with_suffix("").parts
            self.scan_module(".".join(p for p in (package_prefix, *parts) if p))

    def get_scanned_modules(self) -> list[str]:
        """The modules scanned so far, in scan order."""
        return list(self._modules)

    def get_workers(self) -> list[Worker]:
        """The registered workers defined in the modules this loader scanned."""
        return registered_workers_from_modules(self._modules.keys())

    def get_module_level_workers(self) -> list[WorkerInterface]:
        """The worker objects the scanned modules hold at module level, each once, in scan order.

        A module attribute counts when it is a ``WorkerInterface`` (``Worker`` included, and any
        subclass) or a list or tuple of them (``workers = [Worker(...), MyWorker()]``). Objects a
        module imported from another module count too: they are the same objects, kept once. A
        class is not instantiated: only instances run. ``@worker_task`` functions are not listed
        here (they are in ``get_workers()``).
        """
        found: dict[int, WorkerInterface] = {}
        for name in self._modules:
            module = sys.modules.get(name)
            if module is None:
                continue
            for value in list(vars(module).values()):
                for worker in _worker_objects(value):
                    found.setdefault(id(worker), worker)
        return list(found.values())

    def get_worker_count(self) -> int:
        return len(self.get_workers())

    def get_worker_names(self) -> list[str]:
        """Task names of ``get_workers()`` (each once)."""
        return list(dict.fromkeys(w.task_definition_name for w in self.get_workers()))

    def print_summary(self, file: TextIO | None = None) -> None:
        """Print what was discovered (to ``file``, default stdout)."""
        out = sys.stdout if file is None else file
        workers = self.get_workers()
        print(f"Discovered {len(workers)} worker(s) in {len(self._modules)} scanned module(s)", file=out)
        for worker in workers:
            details = ["async" if worker.is_async else "sync"]
            if worker.domain:
                details.append(f"domain={worker.domain}")
            print(f"  {worker.task_definition_name} [{', '.join(details)}] {worker.function_path}", file=out)


def _worker_objects(value: object) -> list[WorkerInterface]:
    """``value`` as worker objects: itself, the items of a list or tuple made only of them, or none."""
    if isinstance(value, WorkerInterface):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(item, WorkerInterface) for item in value):
        return list(value)
    return []


def _python_files(directory: Path) -> Iterable[Path]:
    for entry in directory.iterdir():
        if entry.name.startswith(("_", ".")):
            continue
        if entry.is_dir():
            yield from _python_files(entry)
        elif entry.suffix == ".py":
            yield entry


def scan_for_workers(*packages: str) -> WorkerLoader:
    """A loader that scanned ``packages`` recursively."""
    loader = WorkerLoader()
    loader.scan_packages(packages)
    return loader


def auto_discover_workers(
    packages: Sequence[str] | None = None,
    paths: Sequence[str | os.PathLike[str]] | None = None,
    print_summary: bool = True,
) -> WorkerLoader:
    """Scan ``packages`` (recursively) and ``paths``; print the summary to stdout if asked."""
    loader = WorkerLoader()
    if packages:
        loader.scan_packages(packages)
    for path in paths or ():
        loader.scan_path(path)
    if print_summary:
        loader.print_summary()
    return loader


def merge_workers(
    explicit: Iterable[WorkerInterface], scanned: Iterable[WorkerInterface], *, check: bool = True
) -> list[WorkerInterface]:
    """One worker per (task name, domain): explicit workers first and winning over scanned ones.

    With ``check`` (the default) every returned worker is checked to run in a child process
    (``TaskHandler`` checks at start instead). Raises ``WorkerRegistrationError`` for two
    different explicit workers with the same task name and domain, or for a checked worker that
    cannot be re-created in a child process.
    """
    chosen: dict[tuple[str, str | None], WorkerInterface] = {}
    for worker in explicit:
        key = (worker.get_task_definition_name(), worker.domain)
        previous = chosen.get(key)
        if previous is not None and previous is not worker:
            raise WorkerRegistrationError(
                f"two different workers were given for task {key[0]!r} (domain {key[1]!r}):"
                f" {previous!r} and {worker!r}"
            )
        chosen[key] = worker
    for worker in scanned:
        chosen.setdefault((worker.get_task_definition_name(), worker.domain), worker)
    if check:
        for worker in chosen.values():
            worker.check_spawnable()
    return list(chosen.values())
