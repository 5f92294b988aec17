"""Results kept in the outbox outlive the worker tree: after the parent was SIGKILLed, or stopped
with SIGTERM while the server refused every update, the next start with the same state directory
delivers them."""

from __future__ import annotations

import re
from pathlib import Path

from _support.fault_apps.compute import CLI_COMPUTE_TASK, STARTED_DIR_VARIABLE
from _support.fault_apps.harness import (
    check_results,
    compute_workflow,
    outbox_command,
    process_gone,
    start_computations,
    wait_until,
)

RUN_SIZE = 20
#: Slots of the cli_compute worker.
SLOTS = 4


def outbox_list(state_dir: Path, *flags: str) -> str:
    """``outbox list`` of ``state_dir`` through the CLI; fails unless it exits 0."""
    done = outbox_command("--state-dir", str(state_dir), "list", *flags)
    assert done.returncode == 0, done
    return done.stdout


def listing_with(state_dir: Path, text: str) -> str | None:
    """The ``outbox list --all`` output when it contains ``text``, else None."""
    listing = outbox_list(state_dir, "--all")
    return listing if text in listing else None


def test_outbox_entries_are_delivered_after_the_parent_was_sigkilled(cli_tree, dev_server, tmp_path, flavour):
    """Updates fail for good while a CLI tree runs, so every result lands in the outbox; the whole
    tree is then SIGKILLed (no chance to clean up). Once the server is fine again, a new start with
    the same state directory delivers every kept result: the workflows complete with the results
    the worker computed, and `outbox list` shows 0 pending and every entry closed as delivered."""
    state_dir = tmp_path / "state"
    workflow = compute_workflow(dev_server, CLI_COMPUTE_TASK)
    dev_server.faults.add("update", status=503)
    assert "no outbox journal at" in outbox_list(state_dir)
    args = ("--server-url", dev_server.url, "--state-dir", str(state_dir), "_support.fault_apps.cli_compute")
    first = cli_tree(*args, flavour=flavour)
    first.wait_for(r"worker \S+ \(pid \d+\) is ready", "the worker to be ready")
    started = start_computations(dev_server, workflow, range(RUN_SIZE))
    wait_until(lambda: listing_with(state_dir, f": {RUN_SIZE} pending, 0 dead, 0 closed"),
               f"`outbox list` to show {RUN_SIZE} pending entries", interval=0.1)

    workers = first.worker_pids()
    first.kill_all()
    assert first.process.returncode == -9
    wait_until(lambda: all(process_gone(pid) for pid in workers), "the worker processes to be gone")
    assert all(dev_server.get_workflow(i)["status"] == "RUNNING" for i in started)
    dev_server.faults.clear()

    second = cli_tree(*args, flavour=flavour)
    check_results(dev_server, started, CLI_COMPUTE_TASK)
    listing = wait_until(lambda: listing_with(state_dir, f": 0 pending, 0 dead, {RUN_SIZE} closed"),
                         "`outbox list` to show every entry closed", interval=0.1)
    closed = re.findall(rf"^  #\d+ {CLI_COMPUTE_TASK} task (\S+) \(workflow (\S+)\), .*: delivered$", listing, re.M)
    assert sorted(workflow_id for _, workflow_id in closed) == sorted(started), listing
    assert second.stop() == 0, second.tail()


def test_results_of_a_stop_during_an_outage_are_delivered_by_the_next_start(cli_tree, dev_server, tmp_path,
                                                                             flavour):
    """SIGTERM arrives while tasks run and the server refuses every update: the running tasks finish
    within the grace period, their results go to the outbox instead of being lost, and the tree
    exits 0. The next start delivers them; the workflows still queued are run by it.

    The stop waits for every slot to have begun running (a marker file per execution), not for the
    server to show the tasks IN_PROGRESS: a task polled but not yet begun when SIGTERM arrives is
    handed back, not run, and has no result to keep."""
    state_dir = tmp_path / "state"
    started_dir = tmp_path / "started"
    started_dir.mkdir()
    workflow = compute_workflow(dev_server, CLI_COMPUTE_TASK)
    dev_server.faults.add("update", status=503)
    args = ("--server-url", dev_server.url, "--state-dir", str(state_dir), "_support.fault_apps.cli_compute")
    first = cli_tree(*args, flavour=flavour, extra={STARTED_DIR_VARIABLE: str(started_dir)})
    first.wait_for(r"worker \S+ \(pid \d+\) is ready", "the worker to be ready")
    started = start_computations(dev_server, workflow, range(SLOTS + 2), pause=0.5)
    wait_until(lambda: len(list(started_dir.iterdir())) >= SLOTS, "every slot to run a task")
    assert first.stop() == 0, first.tail()
    ran = len(list(started_dir.iterdir()))  # a slot freed before the stop may have begun one more
    assert listing_with(state_dir, f": {ran} pending, 0 dead, 0 closed"), outbox_list(state_dir)
    assert "handed to recovery" in first.log()

    dev_server.faults.clear()
    second = cli_tree(*args, flavour=flavour)
    check_results(dev_server, started, CLI_COMPUTE_TASK)
    listing = wait_until(lambda: listing_with(state_dir, f": 0 pending, 0 dead, {ran} closed"),
                         "`outbox list` to show every entry closed", interval=0.1)
    assert listing.count(": delivered\n") == ran, listing
    assert second.stop() == 0, second.tail()
