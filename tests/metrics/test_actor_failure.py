"""The MetricsActor fails once (its ``on_receive`` raises while it is told that new data waits):
its supervisor restarts it, scrapes answer 200 again, and every total survives - counted before
the failure, carried by the batch whose arrival triggered it, and arriving during the restart.

The failure is injected by wrapping ``MetricsActor.on_receive`` before the handler starts (the
actor binds the method when its thread starts) and arming it once the first totals were scraped.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from _support.metrics_apps import make_worker
from _support.metrics_apps.harness import TASK, WAIT, HandlerFactory, Scrape, http_get, run_tasks, wait_until

from conductor_actors import TaskHandler
from conductor_actors.devserver import DevServer
from conductor_actors.metrics._actor import MetricsActor, _Drain

BEFORE = 5
AFTER = 4


def scrape_if_served(handler: TaskHandler) -> Scrape | None:
    """A scrape when ``/metrics`` answers 200; None for the 503 answered while the actor restarts."""
    assert handler.metrics is not None and handler.metrics.url is not None
    answer = http_get(handler.metrics.url + "/metrics")
    if answer.status == 503:
        assert answer.body.startswith(b"metrics unavailable: "), answer.body
        return None
    assert answer.status == 200, answer
    return Scrape(answer.body.decode("utf-8"))


def totals_reach(handler: TaskHandler, count: int) -> Scrape:
    def reached() -> Scrape | None:
        s = scrape_if_served(handler)
        return s if s is not None and s.total("task_update_time_seconds_count", taskType=TASK) >= count else None

    return wait_until(reached, f"{count} updates counted")


def test_a_metrics_actor_that_fails_once_is_restarted_with_every_total(
    flavour: str, dev_server: DevServer, handler_factory: HandlerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    armed, failed = threading.Event(), threading.Event()
    real_receive = MetricsActor.on_receive

    def fail_once(self: MetricsActor, message: Any) -> Any:
        if armed.is_set() and not failed.is_set() and isinstance(message, _Drain):
            failed.set()
            raise RuntimeError("injected metrics actor failure")
        return real_receive(self, message)

    monkeypatch.setattr(MetricsActor, "on_receive", fail_once)
    handler = handler_factory([make_worker(flavour, TASK)])
    assert set(run_tasks(dev_server, [{"size": 1}] * BEFORE).values()) == {"COMPLETED"}
    before = totals_reach(handler, BEFORE)
    assert before.one("task_execution_started_total", taskType=TASK) == BEFORE

    armed.set()
    assert set(run_tasks(dev_server, [{"size": 1}] * AFTER).values()) == {"COMPLETED"}
    assert failed.wait(WAIT), "the metrics actor was never told about new data"

    after = totals_reach(handler, BEFORE + AFTER)
    assert after.one("task_update_time_seconds_count", taskType=TASK, status="SUCCESS") == BEFORE + AFTER
    assert after.one("task_execution_started_total", taskType=TASK) == BEFORE + AFTER
    assert after.one("task_execute_time_seconds_count", taskType=TASK, status="SUCCESS") == BEFORE + AFTER
    assert after.one("task_poll_total", taskType=TASK) >= before.one("task_poll_total", taskType=TASK)
    assert after.one("active_workers", taskType=TASK) == 1
    sink = handler.metrics
    assert sink is not None
    # The worker keeps polling, so a fresh batch may be waiting at any instant; the restarted actor
    # must keep merging what arrives.
    wait_until(lambda: not sink.inbox, "the restarted actor to merge everything waiting")
