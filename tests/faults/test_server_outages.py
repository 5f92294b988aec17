"""No result is lost when the server fails: results whose update cannot be sent go to the outbox
and are delivered once the server is back, unchanged.

Each test runs a batch of workflows of the deterministic compute worker through a real worker
tree while the dev server misbehaves, then checks what the server ended with: every workflow
COMPLETED, each task COMPLETED exactly once with the output the worker computes for it, and the
outbox empty (nothing pending, nothing dead).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _support.fault_apps.compute import COMPUTE_TASK, compute_worker
from _support.fault_apps.harness import (
    check_results,
    compute_workflow,
    journal_counts,
    journal_entries,
    outbox_settled,
    start_computations,
    wait_until,
)

#: Tasks per run, and how long a task computes (s): a run lasts a few seconds and spans the fault.
RUN_SIZE = 1000
PAUSE = 0.02
OUTAGE_SECONDS = 3.0


def assert_outbox_delivered_everything(state_dir: Path, *also: str) -> None:
    """The outbox ends with 0 pending and 0 dead, and every entry it kept was closed as delivered
    (or for one of the reasons in ``also``), each task's result kept once."""
    counts = outbox_settled(state_dir)
    assert counts["dead"] == 0, counts
    closed = journal_entries(state_dir, "closed")
    reasons = {entry.reason for entry in closed}
    assert counts["closed"] > 0 and "delivered" in reasons and reasons <= {"delivered", *also}, (counts, reasons)
    assert len({entry.task_id for entry in closed}) == len(closed)


@pytest.mark.slow
def test_every_result_arrives_once_when_updates_fail_for_a_while(start_tree, dev_server, state_dir, flavour):
    """Every update answers HTTP 500 for a few seconds in the middle of a run of 1000 tasks, then
    the server recovers: every workflow completes, every task carries exactly the result the worker
    computed for it (nothing lost, nothing sent twice with different results), and the outbox that
    held the results meanwhile ends empty."""
    workflow = compute_workflow(dev_server, COMPUTE_TASK)
    tree = start_tree([compute_worker(flavour)])
    started = start_computations(dev_server, workflow, range(RUN_SIZE), pause=PAUSE)
    wait_until(lambda: dev_server.stats()["update_v2"] >= 50, "the first results to arrive")
    outage = dev_server.faults.add("update", status=500, seconds=OUTAGE_SECONDS)
    wait_until(lambda: journal_counts(state_dir)["pending"] >= 10,
               "results kept in the outbox during the outage")
    assert outage.hits > 0
    check_results(dev_server, started, COMPUTE_TASK)
    assert_outbox_delivered_everything(state_dir)
    assert [status.restarts for status in tree.status()] == [0]


@pytest.mark.slow
def test_every_result_arrives_once_when_the_server_is_down_for_a_while(start_tree, dev_server, state_dir,
                                                                          flavour):
    """The server stops listening for a few seconds in the middle of a run (connections refused,
    polls and updates fail) and starts again on the same port: every workflow completes with
    exactly the results the worker computed, and the outbox ends empty."""
    workflow = compute_workflow(dev_server, COMPUTE_TASK)
    tree = start_tree([compute_worker(flavour)])
    started = start_computations(dev_server, workflow, range(RUN_SIZE), pause=PAUSE)
    wait_until(lambda: dev_server.stats()["update_v2"] >= 50, "the first results to arrive")
    dev_server.stop()
    try:
        wait_until(lambda: journal_counts(state_dir)["pending"] >= 1,
                   "results kept in the outbox while the server is down")
        # Stay down until the outbox has failed to deliver a few times (polls keep failing meanwhile).
        wait_until(lambda: any(e.attempts >= 3 for e in journal_entries(state_dir, "pending")),
                   "the outbox to retry against the stopped server")
    finally:
        dev_server.start()
    check_results(dev_server, started, COMPUTE_TASK)
    # An update the server applied just as it stopped may have lost its answer: the worker kept the
    # result, and the outbox finds the task already completed (by that very result).
    assert_outbox_delivered_everything(state_dir, "already finished (COMPLETED)")
    assert [status.restarts for status in tree.status()] == [0]
