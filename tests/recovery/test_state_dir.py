"""Where the outbox journal lives by default: ``$CONDUCTOR_ACTORS_STATE_DIR``, else
``$XDG_STATE_HOME/conductor-actors``, else ``~/.local/state/conductor-actors`` of the user running
the parent (``HOME`` is pointed at the test's own directory, so nothing is written to a real home)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _support.fault_apps.harness import WAIT

from conductor_actors import Configuration
from conductor_actors.actors import ActorSupervisor
from conductor_actors.recovery import DEFAULT_FILE_NAME, RecoverySink
from conductor_actors.settings import STATE_DIR_VARIABLE, RecoverySettings, default_state_dir

CONFIGURATION = Configuration(server_api_url="http://127.0.0.1:1/api")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake home directory, with neither state variable set."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv(STATE_DIR_VARIABLE, raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    return home


def journal_of_a_started_sink(settings: RecoverySettings) -> Path:
    """Start a RecoverySink (its actor too) with ``settings`` from the process environment and
    return the journal file it created."""
    sink = RecoverySink(settings, CONFIGURATION)
    supervisor = ActorSupervisor(name="state-dir-test")
    try:
        sink.start(supervisor)
    finally:
        supervisor.stop_all(WAIT)
        sink.close()
    path = Path(sink.path)
    assert path.is_file(), f"no journal at {path}"
    return path


def test_without_any_variable_the_journal_lives_under_the_users_home(home):
    expected = home / ".local" / "state" / "conductor-actors"
    assert default_state_dir() == str(expected)
    assert RecoverySettings().journal_dir() == str(expected)
    assert journal_of_a_started_sink(RecoverySettings()) == expected / DEFAULT_FILE_NAME


def test_an_empty_xdg_state_home_counts_as_unset(home, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", "")
    assert default_state_dir() == str(home / ".local" / "state" / "conductor-actors")


def test_xdg_state_home_is_used_when_set(home, tmp_path, monkeypatch):
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_STATE_HOME", str(xdg))
    assert default_state_dir() == str(xdg / "conductor-actors")
    assert journal_of_a_started_sink(RecoverySettings()) == xdg / "conductor-actors" / DEFAULT_FILE_NAME
    assert not (home / ".local").exists()


def test_the_state_dir_variable_wins_over_xdg_and_settings_win_over_both(home, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv(STATE_DIR_VARIABLE, str(tmp_path / "from-variable"))
    assert default_state_dir() == str(tmp_path / "from-variable")
    assert RecoverySettings(state_dir=str(tmp_path / "given")).journal_dir() == str(tmp_path / "given")


def test_an_explicit_environment_is_read_instead_of_the_process_one(home, tmp_path):
    """``env`` (as ``TaskHandler(env=...)`` passes it) decides alone; ``~`` in a given state
    directory is the user's home."""
    assert default_state_dir({"XDG_STATE_HOME": str(tmp_path / "x")}) == str(tmp_path / "x" / "conductor-actors")
    assert default_state_dir({}) == str(home / ".local" / "state" / "conductor-actors")
    assert RecoverySettings(state_dir="~/outbox").journal_dir({}) == os.path.join(str(home), "outbox")
