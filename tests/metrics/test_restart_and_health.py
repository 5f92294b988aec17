"""A worker process killed with SIGKILL: ``/health`` says so while it is down, the restart is
counted, and both come back to normal once the supervisor has replaced the process.

The restart backoff is 1 s (no jitter) so the down window is long enough to observe; every wait
polls with a deadline.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from typing import Any

from _support.metrics_apps import make_worker
from _support.metrics_apps.harness import (
    FAST_SUPERVISION,
    TASK,
    HandlerFactory,
    HttpAnswer,
    http_get,
    run_tasks,
    scrape_until,
    wait_until,
)

from conductor_actors import TaskHandler
from conductor_actors.devserver import DevServer

#: Long enough to see the worker down, short enough for a quick test.
RESTART_BACKOFF = 1.0


def health(handler: TaskHandler) -> HttpAnswer:
    assert handler.metrics is not None and handler.metrics.url is not None
    return http_get(handler.metrics.url + "/health")


def test_sigkill_is_a_counted_restart_and_health_reports_the_down_window(
    flavour: str, dev_server: DevServer, handler_factory: HandlerFactory
) -> None:
    supervision = dataclasses.replace(FAST_SUPERVISION, restart_backoff_base=RESTART_BACKOFF)
    handler = handler_factory([make_worker(flavour, TASK)], supervision=supervision)
    first = wait_until(lambda: _answered(health(handler), 200), "a healthy tree")
    body = first.json()
    assert first.content_type == "application/json"
    assert body["status"] == "ok" and "problems" not in body
    [child] = body["children"]
    assert (child["key"], child["taskType"], child["state"], child["alive"], child["restarts"]) == (
        TASK, TASK, "up", True, 0,
    )
    old_pid = handler.status()[0].pid
    assert old_pid is not None and child["pid"] == old_pid

    os.kill(old_pid, signal.SIGKILL)

    down = wait_until(lambda: _worker_down(health(handler)), "/health to answer 503 for the killed worker")
    assert down["status"] == "unhealthy"
    assert any(problem.startswith(f"{TASK}: ") for problem in down["problems"]), down
    [child] = down["children"]
    assert child["key"] == TASK and child["state"] in ("restarting", "starting"), down
    # scrapes keep working while the worker is down, and show it down
    during = scrape_until(
        handler, lambda s: s.one("worker_processes", taskType=TASK, state="up") == 0,
        "the scrape to show no worker process up",
    )
    assert during.one("active_workers", taskType=TASK) == 0

    back = wait_until(lambda: _answered(health(handler), 200), "/health to answer 200 once the worker is back")
    [child] = back.json()["children"]
    assert child["state"] == "up" and child["restarts"] == 1 and child["pid"] not in (None, old_pid)
    after = scrape_until(handler, lambda s: s.one("active_workers", taskType=TASK) == 1, "the new process up")
    assert after.one("worker_restart_total", taskType=TASK) == 1
    assert after.one("worker_processes", taskType=TASK, state="up") == 1

    # the new process works and is counted like the first one
    statuses = run_tasks(dev_server, [{"size": 1}] * 3)
    assert set(statuses.values()) == {"COMPLETED"}
    later = scrape_until(
        handler, lambda s: s.total("task_update_time_seconds_count", taskType=TASK) >= 3, "3 updates counted"
    )
    assert later.one("task_execution_started_total", taskType=TASK) == 3
    assert later.one("worker_restart_total", taskType=TASK) == 1


def _answered(answer: HttpAnswer, status: int) -> HttpAnswer | None:
    return answer if answer.status == status else None


def _worker_down(answer: HttpAnswer) -> dict[str, Any] | None:
    """The body of a 503 that shows the worker process not up (None for any other answer)."""
    if answer.status != 503:
        return None
    body: dict[str, Any] = answer.json()
    return body if any(child["state"] != "up" for child in body["children"]) else None
