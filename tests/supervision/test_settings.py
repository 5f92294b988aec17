"""Settings validation and the supervisor's checks of its arguments (no processes started)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from _support.fake_children import fake_child_main, fake_settings, well_behaved

from conductor_actors.runtime import WorkerSettings
from conductor_actors.settings import (
    PARENT_STOP_TIMEOUT,
    STOP_MARGIN,
    ShutdownDeadlines,
    SupervisionSettings,
    SupervisionSettingsError,
)
from conductor_actors.supervision import CHILD_STATES, ProcessSupervisor


def test_defaults_follow_the_design() -> None:
    s = SupervisionSettings()
    assert (s.start_method, s.max_restarts, s.restart_window) == ("spawn", 10, 300.0)
    assert (s.restart_backoff_base, s.restart_backoff_cap, s.restart_jitter) == (0.5, 30.0, 0.2)
    assert s.restart_reset_after == 60.0
    assert (s.heartbeat_timeout, s.boot_timeout, s.kill_timeout) == (60.0, 60.0, 2.0)
    assert (s.shutdown_grace, s.shutdown_flush, s.fast_shutdown_timeout) == (20.0, 5.0, 3.0)


def test_default_shutdown_fits_a_30_s_orchestrator_grace_period() -> None:
    """The worst graceful stop with the defaults: stragglers get SIGTERM at 20 + 5 + 1 = 26 s,
    SIGKILL 2 s later, and the parent's actors get 1 s after that: 29 s, under the common 30 s."""
    deadlines = SupervisionSettings().shutdown_deadlines()
    assert (STOP_MARGIN, PARENT_STOP_TIMEOUT) == (1.0, 1.0)
    assert deadlines == ShutdownDeadlines(sigterm_after=26.0, sigkill_after=28.0, total=29.0)
    assert deadlines.total < 30.0


def test_shutdown_deadlines_follow_the_settings() -> None:
    """Each deadline adds one setting to the one before: grace + flush + margin, + kill_timeout,
    + the parent's actors."""
    deadlines = SupervisionSettings(shutdown_grace=7.0, shutdown_flush=0.5, kill_timeout=3.0).shutdown_deadlines()
    assert deadlines.sigterm_after == 7.0 + 0.5 + STOP_MARGIN
    assert deadlines.sigkill_after == deadlines.sigterm_after + 3.0
    assert deadlines.total == deadlines.sigkill_after + PARENT_STOP_TIMEOUT


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("start_method", "teleport"),
        ("restart_backoff_base", -0.1),
        ("restart_backoff_cap", 0.0),
        ("restart_jitter", 1.0),
        ("restart_jitter", -0.2),
        ("restart_reset_after", 0),
        ("max_restarts", -1),
        ("max_restarts", 2.5),
        ("max_restarts", True),
        ("restart_window", float("inf")),
        ("heartbeat_timeout", 0),
        ("boot_timeout", "60"),
        ("kill_timeout", float("nan")),
        ("shutdown_grace", -1.0),
        ("shutdown_flush", None),
        ("fast_shutdown_timeout", 0.0),
    ],
)
def test_bad_values_are_rejected_naming_the_setting(name: str, value: object) -> None:
    with pytest.raises(SupervisionSettingsError, match=rf"^{name}="):
        SupervisionSettings(**{name: value})  # type: ignore[arg-type]


def test_backoff_cap_below_base_is_rejected() -> None:
    expected = r"restart_backoff_cap=1\.0 must be >= restart_backoff_base=2\.0"
    with pytest.raises(SupervisionSettingsError, match=expected):
        SupervisionSettings(restart_backoff_base=2.0, restart_backoff_cap=1.0)


def test_zero_grace_and_flush_are_allowed() -> None:
    assert SupervisionSettings(shutdown_grace=0, shutdown_flush=0, max_restarts=0).max_restarts == 0


def _supervisor(worker_settings: list, **kwargs: object) -> ProcessSupervisor:
    return ProcessSupervisor(worker_settings, on_message=lambda status, message: None, target=fake_child_main, **kwargs)  # type: ignore[arg-type]


def test_worker_settings_are_checked_up_front(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nothing to supervise"):
        _supervisor([])
    worker_settings = fake_settings("alpha", well_behaved(tmp_path))
    with pytest.raises(ValueError, match="two worker settings have the key 'alpha'"):
        _supervisor([worker_settings, worker_settings])
    with pytest.raises(TypeError, match="WorkerSettings"):
        _supervisor(["alpha"])
    unpicklable = WorkerSettings(
        key="beta", task_type="beta_task", worker_payload=b"", worker_config=threading.Lock(),
        configuration=worker_settings.configuration,
    )
    with pytest.raises(ValueError, match="the settings of worker 'beta' cannot be pickled for its process"):
        _supervisor([unpicklable])
    with pytest.raises(TypeError, match="settings must be a SupervisionSettings"):
        _supervisor([worker_settings], settings={"max_restarts": 1})


def test_status_before_start_and_join_before_start(tmp_path: Path) -> None:
    supervisor = _supervisor([fake_settings("alpha", well_behaved(tmp_path))])
    (status,) = supervisor.status()
    assert (status.key, status.state, status.pid, status.alive) == ("alpha", "starting", None, False)
    assert status.last_exit is None and status.last_heartbeat_age is None
    assert status.state in CHILD_STATES
    assert not supervisor.is_healthy() and not supervisor.finished and supervisor.exit_reason is None
    with pytest.raises(RuntimeError, match="before start"):
        supervisor.join(0)
    with pytest.raises(TypeError, match="exit_code"):
        supervisor.request_stop(exit_code="130")  # type: ignore[arg-type]
