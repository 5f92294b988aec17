"""The journal holds whole task results: the state directory the outbox creates is 0700, the
journal file and its -wal and -shm files are 0600 whatever the umask, and an existing journal or
directory that group or others can access gets one WARNING naming each such path."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from _support.fault_apps.harness import WAIT

from conductor_actors import Configuration, TaskResult, TaskResultStatus
from conductor_actors.actors import ActorSupervisor
from conductor_actors.recovery import DEFAULT_FILE_NAME, Journal, RecoverySink, ServerIdentity
from conductor_actors.settings import RecoverySettings

CONFIGURATION = Configuration(server_api_url="http://127.0.0.1:1/api", env={})
LOGGER = "conductor_actors.recovery"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def no_umask() -> Iterator[None]:
    """The most permissive umask (0) while the test runs: owner-only modes must not depend on it."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def start_and_stop_sink(state_dir: Path) -> None:
    """Start the outbox (its journal is opened and the actor runs), then stop it."""
    sink = RecoverySink(RecoverySettings(state_dir=str(state_dir)), CONFIGURATION)
    supervisor = ActorSupervisor(name="privacy-test")
    try:
        sink.start(supervisor)
    finally:
        supervisor.stop_all(WAIT)
        sink.close()


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


def test_a_new_state_directory_journal_wal_and_shm_are_owner_only(tmp_path, no_umask, caplog):
    """With umask 0, the outbox creates its state directory 0700 and its journal 0600; the -wal
    and -shm files SQLite creates later, while entries are written, are 0600 too. Nothing is
    warned about."""
    state_dir = tmp_path / "nested" / "state"
    start_and_stop_sink(state_dir)
    journal_path = state_dir / DEFAULT_FILE_NAME
    assert mode(state_dir) == 0o700
    assert mode(journal_path) == 0o600
    journal = Journal(str(journal_path))
    try:
        journal.add("kind", TaskResult(task_id="t1", workflow_instance_id="w1", status=TaskResultStatus.COMPLETED),
                    server=ServerIdentity.of(CONFIGURATION))
        wal, shm = Path(f"{journal_path}-wal"), Path(f"{journal_path}-shm")
        assert wal.exists() and shm.exists()
        assert (mode(wal), mode(shm)) == (0o600, 0o600)
    finally:
        journal.close()
    lock_files = list(state_dir.glob("*.lock"))
    assert lock_files and all(mode(lock) == 0o600 for lock in lock_files)
    assert warnings_of(caplog) == []


def test_a_journal_created_by_the_journal_itself_is_owner_only(tmp_path, no_umask):
    """The outbox commands and every other user of ``Journal`` create a missing file 0600 too."""
    path = tmp_path / DEFAULT_FILE_NAME
    Journal(str(path)).close()
    assert mode(path) == 0o600


def test_an_existing_journal_open_to_others_gets_one_warning_naming_it(tmp_path, caplog):
    """A state directory (0755) and journal (0644) left readable by an older version: the start
    logs exactly one WARNING naming both with their modes, and changes nothing. A private one
    (0700/0600) is not warned about."""
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    journal_path = state_dir / DEFAULT_FILE_NAME
    Journal(str(journal_path)).close()
    os.chmod(state_dir, 0o755)
    os.chmod(journal_path, 0o644)
    caplog.set_level(logging.INFO, logger=LOGGER)
    start_and_stop_sink(state_dir)
    [warning] = [m for m in warnings_of(caplog) if "other users" in m]
    assert f"{state_dir} (mode 0755)" in warning and f"{journal_path} (mode 0644)" in warning, warning
    assert "whole task results" in warning
    assert (mode(state_dir), mode(journal_path)) == (0o755, 0o644)

    caplog.clear()
    os.chmod(state_dir, 0o700)
    os.chmod(journal_path, 0o600)
    start_and_stop_sink(state_dir)
    assert [m for m in warnings_of(caplog) if "other users" in m] == []
