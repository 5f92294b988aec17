"""The parent's share of the shutdown budget: once the worker processes are gone, ``TaskHandler``
waits at most ``PARENT_STOP_TIMEOUT`` for its own actors, so a stuck actor cannot push the whole
stop past the orchestrator's grace period (the default arithmetic is in the supervision tests)."""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from _support.cli_apps import WAIT, one_task_workflow, start_workflows

from conductor_actors import TaskExecutionCompleted, ThreadActor, Worker
from conductor_actors.settings import PARENT_STOP_TIMEOUT

if TYPE_CHECKING:
    from conductor_actors.devserver import DevServer

    from .conftest import MakeHandler, Scenario

TASK = "h_budget"


class StuckActor(ThreadActor):
    """Blocks on its first event until the test releases it (a parent actor that hangs)."""

    subscriptions = (TaskExecutionCompleted,)

    def __init__(self, entered: threading.Event, release: threading.Event) -> None:
        self.entered, self.release = entered, release

    def on_receive(self, message: Any) -> None:
        self.entered.set()
        self.release.wait(WAIT)


def test_a_stuck_parent_actor_delays_the_stop_by_at_most_the_parent_stop_timeout(
    make_handler: MakeHandler, dev_server: DevServer, scenario: Scenario, caplog: pytest.LogCaptureFixture
) -> None:
    """With an actor stuck in its handler, ``stop_processes()`` still returns 0 about
    ``PARENT_STOP_TIMEOUT`` after the idle worker process stopped, and the log names the actor."""
    caplog.set_level(logging.WARNING, logger="conductor_actors.handler")
    entered, release = threading.Event(), threading.Event()
    worker = Worker(TASK, scenario("sleepy").sleepy_sync, poll_interval=20)
    handler = make_handler([worker], actors=[functools.partial(StuckActor, entered, release)], recovery=False)
    try:
        handler.start_processes()
        assert handler.wait_ready(WAIT)
        ids = start_workflows(dev_server, one_task_workflow(dev_server, TASK, ["seconds", "index"]),
                              [{"seconds": 0, "index": 0}])
        assert dev_server.wait_for_workflows(ids, WAIT) == dict.fromkeys(ids, "COMPLETED")
        assert entered.wait(WAIT), "the actor never got its event"

        started = time.monotonic()
        assert handler.stop_processes(timeout=WAIT) == 0
        took = time.monotonic() - started
    finally:
        release.set()
    assert PARENT_STOP_TIMEOUT <= took < PARENT_STOP_TIMEOUT + 3.0, took
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith("parent actors did not stop in time: StuckActor") for m in warnings), warnings
