"""Start, status, clean and fast stops, pause/resume, and what children send (real processes)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from _support.fake_children import (
    chatty,
    fake_settings,
    ignores_stop,
    read_records,
    sends_garbage,
    wedged,
    well_behaved,
)
from supervision._helpers import WAIT, process_gone, settings, started_pids, wait_for_record, wait_until

from conductor_actors.client import TaskResult
from conductor_actors.events import PollStarted
from conductor_actors.runtime import EventBatch, UndeliveredResult
from conductor_actors.settings import STOP_MARGIN
from conductor_actors.supervision import ChildStatus


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_start_then_clean_stop_reaps_every_child(make_supervisor, tmp_path: Path, start_method: str) -> None:
    worker_settings = [fake_settings("alpha", well_behaved(tmp_path)), fake_settings("beta", well_behaved(tmp_path))]
    supervisor, collector = make_supervisor(worker_settings, settings(start_method=start_method))
    supervisor.start()
    supervisor.start()  # idempotent: still one process per worker
    assert supervisor.wait_ready(WAIT)

    statuses = supervisor.status()
    assert [s.key for s in statuses] == ["alpha", "beta"]
    assert [s.task_type for s in statuses] == ["alpha_task", "beta_task"]
    assert all(s.state == "up" and s.alive and s.restarts == 0 for s in statuses)
    pids = [s.pid for s in statuses]
    assert None not in pids and len(set(pids)) == 2
    wait_until(lambda: all(s.stage_ages for s in supervisor.status()), "a first heartbeat from both")
    assert supervisor.is_healthy()
    for key in ("alpha", "beta"):
        first = read_records(tmp_path, key)[0]
        # the supervisor thread blocked SIGINT/SIGTERM before spawning: the child starts with them blocked
        assert "SIGINT" in first and "SIGTERM" in first, first

    supervisor.request_stop()
    assert supervisor.join(WAIT) == 0
    assert supervisor.exit_reason is None
    assert supervisor.finished
    for key, pid in zip(("alpha", "beta"), pids):
        records = read_records(tmp_path, key)
        assert "stop 1.0 0.5" in records  # Stop(shutdown_grace, shutdown_flush)
        assert records[-1] == "exit 0"
        assert started_pids(tmp_path, key) == [pid]
        assert process_gone(pid)
        assert collector.states(key) == ["starting", "up", "stopping", "stopped"]
    assert all(s.state == "stopped" and not s.alive and s.last_exit == 0 for s in supervisor.status())
    assert not supervisor.is_healthy()


def test_stop_requested_before_start_spawns_nothing(make_supervisor, tmp_path: Path) -> None:
    supervisor, _ = make_supervisor([fake_settings("alpha", well_behaved(tmp_path))])
    supervisor.request_stop()
    supervisor.start()
    assert supervisor.join(WAIT) == 0
    assert read_records(tmp_path, "alpha") == []
    assert [s.state for s in supervisor.status()] == ["stopped"]
    assert not supervisor.wait_ready(0.1)


def test_fast_stop_cuts_the_grace_period_short(make_supervisor, tmp_path: Path) -> None:
    worker_settings = [fake_settings(key, well_behaved(tmp_path, linger=True)) for key in ("alpha", "beta")]
    supervisor, _ = make_supervisor(worker_settings, settings(shutdown_grace=60.0))
    supervisor.start()
    assert supervisor.wait_ready(WAIT)

    supervisor.request_stop()  # graceful: the children keep running their "tasks" for 60 s
    for key in ("alpha", "beta"):
        wait_for_record(tmp_path, key, lambda lines: "stop 60.0 0.5" in lines, "the graceful Stop")
    assert supervisor.join(0.3) is None

    started = time.monotonic()
    supervisor.request_stop(fast=True, exit_code=130)
    assert supervisor.join(WAIT) == 130
    assert time.monotonic() - started < 10
    for key in ("alpha", "beta"):
        records = read_records(tmp_path, key)
        assert "stop 0.0 1.0" in records and records[-1] == "exit 0"


def test_fast_stop_kills_what_outlives_its_timeout(make_supervisor, tmp_path: Path) -> None:
    worker_settings = [fake_settings("stubborn", ignores_stop(tmp_path))]
    supervisor, _ = make_supervisor(worker_settings, settings(fast_shutdown_timeout=0.5))
    supervisor.start()
    assert supervisor.wait_ready(WAIT)
    started = time.monotonic()
    supervisor.request_stop(fast=True)
    assert supervisor.join(WAIT) == 0
    assert time.monotonic() - started >= 0.5
    assert "stop 0.0 1.0" in read_records(tmp_path, "stubborn")
    assert supervisor.status()[0].last_exit == "SIGKILL"


def test_child_ignoring_stop_gets_sigterm_then_sigkill_at_the_deadlines(make_supervisor, tmp_path: Path) -> None:
    worker_settings = [
        fake_settings("stubborn", ignores_stop(tmp_path)),
        fake_settings("polite", well_behaved(tmp_path)),
    ]
    supervisor, collector = make_supervisor(
        worker_settings, settings(shutdown_grace=0.2, shutdown_flush=0.1, kill_timeout=0.5)
    )
    supervisor.start()
    assert supervisor.wait_ready(WAIT)
    started = time.monotonic()
    supervisor.request_stop()
    assert supervisor.join(WAIT) == 0
    elapsed = time.monotonic() - started
    # SIGTERM at grace + flush + STOP_MARGIN, SIGKILL kill_timeout later
    assert 0.2 + 0.1 + STOP_MARGIN + 0.5 <= elapsed < 10, elapsed
    records = read_records(tmp_path, "stubborn")
    assert records.index("stop 0.2 0.1") < records.index("sigterm")
    assert "exit 0" not in records
    stubborn, polite = supervisor.status()
    assert stubborn.last_exit == "SIGKILL" and stubborn.state == "stopped" and not stubborn.alive
    assert polite.last_exit == 0 and read_records(tmp_path, "polite")[-1] == "exit 0"
    assert collector.states("stubborn")[-2:] == ["stopping", "stopped"]


def test_pause_and_resume_reach_every_child_including_restarted_ones(make_supervisor, tmp_path: Path) -> None:
    worker_settings = [fake_settings("alpha", well_behaved(tmp_path)), fake_settings("beta", well_behaved(tmp_path))]
    supervisor, _ = make_supervisor(worker_settings)
    supervisor.start()
    assert supervisor.wait_ready(WAIT)

    supervisor.pause()
    for key in ("alpha", "beta"):
        wait_for_record(tmp_path, key, lambda lines: "pause" in lines, "Pause")

    old_pid = supervisor.status()[0].pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: supervisor.status()[0].restarts == 1 and supervisor.status()[0].state == "up", "alpha restarted")
    # the fresh process is told to pause as soon as it is ready
    wait_for_record(tmp_path, "alpha", lambda lines: lines.count("pause") == 2, "Pause for the restarted process")

    supervisor.resume()
    for key in ("alpha", "beta"):
        wait_for_record(tmp_path, key, lambda lines: "resume" in lines, "Resume")
    lines = read_records(tmp_path, "alpha")
    assert lines.index("resume") > max(i for i, line in enumerate(lines) if line == "pause")


def test_on_message_receives_batches_and_undelivered_results_from_two_children(make_supervisor, tmp_path: Path) -> None:
    worker_settings = [fake_settings("alpha", chatty(tmp_path)), fake_settings("beta", chatty(tmp_path))]
    supervisor, collector = make_supervisor(worker_settings)
    supervisor.start()

    received = [collector.messages.get(timeout=WAIT) for _ in range(4)]
    by_kind: dict[str, set[str]] = {"batch": set(), "undelivered": set()}
    for status, message in received:
        if isinstance(message, EventBatch):
            (event,) = message.events
            assert isinstance(event, PollStarted) and event.worker_id == status.key
            assert event.task_type == status.task_type
            by_kind["batch"].add(status.key)
        else:
            assert isinstance(message, UndeliveredResult)
            assert isinstance(message.result, TaskResult) and message.result.task_id == f"{status.key}-task"
            assert isinstance(message.cause, ConnectionError) and status.key in str(message.cause)
            assert message.attempts == 4
            by_kind["undelivered"].add(status.key)
    assert by_kind == {"batch": {"alpha", "beta"}, "undelivered": {"alpha", "beta"}}
    supervisor.request_stop()
    assert supervisor.join(WAIT) == 0


def test_is_healthy_needs_a_fresh_heartbeat(make_supervisor, tmp_path: Path) -> None:
    """Up is not enough: a child whose heartbeats stopped is unhealthy long before it counts as wedged."""
    worker_settings = [
        fake_settings("steady", well_behaved(tmp_path)),
        fake_settings("quiet", wedged(tmp_path, beats=3)),
    ]
    supervisor, _ = make_supervisor(worker_settings, settings(heartbeat_timeout=600.0))
    supervisor.start()
    assert supervisor.wait_ready(WAIT)
    wait_for_record(tmp_path, "quiet", lambda lines: "wedged" in lines, "its loop blocking")
    wait_until(lambda: not supervisor.is_healthy(), "unhealthy once its heartbeats are stale")
    steady, quiet = supervisor.status()
    assert quiet.state == "up" and quiet.last_heartbeat_age is not None and quiet.last_heartbeat_age > 0.6
    assert steady.last_heartbeat_age is not None and steady.last_heartbeat_age < quiet.last_heartbeat_age
    supervisor.request_stop(fast=True)
    assert supervisor.join(WAIT) == 0
    assert [s.last_exit for s in supervisor.status()] == [0, "SIGKILL"]


def test_garbage_from_a_child_is_reported_and_skipped(make_supervisor, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="conductor_actors.supervision")
    supervisor, _ = make_supervisor([fake_settings("noisy", sends_garbage(tmp_path))])
    supervisor.start()
    assert supervisor.wait_ready(WAIT)

    def warned(fragment: str) -> bool:
        return any("noisy" in r.getMessage() and fragment in r.getMessage() for r in caplog.records)

    wait_until(lambda: warned("unexpected str") and warned("cannot be read") and warned("unreadable stage ages"),
               "a warning for each piece of garbage")
    wait_until(lambda: supervisor.status()[0].stage_ages != (), "a proper heartbeat after the garbage")
    assert supervisor.status()[0].state == "up" and supervisor.status()[0].restarts == 0
    supervisor.request_stop()
    assert supervisor.join(WAIT) == 0


def test_what_a_child_sends_before_it_exits_reaches_on_message(make_supervisor, tmp_path: Path) -> None:
    """Nothing a child sends before it exits is lost, even when it is dead before the supervisor
    reads it (here the supervisor is held up in on_message until the child has exited)."""
    release = threading.Event()
    farewells: list[int] = []

    def on_message(status: ChildStatus, message: object) -> None:
        if isinstance(message, EventBatch) and message.events[0].worker_id == "alpha-farewell":
            if not farewells:  # hold the supervisor thread while the child sends the rest and exits
                assert release.wait(WAIT)
            farewells.append(message.events[0].poll_count)

    supervisor, _ = make_supervisor([fake_settings("alpha", chatty(tmp_path, farewell=150))], on_message=on_message)
    supervisor.start()
    assert supervisor.wait_ready(WAIT)
    supervisor.request_stop()
    wait_for_record(tmp_path, "alpha", lambda lines: "exit 0" in lines, "the child's exit")
    release.set()
    assert supervisor.join(WAIT) == 0
    assert farewells == list(range(150))
