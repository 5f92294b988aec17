"""one_for_one restarts: crashes, SIGKILLs and wedged children get a fresh process after a backoff;
the consecutive-crash count resets after uptime; the intensity limit gives up (real processes)."""

from __future__ import annotations

import itertools
import logging
import os
import re
import signal
import time
from pathlib import Path

import pytest
from _support.clock import FakeClock
from _support.fake_children import (
    crash_loop,
    crashes_then_behaves,
    fake_settings,
    read_records,
    stuck_stage,
    wedged,
    well_behaved,
)
from supervision._helpers import WAIT, process_gone, settings, started_pids, wait_for_record, wait_until

LOGGER = "conductor_actors.supervision"


def _delays(caplog: pytest.LogCaptureFixture) -> list[float]:
    """The restart delays the supervisor announced, in order."""
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    found = [re.search(r"restarting in ([0-9.]+) s", text) for text in warnings]
    return [float(match.group(1)) for match in found if match]


def _up_after_restarts(supervisor, index: int, restarts: int) -> bool:
    status = supervisor.status()[index]
    return status.restarts == restarts and status.state == "up"


def _kill_and_wait_for_restart(supervisor, restarts: int) -> None:
    """SIGKILL the first child and wait until it is up again with ``restarts`` restarts."""
    pid = supervisor.status()[0].pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: _up_after_restarts(supervisor, 0, restarts), f"restart {restarts}")


def test_crashed_child_gets_a_fresh_process_after_a_growing_backoff(make_supervisor, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    worker_settings = [
        fake_settings("flaky", crashes_then_behaves(tmp_path, 2)),
        fake_settings("steady", well_behaved(tmp_path)),
    ]
    supervisor, collector = make_supervisor(
        worker_settings, settings(restart_backoff_base=0.3, restart_backoff_cap=5.0)
    )
    supervisor.start()
    wait_until(lambda: _up_after_restarts(supervisor, 0, 2), "flaky up after two restarts")

    flaky, steady = supervisor.status()
    assert flaky.consecutive_crashes == 2 and flaky.last_exit == 1
    pids = started_pids(tmp_path, "flaky")
    assert len(pids) == 3 and len(set(pids)) == 3 and flaky.pid == pids[-1]
    assert all(process_gone(pid) for pid in pids[:2])
    # one_for_one: the sibling was left alone
    assert steady.restarts == 0 and started_pids(tmp_path, "steady") == [steady.pid]

    assert _delays(caplog) == [0.3, 0.6]  # base * 2**(n-1), jitter 0 in these settings
    timeline = collector.timeline("flaky")
    waits = [
        later_at - at
        for (at, status), (later_at, later) in itertools.pairwise(timeline)
        if status.state == "restarting" and later.state == "starting"
    ]
    assert len(waits) == 2 and waits[0] >= 0.3 and waits[1] >= 0.6, waits
    assert collector.states("flaky")[:6] == ["starting", "up", "restarting", "starting", "up", "restarting"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("flaky" in text and "exited unexpectedly: exit code 1" in text for text in warnings), warnings


def test_sigkilled_child_is_restarted(make_supervisor, tmp_path: Path) -> None:
    supervisor, _ = make_supervisor([fake_settings("victim", well_behaved(tmp_path))])
    supervisor.start()
    assert supervisor.wait_ready(WAIT)
    old_pid = supervisor.status()[0].pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: _up_after_restarts(supervisor, 0, 1), "the victim up again")
    status = supervisor.status()[0]
    assert status.pid != old_pid and status.last_exit == "SIGKILL" and status.consecutive_crashes == 1
    assert process_gone(old_pid)
    supervisor.request_stop()
    assert supervisor.join(WAIT) == 0


def test_consecutive_crashes_reset_after_uptime(make_supervisor, tmp_path: Path, caplog) -> None:
    """The schedule itself, on an injected clock and random source: quick crashes double the
    delay; after ``restart_reset_after`` seconds of (clock) uptime the next crash starts from the
    base again."""
    caplog.set_level(logging.WARNING, logger=LOGGER)
    clock = FakeClock.running()
    supervisor, _ = make_supervisor(
        [fake_settings("victim", well_behaved(tmp_path))],
        settings(restart_reset_after=30.0, heartbeat_timeout=600.0, restart_jitter=0.2),
        clock=clock,
        rng=lambda: 0.0,  # the low end of the jitter: every delay is 0.8 x the nominal one
    )
    supervisor.start()
    assert supervisor.wait_ready(WAIT)

    _kill_and_wait_for_restart(supervisor, 1)
    _kill_and_wait_for_restart(supervisor, 2)
    assert supervisor.status()[0].consecutive_crashes == 2
    clock.advance(29.0)  # not long enough yet
    _kill_and_wait_for_restart(supervisor, 3)
    assert supervisor.status()[0].consecutive_crashes == 3
    clock.advance(31.0)  # up for longer than restart_reset_after: the count goes back to 0
    wait_until(lambda: supervisor.status()[0].consecutive_crashes == 0, "the crash count reset")
    _kill_and_wait_for_restart(supervisor, 4)
    assert supervisor.status()[0].consecutive_crashes == 1
    assert _delays(caplog) == [0.04, 0.08, 0.16, 0.04]


def test_restart_window_slides_with_the_clock(make_supervisor, tmp_path: Path) -> None:
    """Restarts older than ``restart_window`` (on the injected clock) no longer count."""
    clock = FakeClock.running()
    supervisor, _ = make_supervisor(
        [fake_settings("victim", well_behaved(tmp_path))],
        settings(max_restarts=2, restart_window=100.0, heartbeat_timeout=600.0),
        clock=clock,
    )
    supervisor.start()
    assert supervisor.wait_ready(WAIT)
    _kill_and_wait_for_restart(supervisor, 1)
    _kill_and_wait_for_restart(supervisor, 2)
    clock.advance(101.0)  # both restarts leave the window
    _kill_and_wait_for_restart(supervisor, 3)  # allowed
    assert not supervisor.finished
    supervisor.request_stop()
    assert supervisor.join(WAIT) == 0


def test_crash_loop_hits_the_intensity_limit_and_stops_everything(make_supervisor, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    worker_settings = [fake_settings("doomed", crash_loop(tmp_path)), fake_settings("steady", well_behaved(tmp_path))]
    supervisor, collector = make_supervisor(worker_settings, settings(max_restarts=3))
    supervisor.start()
    assert supervisor.join(WAIT) == 1

    reason = supervisor.exit_reason
    assert reason is not None and "'doomed'" in reason and "more than 3 restarts" in reason, reason
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "'doomed'" in errors[0] and "more than 3 restarts" in errors[0]
    assert len(started_pids(tmp_path, "doomed")) == 4  # the first start and three restarts
    doomed, steady = supervisor.status()
    assert doomed.state == "failed" and doomed.restarts == 3 and not doomed.alive
    assert steady.state == "stopped" and not steady.alive
    steady_records = read_records(tmp_path, "steady")
    assert "stop 1.0 0.5" in steady_records and steady_records[-1] == "exit 0"
    assert all(process_gone(pid) for key in ("doomed", "steady") for pid in started_pids(tmp_path, key))
    assert collector.states("doomed")[-1] == "failed"


def test_wedged_child_is_terminated_killed_and_restarted(make_supervisor, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    supervisor, _ = make_supervisor([fake_settings("stuck", wedged(tmp_path))], settings(heartbeat_timeout=1.0))
    supervisor.start()
    wait_for_record(tmp_path, "stuck", lambda lines: "wedged" in lines, "its loop blocking")
    wait_until(lambda: _up_after_restarts(supervisor, 0, 1), "a fresh process")
    records = read_records(tmp_path, "stuck")
    first_run = records[: records.index("ready", records.index("wedged"))]
    assert "sigterm" in first_run and "exit 0" not in first_run  # SIGTERM did not end it: SIGKILL did
    status = supervisor.status()[0]
    assert status.last_exit == "SIGKILL" and status.consecutive_crashes == 1
    wedge = [r.getMessage() for r in caplog.records if "is wedged" in r.getMessage()]
    assert len(wedge) == 1 and wedge[0].startswith("worker stuck (pid "), wedge
    assert "is wedged: no heartbeat for" in wedge[0], wedge
    wait_until(supervisor.is_healthy, "healthy again")


def test_child_whose_stage_stops_running_is_wedged_despite_heartbeats(make_supervisor, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    supervisor, _ = make_supervisor([fake_settings("slowpoke", stuck_stage(tmp_path))], settings(heartbeat_timeout=1.0))
    supervisor.start()
    started = time.monotonic()
    wait_until(lambda: _up_after_restarts(supervisor, 0, 1), "a fresh process")
    assert time.monotonic() - started >= 1.0
    wedge = [r.getMessage() for r in caplog.records if "is wedged" in r.getMessage()]
    assert len(wedge) == 1 and "stage 'executor' has not run for" in wedge[0], wedge
    records = read_records(tmp_path, "slowpoke")
    assert records.count("sigterm") == 1 and records.count("exit 0") == 1  # it stopped on SIGTERM
    assert supervisor.status()[0].last_exit == 0
