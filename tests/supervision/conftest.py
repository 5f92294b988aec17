"""Fixtures of the supervisor tests: a factory of supervisors over fake children that are always
stopped and reaped at the end of the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from _support.fake_children import fake_child_main
from supervision._helpers import FAST, WAIT, Collector

from conductor_actors.runtime import WorkerSettings
from conductor_actors.settings import SupervisionSettings
from conductor_actors.supervision import ProcessSupervisor

MakeSupervisor = Callable[..., tuple[ProcessSupervisor, Collector]]


@pytest.fixture
def make_supervisor() -> Iterator[MakeSupervisor]:
    """``make_supervisor(worker_settings, settings=FAST, **kwargs) -> (supervisor, collector)``, not started.

    The collector's callbacks are used unless ``kwargs`` brings its own ``on_message``/``on_state``.
    """
    made: list[ProcessSupervisor] = []

    def make(
        worker_settings: Sequence[WorkerSettings], settings: SupervisionSettings = FAST, **kwargs: Any
    ) -> tuple[ProcessSupervisor, Collector]:
        collector = Collector()
        kwargs.setdefault("on_message", collector.on_message)
        kwargs.setdefault("on_state", collector.on_state)
        supervisor = ProcessSupervisor(worker_settings, settings=settings, target=fake_child_main, **kwargs)
        made.append(supervisor)
        return supervisor, collector

    yield make
    for supervisor in made:
        try:
            supervisor.join(0)
        except RuntimeError:
            continue  # never started
        supervisor.request_stop(fast=True)
        assert supervisor.join(WAIT) is not None, "the supervisor did not finish after a fast stop"
