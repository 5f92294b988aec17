"""``task_in_flight`` comes from the worker processes' real heartbeats: while slow tasks run it
shows them (and so does ``/health``), and it falls back to 0 once their results were accepted."""

from __future__ import annotations

from _support.metrics_apps import make_worker
from _support.metrics_apps.harness import (
    DEFAULT_INPUT,
    TASK,
    WAIT,
    HandlerFactory,
    Scrape,
    http_get,
    register_flow,
    scrape_until,
)

from conductor_actors.devserver import DevServer

RUNNING = 3
#: Long enough for several heartbeats (every 0.2 s) while the tasks run.
TASK_SECONDS = 1.5


def test_task_in_flight_follows_the_heartbeats(
    flavour: str, dev_server: DevServer, handler_factory: HandlerFactory
) -> None:
    handler = handler_factory([make_worker(flavour, TASK, thread_count=RUNNING + 1)])
    initial = scrape_until(handler, lambda s: bool(s.find("task_in_flight", taskType=TASK)), "the gauge to show")
    assert initial.one("task_in_flight", taskType=TASK) == 0
    flow = register_flow(dev_server)
    ids = [dev_server.start_workflow(flow, {**DEFAULT_INPUT, "seconds": TASK_SECONDS, "index": i})
           for i in range(RUNNING)]

    assert handler.metrics is not None and handler.metrics.url is not None
    health_url = handler.metrics.url + "/health"

    def health_in_flight(s: Scrape) -> bool:
        [child] = http_get(health_url).json()["children"]
        return s.one("task_in_flight", taskType=TASK) == RUNNING and child["inFlight"] == RUNNING

    scrape_until(handler, health_in_flight, f"{RUNNING} tasks in flight on /metrics and /health")
    assert dev_server.wait_for_workflows(ids, WAIT) == dict.fromkeys(ids, "COMPLETED")
    scrape_until(handler, lambda s: s.one("task_in_flight", taskType=TASK) == 0, "nothing in flight")
