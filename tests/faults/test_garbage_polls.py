"""Poll answers that are garbage are logged, skipped, and do not stop a worker from polling."""

from __future__ import annotations

import re

import pytest
from _support.fault_apps.compute import COMPUTE_TASK, compute_worker
from _support.fault_apps.harness import check_results, compute_workflow, start_computations, wait_until

#: Garbage kind -> a pattern of the WARNING the worker process logs about it (naming the problem).
GARBAGE = {
    "html": rf"polling for {COMPUTE_TASK} failed \(1 in a row\): invalid response \(GET [^)]*\): .*HTML",
    "truncated_json": rf"polling for {COMPUTE_TASK} failed \(1 in a row\): invalid response \(GET [^)]*\): "
                      r".*(ends early|truncated)",
    "missing_ids": r"skipping a polled garbage task the runtime cannot execute "
                   r"\(missing taskId and workflowInstanceId\)",
}


@pytest.mark.parametrize("kind", list(GARBAGE))
def test_garbage_poll_answers_are_logged_and_skipped(start_tree, dev_server, capfd, flavour, kind):
    """Three poll answers in a row are garbage (an HTML page, JSON cut in half, tasks without
    ids): the worker process logs a WARNING that names the problem, skips them, keeps polling, and
    completes the work that comes afterwards."""
    workflow = compute_workflow(dev_server, COMPUTE_TASK)
    tree = start_tree([compute_worker(flavour)], log_level="INFO")
    polls = dev_server.stats()["poll_batch"]
    garbage = dev_server.faults.add("poll", garbage=kind, times=3)
    wait_until(lambda: not garbage.active, "the garbage answers to be served")
    # Two more polls: the worker got a good answer to the first of them and polled again.
    wait_until(lambda: dev_server.stats()["poll_batch"] >= polls + 3 + 2, "polling to go on")
    started = start_computations(dev_server, workflow, range(20))
    check_results(dev_server, started, COMPUTE_TASK)
    assert [(s.state, s.restarts) for s in tree.status()] == [("up", 0)]
    log = capfd.readouterr().err
    warnings = [line for line in log.splitlines() if " WARNING " in line and re.search(GARBAGE[kind], line)]
    assert warnings, log[-3000:]
    assert f"[{COMPUTE_TASK} " in warnings[0]  # from the worker process
