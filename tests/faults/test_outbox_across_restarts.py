"""Results kept in the outbox outlive the worker tree: after the parent was SIGKILLed, or stopped
with SIGTERM while the server refused every update, the next start with the same state directory
delivers them. A kept result belongs to the server it came from: a tree of another server sharing
the state directory leaves it alone, and trees of the same server sharing it at the same time
deliver each kept result exactly once."""

from __future__ import annotations

import re
from pathlib import Path

from _support.fault_apps.compute import CLI_COMPUTE_TASK, STARTED_DIR_VARIABLE
from _support.fault_apps.harness import (
    WAIT,
    check_results,
    compute_workflow,
    outbox_command,
    process_gone,
    start_computations,
    wait_until,
)

from conductor_actors.devserver import DevServer

RUN_SIZE = 20
#: Slots of the cli_compute worker.
SLOTS = 4
#: Results kept, then delivered by two trees sharing the state directory.
SHARED_SIZE = 300
#: A tree that keeps results quickly (many slots) and looks at its outbox often.
QUICK_OUTBOX = {
    "CONDUCTOR_WORKER_ALL_THREAD_COUNT": "50",
    "CONDUCTOR_ACTORS_RECOVERY_RETRY_BACKOFF_BASE": "0.2",
    "CONDUCTOR_ACTORS_RECOVERY_RETRY_BACKOFF_CAP": "1",
    "CONDUCTOR_ACTORS_RECOVERY_CHECK_INTERVAL": "0.2",
}
#: How late the server answers each update while the two trees deliver.
UPDATE_DELAY_MS = 20
READY = r"worker \S+ \(pid \d+\) is ready"


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


def updates(server: DevServer) -> int:
    """Result updates (v1 and v2) the dev server received since its counters were reset."""
    stats = server.stats()
    return stats["update_v1"] + stats["update_v2"]


def delivered_in(state_dir: Path, workflow_id: str) -> str | None:
    """The `outbox list --all` output once the entry for ``workflow_id`` is closed as delivered."""
    listing = outbox_list(state_dir, "--all")
    return listing if (entry_line(listing, workflow_id) or "").endswith(": delivered") else None


def attempts(line: str | None) -> int:
    """The attempt count an `outbox list` line shows."""
    found = re.search(r", (\d+) attempt\(s\)", line or "")
    assert found, line
    return int(found.group(1))


def entry_line(listing: str, workflow_id: str) -> str | None:
    """The `outbox list --all` line of the entry for ``workflow_id``, if listed."""
    found = re.search(rf"^  #\d+ .*\(workflow {re.escape(workflow_id)}\).*$", listing, re.M)
    return found.group(0) if found else None


def test_a_tree_of_another_server_leaves_a_kept_result_to_its_own_server(cli_tree, dev_server, tmp_path, flavour):
    """Tree A (server X) keeps a result while X refuses updates, and stops. Tree B (server Y)
    starts on the same state directory and keeps and delivers a result of its own: by then it has
    gone through the journal, but A's entry is still pending, says server X, has no attempt more
    than A made, and its task on X is still IN_PROGRESS (B neither sent it to Y nor closed it). A
    tree of X started later delivers it: the workflow completes with A's result, and X received
    exactly one update for it."""
    state_dir = tmp_path / "state"
    with DevServer() as server_y:
        workflow_x = compute_workflow(dev_server, CLI_COMPUTE_TASK)
        workflow_y = compute_workflow(server_y, CLI_COMPUTE_TASK)
        dev_server.faults.add("update", status=503)
        args_x = ("--server-url", dev_server.url, "--state-dir", str(state_dir), "_support.fault_apps.cli_compute")
        args_y = ("--server-url", server_y.url, "--state-dir", str(state_dir), "_support.fault_apps.cli_compute")
        tree_a = cli_tree(*args_x, flavour=flavour, extra=QUICK_OUTBOX)
        tree_a.wait_for(READY, "tree A to be ready")
        started_x = start_computations(dev_server, workflow_x, range(1))
        [workflow_a] = started_x
        wait_until(lambda: listing_with(state_dir, ": 1 pending, 0 dead, 0 closed"), "A's result to be kept",
                   interval=0.1)
        assert tree_a.stop() == 0, tree_a.tail()
        attempts_by_a = attempts(entry_line(outbox_list(state_dir), workflow_a))

        server_y.faults.add("update", status=503)
        tree_b = cli_tree(*args_y, flavour=flavour, extra=QUICK_OUTBOX)
        tree_b.wait_for(READY, "tree B to be ready")
        started_y = start_computations(server_y, workflow_y, range(1, 2))
        [workflow_b] = started_y
        wait_until(lambda: entry_line(outbox_list(state_dir, "--all"), workflow_b), "B's result to be kept",
                   interval=0.1)
        server_y.faults.clear()
        check_results(server_y, started_y, CLI_COMPUTE_TASK)
        listing = wait_until(lambda: delivered_in(state_dir, workflow_b), "B's own entry to be delivered",
                             interval=0.1)
        assert ": 1 pending, 0 dead, 1 closed\n" in listing, listing
        a_line = entry_line(listing, workflow_a) or ""
        assert f"server {dev_server.url}, " in a_line and attempts(a_line) == attempts_by_a, listing
        assert listing.index(a_line) < listing.index("\nclosed:"), listing  # still pending
        [task_a] = dev_server.get_workflow(workflow_a)["tasks"]
        assert task_a["status"] == "IN_PROGRESS"
        assert tree_b.stop() == 0, tree_b.tail()

    dev_server.faults.clear()
    dev_server.reset_stats()
    tree_c = cli_tree(*args_x, flavour=flavour, extra=QUICK_OUTBOX)
    check_results(dev_server, started_x, CLI_COMPUTE_TASK)
    listing = wait_until(lambda: listing_with(state_dir, ": 0 pending, 0 dead, 2 closed"),
                         "A's entry to be closed", interval=0.1)
    assert (entry_line(listing, workflow_a) or "").endswith(": delivered"), listing
    assert updates(dev_server) == 1
    assert tree_c.stop() == 0, tree_c.tail()


def test_trees_sharing_a_state_directory_deliver_each_kept_result_exactly_once(cli_tree, dev_server, tmp_path,
                                                                               flavour):
    """A tree keeps SHARED_SIZE results while the server refuses updates, and stops. Two trees of
    the same server then start together on the same state directory, the server answering updates
    a little late (so that two deliveries of one entry would overlap): every workflow completes
    with its kept result, every entry is closed as delivered, and the server received exactly
    SHARED_SIZE updates: no result was sent twice."""
    state_dir = tmp_path / "state"
    workflow = compute_workflow(dev_server, CLI_COMPUTE_TASK)
    dev_server.faults.add("update", status=503)
    args = ("--server-url", dev_server.url, "--state-dir", str(state_dir), "_support.fault_apps.cli_compute")
    keeper = cli_tree(*args, flavour=flavour, extra=QUICK_OUTBOX)
    keeper.wait_for(READY, "the keeping tree to be ready")
    started = start_computations(dev_server, workflow, range(SHARED_SIZE))
    wait_until(lambda: listing_with(state_dir, f": {SHARED_SIZE} pending, 0 dead, 0 closed"),
               f"{SHARED_SIZE} results to be kept", timeout=3 * WAIT, interval=0.2)
    assert keeper.stop() == 0, keeper.tail()

    dev_server.faults.clear()
    # Updates answered a little late: two trees delivering the same entries would overlap on each.
    dev_server.faults.add("update", delay_ms=UPDATE_DELAY_MS)
    dev_server.reset_stats()
    trees = [cli_tree(*args, flavour=flavour, extra=QUICK_OUTBOX) for _ in range(2)]
    check_results(dev_server, started, CLI_COMPUTE_TASK, timeout=3 * WAIT)
    listing = wait_until(lambda: listing_with(state_dir, f": 0 pending, 0 dead, {SHARED_SIZE} closed"),
                         "every entry to be closed", interval=0.2)
    assert listing.count(": delivered\n") == SHARED_SIZE, listing
    assert updates(dev_server) == SHARED_SIZE
    for tree in trees:
        assert tree.stop() == 0, tree.tail()
