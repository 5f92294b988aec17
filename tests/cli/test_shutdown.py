"""Stopping the CLI: SIGTERM under load loses nothing (results it cannot deliver wait in the outbox),
a second signal takes the fast path, and a SIGKILLed parent leaves no worker behind."""

from __future__ import annotations

import os
import re
import signal
import time
from typing import TYPE_CHECKING

import pytest
from _support.cli_apps import (
    FAST_ENV,
    PAIR_ASYNC_TASK,
    PAIR_SYNC_TASK,
    SLEEPY_TASK,
    SLOW_TASK,
    WAIT,
    one_task_workflow,
    process_gone,
    start_workflows,
    wait_until,
)

from conductor_actors.cli import EXIT_OK
from conductor_actors.settings import STOP_MARGIN

if TYPE_CHECKING:
    from _support.cli_tree import CliTree

    from conductor_actors.devserver import DevServer

    from .conftest import RunCli, StartCli

GRACE = float(FAST_ENV["CONDUCTOR_ACTORS_SHUTDOWN_GRACE"])
FLUSH = float(FAST_ENV["CONDUCTOR_ACTORS_SHUTDOWN_FLUSH"])
#: After this long the supervisor starts SIGTERMing workers that did not stop on their own.
SHUTDOWN_DEADLINE = GRACE + FLUSH + STOP_MARGIN
#: For the fast-path tests: a grace far longer than the test, and the fast path's SIGKILL delay.
LONG_GRACE = "60"
FAST_SHUTDOWN_TIMEOUT = 2.0


def stop_twice_while_tasks_run(
    cli: StartCli, server: DevServer, flavour: str, signum: int
) -> tuple[CliTree, float]:
    """Start the slow scenario with a long grace, get 4 tasks of 30 s running, send ``signum``,
    wait until the worker is stopping gracefully, send ``signum`` again; returns (run, seconds from
    the second signal to the CLI's exit)."""
    workflow = one_task_workflow(server, SLOW_TASK, ["seconds", "index"])
    run = cli("_support.cli_apps.slow", flavour=flavour, server=server, env={
        "CONDUCTOR_ACTORS_SHUTDOWN_GRACE": LONG_GRACE,
        "CONDUCTOR_ACTORS_FAST_SHUTDOWN_TIMEOUT": str(FAST_SHUTDOWN_TIMEOUT),
    })
    run.wait_ready(SLOW_TASK)
    start_workflows(server, workflow, ({"seconds": 30.0, "index": i} for i in range(4)))
    run.wait_for(r"slow task \d running", "4 running tasks", count=4)
    run.send(signum)
    run.wait_for(rf"worker {SLOW_TASK} stopping \(asked by the parent\)", "the graceful stop to begin")
    second = time.monotonic()
    run.send(signum)
    run.wait_exit(FAST_SHUTDOWN_TIMEOUT + WAIT)
    return run, time.monotonic() - second


def test_sigterm_under_load_exits_0_in_time_and_leaves_no_task_in_progress(
    cli: StartCli, dev_server: DevServer, flavour: str
) -> None:
    """SIGTERM while 120 workflows of 0.2-0.5 s tasks run: the CLI exits 0 before the shutdown
    deadline without killing anyone, its worker process is gone, and no task handed out to it is
    left IN_PROGRESS on the server (each finished or was handed back as SCHEDULED). A second run
    then completes every workflow."""
    workflow = one_task_workflow(dev_server, SLEEPY_TASK, ["seconds", "index"])
    env = {"CONDUCTOR_WORKER_CLI_SLEEPY_THREAD_COUNT": "16"}
    run = cli("_support.cli_apps.sleepy", flavour=flavour, server=dev_server, env=env)
    child = run.wait_ready(SLEEPY_TASK)
    ids = start_workflows(dev_server, workflow, ({"seconds": 0.2 + (i % 4) * 0.1, "index": i} for i in range(120)))
    wait_until(lambda: len(dev_server.tasks(status="COMPLETED")) >= 16, "16 tasks done")

    signalled = time.monotonic()
    run.send(signal.SIGTERM)
    assert run.wait_exit(SHUTDOWN_DEADLINE + WAIT) == EXIT_OK, run.tail()
    took = time.monotonic() - signalled
    assert took < SHUTDOWN_DEADLINE, f"took {took:.1f} s\n{run.tail()}"
    assert "SIGKILL" not in run.log() and "did not stop within" not in run.log(), run.tail()
    assert process_gone(child)

    assert dev_server.tasks(status="IN_PROGRESS") == []
    handed_out = [t for t in dev_server.tasks(task_type=SLEEPY_TASK) if t["pollCount"] > 0]
    assert {t["status"] for t in handed_out} <= {"COMPLETED", "SCHEDULED"}
    done_at_stop = len(dev_server.tasks(status="COMPLETED"))
    assert done_at_stop < len(ids), "the backlog was gone before the stop: the test proves nothing"

    second = cli("_support.cli_apps.sleepy", flavour=flavour, server=dev_server, env=env)
    assert dev_server.wait_for_workflows(ids, timeout=60) == dict.fromkeys(ids, "COMPLETED")
    second.send(signal.SIGTERM)
    assert second.wait_exit() == EXIT_OK, second.tail()


def stop_while_updates_fail(cli: StartCli, server: DevServer, flavour: str, count: int) -> CliTree:
    """Every update answered 503 (retries 0.3 s apart, so retries are pending); once each of
    ``count`` results failed its first attempt, SIGTERM; returns the run after its exit 0."""
    workflow = one_task_workflow(server, SLEEPY_TASK, ["seconds", "index"])
    run = cli("_support.cli_apps.sleepy", flavour=flavour, server=server,
              env={"CONDUCTOR_ACTORS_UPDATE_RETRY_DELAYS": "0.3,0.3"})
    run.wait_ready(SLEEPY_TASK)
    server.faults.add("update", status=503)
    start_workflows(server, workflow, ({"seconds": 0, "index": i} for i in range(count)))
    run.wait_for(r"failed \(attempt 1\)", f"{count} failed updates", count=count)
    run.send(signal.SIGTERM)
    assert run.wait_exit(SHUTDOWN_DEADLINE + WAIT) == EXIT_OK, run.tail()
    return run


def test_sigterm_while_updates_fail_keeps_every_result_in_the_outbox(
    cli: StartCli, run_cli: RunCli, dev_server: DevServer, flavour: str
) -> None:
    """SIGTERM while the server rejects every update: the CLI still exits 0 in time, and each
    result it could not deliver is kept in the outbox (``outbox list`` shows it pending, COMPLETED)."""
    run = stop_while_updates_fail(cli, dev_server, flavour, 4)
    listing = run_cli("outbox", "list")
    assert listing.code == EXIT_OK, listing
    assert ": 4 pending, 0 dead" in listing.stdout, listing.stdout
    for task in dev_server.tasks(task_type=SLEEPY_TASK):
        assert task["status"] == "IN_PROGRESS"  # the server never accepted a result
        assert re.search(rf"task {task['taskId']} \(workflow {task['workflowInstanceId']}\).*result COMPLETED",
                         listing.stdout), listing.stdout
    assert "SIGKILL" not in run.log(), run.tail()


def test_worker_exit_line_counts_the_results_passed_to_recovery(
    cli: StartCli, dev_server: DevServer, flavour: str
) -> None:
    """The supervisor's line for a worker that stopped says how many of its results went to
    recovery: here all 4, since the server rejected every update."""
    run = stop_while_updates_fail(cli, dev_server, flavour, 4)
    exits = run.matches(rf"worker {SLEEPY_TASK} \(pid \d+\) exited: stopped .*: (\d+) handed back, (\d+) to recovery")
    assert [m.group(2) for m in exits] == ["4"], run.tail()


def test_children_exit_on_their_own_when_the_parent_is_sigkilled(cli: StartCli, dev_server: DevServer) -> None:
    """SIGKILL the CLI while both worker processes (one sync, one async) run tasks: each notices its
    parent is gone and exits within a few seconds, after finishing or handing back what it held."""
    for task in (PAIR_SYNC_TASK, PAIR_ASYNC_TASK):
        one_task_workflow(dev_server, task, ["seconds", "index"])
    run = cli("_support.cli_apps.pair", server=dev_server)
    children = [run.wait_ready(PAIR_SYNC_TASK), run.wait_ready(PAIR_ASYNC_TASK)]
    for task in (PAIR_SYNC_TASK, PAIR_ASYNC_TASK):
        start_workflows(dev_server, f"{task}_flow", ({"seconds": 0.3, "index": i} for i in range(40)))
    wait_until(lambda: len(dev_server.tasks(status="IN_PROGRESS")) >= 8, "tasks in flight")

    os.kill(run.pid, signal.SIGKILL)
    assert run.wait_exit() == -signal.SIGKILL
    killed = time.monotonic()
    wait_until(lambda: all(process_gone(pid) for pid in children), "the orphaned workers to exit", timeout=15)
    assert time.monotonic() - killed < 10
    assert dev_server.tasks(status="IN_PROGRESS") == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_second_signal_takes_the_fast_path_with_exit_128_plus_signal(
    cli: StartCli, dev_server: DevServer, signum: int
) -> None:
    """A second SIGTERM (SIGINT) while a graceful stop waits for long tasks: the CLI stops within the
    fast-path timeout (not the 60 s grace) and exits 143 (130)."""
    run, took = stop_twice_while_tasks_run(cli, dev_server, "sync", signum)
    assert run.process.returncode == 128 + signum, run.tail()
    assert took < FAST_SHUTDOWN_TIMEOUT + 2.0, f"took {took:.1f} s\n{run.tail()}"
    assert "fast stop requested" in run.log()


def test_second_signal_hands_back_running_tasks_instead_of_killing_the_worker(
    cli: StartCli, dev_server: DevServer, flavour: str
) -> None:
    """On the fast path (a second SIGTERM during a graceful stop) the worker cuts its grace short:
    running tasks are handed back (SCHEDULED again, nothing left IN_PROGRESS) and it exits by itself
    before the supervisor has to SIGKILL it."""
    run, _ = stop_twice_while_tasks_run(cli, dev_server, flavour, signal.SIGTERM)
    assert run.process.returncode == 128 + signal.SIGTERM, run.tail()
    assert dev_server.tasks(status="IN_PROGRESS") == [], run.tail()
    assert len(dev_server.tasks(status="SCHEDULED")) == 4
    assert "sending SIGKILL" not in run.log(), run.tail()
