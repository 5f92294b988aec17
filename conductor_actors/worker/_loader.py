"""Worker discovery: import modules so their ``@worker_task`` decorators register workers.

``WorkerLoader`` remembers which modules it scanned and hands out only the workers defined in
them (not the whole process registry): the ``@worker_task`` functions (``get_workers``) and the
worker objects the modules hold at module level (``get_module_level_workers``: ``Worker(...)``
and ``WorkerInterface`` instances, alone or in a list or tuple), which official-SDK code builds to
pass as ``TaskHandler(workers=[...])``. An import error raises ``WorkerDiscoveryError`` naming
the module, with the original traceback in the message and chained. ``merge_workers`` combines
workers passed explicitly with scanned ones without duplicates. Runs in the calling thread
(imports are not meant to run concurrently with other imports of the same modules).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TextIO

from ._exceptions import WorkerDiscoveryError, WorkerRegistrationError
from ._registry import registered_workers_from_modules
from ._worker import Worker, WorkerInterface

__all__ = ["WorkerLoader", "auto_discover_workers", "merge_workers", "scan_for_workers"]


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
