"""Fixtures of the example tests.

- ``example("sync_and_async_workers")`` imports a module of ``examples/`` (scripts and packages)
  into this test process with an empty worker registry of its own: several examples register the
  same task names (as the feature document does), so each test sees only the examples it imported.
  The registry and ``sys.modules`` are restored when the test ends.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from conductor_actors.worker import _discovery as _registry

#: The examples directory (not a package: its scripts and packages import as top-level modules).
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

LoadExample = Callable[[str], ModuleType]


def _forget(name: str) -> None:
    """Drop module ``name`` and its submodules from ``sys.modules``."""
    for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[loaded]


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoadExample]:
    saved = dict(_registry._registry)
    _registry._registry.clear()
    monkeypatch.syspath_prepend(str(EXAMPLES))
    loaded: list[str] = []

    def load(name: str) -> ModuleType:
        _forget(name)  # a fresh import registers the module's workers in this test's registry
        loaded.append(name)
        return importlib.import_module(name)

    yield load
    for name in loaded:
        _forget(name.split(".")[0])  # with the packages it imported
    _registry._registry.clear()
    _registry._registry.update(saved)
