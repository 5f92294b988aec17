"""Children that never become ready are not restarted: the tree stops with exit code 3 and a reason
naming the worker and the cause (real processes)."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

from _support.fake_children import (
    BOOT_FAILURE_REASON,
    boot_failure,
    fake_settings,
    hangs_before_ready,
    read_records,
    well_behaved,
)
from supervision._helpers import (
    FAST,
    WAIT,
    exits_like_an_unguarded_main,
    process_gone,
    settings,
    started_pids,
    wait_for_record,
)

from conductor_actors.client import Configuration
from conductor_actors.runtime import WorkerSettings
from conductor_actors.supervision import UNGUARDED_MAIN_CAUSE, ProcessSupervisor

LOGGER = "conductor_actors.supervision"


def test_child_exiting_before_ready_stops_the_tree_with_code_3(make_supervisor, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    worker_settings = [fake_settings("steady", well_behaved(tmp_path)), fake_settings("broken", boot_failure(tmp_path))]
    supervisor, collector = make_supervisor(worker_settings)
    started = time.monotonic()
    supervisor.start()
    assert supervisor.join(WAIT) == 3
    assert time.monotonic() - started < 10

    reason = supervisor.exit_reason
    assert reason == f"worker 'broken' failed to start: {BOOT_FAILURE_REASON} (exit code 3)"
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and reason in errors[0]
    assert len(started_pids(tmp_path, "broken")) == 1  # not restarted
    steady, broken = supervisor.status()
    assert broken.state == "failed" and broken.last_exit == 3 and broken.restarts == 0
    assert steady.state == "stopped" and not steady.alive
    assert collector.states("broken") == ["starting", "failed"]
    assert all(process_gone(pid) for key in ("steady", "broken") for pid in started_pids(tmp_path, key))


def test_child_ending_with_the_unguarded_main_code_before_ready_names_that_cause(tmp_path: Path) -> None:
    """A process that exits with ``EXIT_UNGUARDED_MAIN`` before Ready (what ``TaskHandler`` does in a
    worker process whose bootstrap re-ran an unguarded main script): exit code 3, and the reason
    names the worker and tells to add the ``__main__`` guard; no restart."""
    supervisor = ProcessSupervisor(
        [fake_settings("script", well_behaved(tmp_path))], settings=FAST, on_message=lambda status, message: None,
        target=exits_like_an_unguarded_main,
    )
    supervisor.start()
    assert supervisor.join(WAIT) == 3
    assert supervisor.exit_reason == f"worker 'script' failed to start: {UNGUARDED_MAIN_CAUSE} (exit code 5)"
    assert 'if __name__ == "__main__":' in UNGUARDED_MAIN_CAUSE
    status = supervisor.status()[0]
    assert (status.state, status.restarts, status.alive) == ("failed", 0, False)


def test_child_killed_before_ready_names_the_signal(make_supervisor, tmp_path: Path) -> None:
    supervisor, _ = make_supervisor([fake_settings("hung", hangs_before_ready(tmp_path))])
    supervisor.start()
    records = wait_for_record(tmp_path, "hung", lambda lines: bool(lines), "its start")
    os.kill(int(records[0].split()[1]), signal.SIGKILL)
    assert supervisor.join(WAIT) == 3
    assert supervisor.exit_reason == "worker 'hung' failed to start: signal SIGKILL"
    assert supervisor.status()[0].last_exit == "SIGKILL"


def test_child_not_ready_within_boot_timeout_stops_the_tree(make_supervisor, tmp_path: Path) -> None:
    worker_settings = [
        fake_settings("hung", hangs_before_ready(tmp_path)),
        fake_settings("steady", well_behaved(tmp_path)),
    ]
    supervisor, _ = make_supervisor(worker_settings, settings(boot_timeout=1.5))
    started = time.monotonic()
    supervisor.start()
    assert supervisor.join(WAIT) == 3
    assert 1.5 <= time.monotonic() - started < 10
    assert supervisor.exit_reason == "worker 'hung' failed to start: it did not become ready within 1.5 s"
    hung, steady = supervisor.status()
    assert hung.state == "failed" and not hung.alive
    assert "sigterm" in read_records(tmp_path, "hung") and read_records(tmp_path, "hung")[-1] == "exit 0"
    assert steady.state == "stopped" and read_records(tmp_path, "steady")[-1] == "exit 0"


def test_child_that_cannot_be_started_stops_the_tree(tmp_path: Path) -> None:
    """A target spawn cannot send to the child (a lambda does not pickle) fails at Process.start()."""
    supervisor = ProcessSupervisor(
        [fake_settings("alpha", well_behaved(tmp_path)), fake_settings("beta", well_behaved(tmp_path))],
        settings=FAST,
        on_message=lambda status, message: None,
        target=lambda settings_bytes, conn: None,
    )
    supervisor.start()
    assert supervisor.join(WAIT) == 3
    reason = supervisor.exit_reason
    assert reason is not None and reason.startswith("worker 'alpha' could not be started: "), reason
    assert [s.state for s in supervisor.status()] == ["failed", "stopped"]
    assert [s.pid for s in supervisor.status()] == [None, None]


def test_default_target_is_the_real_child_entry_point() -> None:
    """Without ``target`` the real ``child_main`` runs: a worker that cannot be unpickled is a boot
    failure it reports, and the tree stops with exit code 3."""
    worker_settings = WorkerSettings(
        key="broken",
        task_type="broken_task",
        worker_payload=b"not a pickled worker",
        worker_config=None,
        configuration=Configuration(server_api_url="http://127.0.0.1:9/api", env={}),
    )
    supervisor = ProcessSupervisor([worker_settings], settings=FAST, on_message=lambda status, message: None)
    supervisor.start()
    assert supervisor.join(WAIT) == 3
    reason = supervisor.exit_reason
    assert reason is not None and reason.startswith("worker 'broken' failed to start: "), reason
    assert reason.endswith("(exit code 3)"), reason
    assert supervisor.status()[0].state == "failed"
