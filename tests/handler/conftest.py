"""Fixtures of the ``TaskHandler`` tests: real worker processes against the dev server.

- every test runs with an empty worker registry, restored afterwards (``@worker_task`` is global,
  and ``TaskHandler`` scans it by default);
- ``scenario(name)`` imports a ``_support.cli_apps`` module inside that isolation;
- ``make_handler(workers, **kwargs)`` builds a ``TaskHandler`` pointed at the test's dev server with
  the small ``FAST_ENV`` runtime and supervision numbers; every handler it made is stopped (and
  must finish) when the test ends.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from _support.cli_apps import FAST_ENV, WAIT

from conductor_actors import Configuration, RuntimeSettings, TaskHandler
from conductor_actors.settings import SupervisionSettings, settings_from_env
from conductor_actors.worker import _discovery as _registry


@pytest.fixture(autouse=True)
def _isolated_registry() -> Iterator[None]:
    saved = dict(_registry._registry)
    _registry._registry.clear()
    yield
    _registry._registry.clear()
    _registry._registry.update(saved)


Scenario = Callable[[str], ModuleType]


@pytest.fixture
def scenario() -> Scenario:
    """``scenario("sleepy")``: the module ``_support.cli_apps.sleepy``, imported now (its
    registration, on the first import, lands in this test's isolated registry)."""

    def load(name: str) -> ModuleType:
        return importlib.import_module(f"_support.cli_apps.{name}")

    return load


@pytest.fixture
def fast_supervision() -> SupervisionSettings:
    return settings_from_env(SupervisionSettings, FAST_ENV)


@pytest.fixture
def fast_runtime() -> RuntimeSettings:
    return settings_from_env(RuntimeSettings, FAST_ENV)


MakeHandler = Callable[..., TaskHandler]


@pytest.fixture
def make_handler(dev_server: Any, fast_supervision: SupervisionSettings,
                 fast_runtime: RuntimeSettings) -> Iterator[MakeHandler]:
    """``make_handler(workers, **kwargs) -> TaskHandler`` (not started). Defaults: the dev server's
    URL, no scanning of the registry, the fast settings; ``kwargs`` override any of them."""
    made: list[TaskHandler] = []

    def make(workers: Any = None, **kwargs: Any) -> TaskHandler:
        kwargs.setdefault("configuration", Configuration(server_api_url=dev_server.url))
        kwargs.setdefault("scan_for_annotated_workers", False)
        kwargs.setdefault("supervision", fast_supervision)
        kwargs.setdefault("runtime_settings", fast_runtime)
        handler = TaskHandler(workers, **kwargs)
        made.append(handler)
        return handler

    yield make
    for handler in made:
        handler.stop_processes(timeout=WAIT)
        assert not any(status.alive for status in handler.status()), handler.status()
