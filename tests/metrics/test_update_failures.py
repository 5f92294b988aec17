"""Result updates that fail: every failed attempt is counted by error class, a result whose every
attempt failed is counted once as failed and handed to the outbox, and the outbox's own series
(``recovery_journal_entries``, ``recovery_deliveries_total``) show it kept and then delivered - all
read from real scrapes of ``/metrics``.

Updates answer HTTP 500 while the fault is on; ``FAST_RUNTIME`` makes three quick attempts
(0.05 and 0.1 s apart) and the outbox (in the test's own directory) tries every fraction of a
second.
"""

from __future__ import annotations

from pathlib import Path

from _support.metrics_apps import make_worker, output_of
from _support.metrics_apps.harness import (
    DEFAULT_INPUT,
    FAST_RUNTIME,
    TASK,
    WAIT,
    HandlerFactory,
    register_flow,
    scrape_until,
)

from conductor_actors.devserver import DevServer
from conductor_actors.settings import RecoverySettings

TASKS = 3


def test_failed_update_attempts_are_counted_and_the_outbox_delivers_the_results(
    flavour: str, dev_server: DevServer, handler_factory: HandlerFactory, tmp_path: Path
) -> None:
    recovery = RecoverySettings(state_dir=str(tmp_path / "state"), retry_backoff_base=0.2, retry_backoff_cap=0.4,
                                check_interval=0.2)
    handler = handler_factory([make_worker(flavour, TASK)], recovery=recovery)
    attempts = FAST_RUNTIME.update_attempts
    outage = dev_server.faults.add("update", status=500)
    flow = register_flow(dev_server)
    ids = [dev_server.start_workflow(flow, {**DEFAULT_INPUT, "size": 2, "index": i}) for i in range(TASKS)]

    during = scrape_until(
        handler, lambda s: s.total("task_update_failed_total", taskType=TASK) >= TASKS
        and s.total("recovery_journal_entries", state="pending") >= TASKS,
        f"{TASKS} results failed for good and kept in the outbox",
    )
    assert during.one("task_update_failed_total", taskType=TASK) == TASKS
    errors = during.find("task_update_error_total", taskType=TASK)
    assert [(e.labels["exception"], e.value) for e in errors] == [("ConductorHTTPError", TASKS * attempts)], (
        during.lines("task_update_error_total"))
    assert during.one("task_update_time_seconds_count", taskType=TASK, status="FAILURE") == TASKS * attempts
    assert during.find("task_update_time_seconds_count", taskType=TASK, status="SUCCESS") == []
    assert during.one("recovery_journal_entries", state="pending") == TASKS
    assert during.one("recovery_journal_entries", state="dead") == 0
    assert during.find("recovery_deliveries_total", outcome="delivered") == []
    assert all(status == "RUNNING" for status in dev_server.workflow_statuses(ids).values())

    outage.remove()
    after = scrape_until(
        handler, lambda s: s.total("recovery_deliveries_total", outcome="delivered") >= TASKS
        and s.total("recovery_journal_entries", state="pending") == 0,
        "the outbox to deliver every kept result",
    )
    assert after.one("recovery_deliveries_total", outcome="delivered") == TASKS
    assert after.one("recovery_journal_entries", state="dead") == 0
    assert after.find("recovery_deliveries_total", outcome="dead") == []
    assert after.one("task_update_failed_total", taskType=TASK) == TASKS  # the outbox's calls are not the worker's
    assert dev_server.wait_for_workflows(ids, WAIT) == dict.fromkeys(ids, "COMPLETED")
    assert [t["outputData"] for t in dev_server.tasks(task_type=TASK)] == [output_of(2)] * TASKS
