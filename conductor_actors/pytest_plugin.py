"""pytest plugin (registered automatically through the ``pytest11`` entry point).

Fixtures:

- ``conductor_dev_server``: a running embedded dev server on a free loopback port (``.url`` ends
  in ``/api``), closed after the test.
- ``conductor_workers``: an ``InProcessWorkers`` bound to that server; call it with workers or
  ``@worker_task`` functions to start them, then ``run_workflow(...)`` or
  ``wait_for_workflows(...)``. Every worker is stopped after the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .devserver import DevServer
from .testing import InProcessWorkers

__all__ = ["conductor_dev_server", "conductor_workers"]


@pytest.fixture
def conductor_dev_server() -> Iterator[DevServer]:
    """An embedded Conductor dev server for one test."""
    with DevServer() as server:
        yield server


@pytest.fixture
def conductor_workers(conductor_dev_server: DevServer) -> Iterator[InProcessWorkers]:
    """Start workers in this process against ``conductor_dev_server``; stopped after the test."""
    with InProcessWorkers(conductor_dev_server) as workers:
        yield workers
