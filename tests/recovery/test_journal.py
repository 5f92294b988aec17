"""The outbox journal: what it keeps survives closing, reopening and a SIGKILLed writer; entries
move between pending, closed and dead and are deleted only on purpose."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from _support.clock import FakeClock
from _support.fault_apps.harness import TESTS_DIR, WAIT
from _support.fault_apps.journal_writer import WRITER_TASK, writer_output

from conductor_actors import TaskExecLog, TaskResult, TaskResultStatus
from conductor_actors.recovery import DEFAULT_FILE_NAME, Journal, JournalError


def result(n: int, status: TaskResultStatus = TaskResultStatus.COMPLETED) -> TaskResult:
    return TaskResult(
        task_id=f"t{n}", workflow_instance_id=f"w{n}", worker_id="worker-1", status=status,
        output_data={"n": n, "nested": {"list": [1, 2.5, None, "x"]}}, reason_for_incompletion=None,
        logs=[TaskExecLog(log=f"line {n}", task_id=f"t{n}", created_time=1700000000000 + n)],
    )


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / DEFAULT_FILE_NAME)


def test_entries_survive_close_and_reopen(path):
    """Entries added, attempted, closed and buried read back identically after the journal is
    closed and opened again: results (output, logs, status), ids, attempts, errors and reasons."""
    clock = FakeClock()
    journal = Journal(path, clock=clock)
    ids = [journal.add("kind", result(n), f"error {n}") for n in range(4)]
    journal.attempted(ids[0], "still down", clock.now + 5)
    journal.close_entry(ids[1], "delivered")
    journal.bury(ids[2], "too old")
    journal.close()

    reopened = Journal(path)
    assert reopened.counts() == {"pending": 2, "closed": 1, "dead": 1}
    pending = reopened.entries("pending")
    assert [(e.id, e.task_id, e.workflow_id, e.task_type, e.attempts, e.last_error) for e in pending] == [
        (ids[0], "t0", "w0", "kind", 1, "still down"), (ids[3], "t3", "w3", "kind", 0, "error 3")]
    assert [e.result for e in pending] == [result(0), result(3)]
    assert pending[0].next_attempt_at == clock.now + 5 and pending[1].next_attempt_at == clock.now
    [closed] = reopened.entries("closed")
    assert (closed.id, closed.task_id, closed.reason, closed.attempts, closed.result) == (
        ids[1], "t1", "delivered", 1, None)
    [dead] = reopened.entries("dead")
    assert (dead.id, dead.task_id, dead.last_error, dead.result) == (ids[2], "t2", "too old", result(2))
    reopened.close()


def test_committed_entries_survive_a_sigkilled_writer(path):
    """A process adding entries as fast as it can is killed with SIGKILL: reopened, the journal
    is intact and holds every entry the writer had committed, with its result."""
    writer = subprocess.Popen(
        [sys.executable, "-m", "_support.fault_apps.journal_writer", path], cwd=TESTS_DIR,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )
    try:
        committed = [int(writer.stdout.readline()) for _ in range(200)]
        os.kill(writer.pid, signal.SIGKILL)
        rest, errors = writer.communicate(timeout=WAIT)
    finally:
        if writer.poll() is None:
            os.kill(writer.pid, signal.SIGKILL)
            writer.wait(WAIT)
    assert writer.returncode == -signal.SIGKILL, errors
    committed += [int(line) for line in rest.split()]

    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    journal = Journal(path)
    entries = {e.id: e for e in journal.entries("pending")}
    journal.close()
    assert set(committed) <= set(entries), sorted(set(committed) - set(entries))[:5]
    assert sorted(entries) == list(range(1, len(entries) + 1))  # nothing half-written in between
    for entry_id in committed:
        entry = entries[entry_id]
        n = entry_id - 1
        assert (entry.task_type, entry.task_id, entry.workflow_id) == (WRITER_TASK, f"task-{n}", f"workflow-{n}")
        assert entry.result is not None and entry.result.output_data == writer_output(n)


def test_due_entries_come_oldest_first_and_retry_now_makes_every_entry_due(path):
    """``due`` returns the entries whose next attempt has come, earliest first, at most ``limit``;
    ``next_due`` is the earliest next attempt; ``retry_now`` makes every entry due."""
    clock = FakeClock()
    journal = Journal(path, clock=clock)
    first, second, third = (journal.add("kind", result(n)) for n in range(3))
    journal.attempted(first, "down", clock.now + 30)
    journal.attempted(second, "down", clock.now + 10)
    assert [e.id for e in journal.due(clock.now)] == [third]
    assert journal.next_due() == clock.now
    journal.attempted(third, "down", clock.now + 20)
    assert journal.due(clock.now) == [] and journal.next_due() == clock.now + 10
    assert [e.id for e in journal.due(clock.now + 25)] == [second, third]
    assert [e.id for e in journal.due(clock.now + 25, limit=1)] == [second]
    clock.advance(1)
    assert journal.retry_now() == 3
    assert [e.id for e in journal.due(clock.now)] == [first, second, third]
    journal.close()


def test_revive_moves_dead_entries_back_and_purge_deletes_only_closed_or_dead(path):
    """``revive`` puts dead entries (all, or some ids) back in the outbox, due now, with a fresh
    age and attempt count; ``purge`` deletes every closed or every dead entry and refuses to delete
    pending ones."""
    clock = FakeClock()
    journal = Journal(path, clock=clock)
    ids = [journal.add("kind", result(n)) for n in range(4)]
    for entry_id in ids[:3]:
        journal.attempted(entry_id, "down", clock.now + 1)
        journal.bury(entry_id, "too old")
    clock.advance(100)
    assert journal.revive([ids[1]]) == 1
    [revived] = [e for e in journal.entries("pending") if e.id == ids[1]]
    assert (revived.attempts, revived.created_at, revived.next_attempt_at, revived.result) == (
        0, clock.now, clock.now, result(1))
    assert journal.revive() == 2
    assert journal.counts() == {"pending": 4, "closed": 0, "dead": 0}

    journal.close_entry(ids[0], "delivered")
    journal.bury(ids[1], "too old")
    with pytest.raises(ValueError, match="only closed or dead"):
        journal.purge("outbox")
    assert journal.purge("closed") == 1
    assert journal.counts() == {"pending": 2, "closed": 0, "dead": 1}
    assert journal.purge("dead") == 1
    assert journal.counts() == {"pending": 2, "closed": 0, "dead": 0}
    with pytest.raises(ValueError, match="unknown journal table 'outbox'"):
        journal.entries("outbox")
    journal.close()


def test_a_journal_that_cannot_be_used_is_a_clear_error(tmp_path):
    """A journal in a missing directory, or a file that is not a journal, raises JournalError
    naming the file."""
    missing = tmp_path / "nowhere" / DEFAULT_FILE_NAME
    with pytest.raises(JournalError, match=f"cannot open the outbox journal {missing}"):
        Journal(str(missing))
    garbage = tmp_path / DEFAULT_FILE_NAME
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalError, match=f"{garbage}: file is not a database"):
        Journal(str(garbage))
