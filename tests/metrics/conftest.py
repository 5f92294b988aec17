"""Fixtures of the metrics tests: real ``TaskHandler``s over the test's dev server.

``handler_factory`` builds (and by default starts) a handler with metrics on and small runtime and
supervision numbers (``_support.metrics_apps.harness``), so every scenario takes seconds; every
handler it made is stopped at teardown and must stop within the wait.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from _support.metrics_apps.harness import WAIT, HandlerFactory, http_metrics, make_handler

from conductor_actors import MetricsSettings, TaskHandler
from conductor_actors.devserver import DevServer
from conductor_actors.worker import WorkerInterface


@pytest.fixture
def handler_factory(dev_server: DevServer) -> Iterator[HandlerFactory]:
    """``handler_factory(workers, metrics_settings=http_metrics(), start=True, **kwargs)``.

    With ``start`` the handler is started and every worker process has said Ready."""
    made: list[TaskHandler] = []

    def make(workers: Sequence[WorkerInterface], metrics_settings: MetricsSettings | None = None, *,
             start: bool = True, **kwargs: Any) -> TaskHandler:
        handler = make_handler(dev_server, workers, metrics_settings or http_metrics(), **kwargs)
        made.append(handler)
        if start:
            handler.start_processes()
            assert handler.wait_ready(WAIT), f"worker processes not ready: {handler.status()}"
        return handler

    yield make
    codes = [handler.stop_processes(timeout=WAIT) for handler in made]
    assert all(code is not None for code in codes), f"a handler did not stop within {WAIT} s: {codes}"
