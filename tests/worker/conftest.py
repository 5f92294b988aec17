"""Fixtures for the worker-model tests.

- every test runs with the worker registry restored afterwards (``@worker_task`` is global);
- ``write_module`` writes throwaway modules/packages under ``tmp_path`` and puts it on sys.path;
- ``run_task`` executes a function worker in the current flavour: the sync function through
  ``execute_sync``, or its ``async def`` twin through ``execute_async``.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conductor_actors.client import Task
from conductor_actors.worker import BoundWorker, ExecutionOutcome, Worker, _discovery, execute_async, execute_sync


@pytest.fixture(autouse=True)
def _isolated_registry() -> Iterator[None]:
    saved = dict(_discovery._registry)
    yield
    _discovery._registry.clear()
    _discovery._registry.update(saved)


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], Path]]:
    """``write_module("pkg/sub/mod.py", source)`` creates the file (dedented) under tmp_path."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(relative: str, source: str) -> Path:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        return path

    yield write
    root = str(tmp_path)
    for name, module in list(sys.modules.items()):
        locations = [getattr(module, "__file__", None) or "", *(getattr(module, "__path__", None) or [])]
        if any(str(location).startswith(root) for location in locations):
            del sys.modules[name]


def make_task(input_data: Any = None, **fields: Any) -> Task:
    """A polled task as the server would hand it out."""
    values: dict[str, Any] = {
        "task_id": "task-1",
        "workflow_instance_id": "wf-1",
        "task_type": "test_task",
        "task_def_name": "test_task",
        "status": "IN_PROGRESS",
        "input_data": {} if input_data is None else input_data,
    }
    values.update(fields)
    return Task(**values)


@pytest.fixture
def task_factory() -> Callable[..., Task]:
    return make_task


def asyncify(func: Callable[..., Any]) -> Callable[..., Any]:
    """An ``async def`` twin of ``func`` with the same name, signature and annotations."""

    @functools.wraps(func)
    async def twin(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return twin


RunTask = Callable[..., ExecutionOutcome]


@pytest.fixture
def run_task(flavour: str) -> RunTask:
    """``run_task(func, input_data, task=None, shutting_down=None)`` in the current flavour."""

    def run(
        func: Callable[..., Any],
        input_data: Any = None,
        *,
        task: Task | None = None,
        shutting_down: Callable[[], bool] | None = None,
    ) -> ExecutionOutcome:
        target = func if flavour == "sync" else asyncify(func)
        bound = BoundWorker(Worker("test_task", target), "worker-7")
        task = make_task(input_data) if task is None else task
        stop = shutting_down or (lambda: False)
        if flavour == "sync":
            return execute_sync(bound, task, stop)
        return asyncio.run(execute_async(bound, task, stop))

    return run
