"""``python -m conductor_actors outbox list|retry|purge|assign``: counts, entries with their servers
and reasons; retry puts dead entries back; purge deletes closed entries, and dead ones only with
--dead; --server-url limits those three to one server; assign gives entries of unknown server to
one; a missing journal is a friendly message; exit codes 0 (done) and 2 (usage error, unreadable
journal).

Each test fills a journal with the ``Journal`` API, then runs the real command as a subprocess.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from _support.fault_apps.harness import journal_counts, outbox_command

from conductor_actors import TaskResult, TaskResultStatus
from conductor_actors.recovery import DEFAULT_FILE_NAME, Journal, ServerIdentity
from conductor_actors.settings import STATE_DIR_VARIABLE

#: The servers of the fixture's entries (as a tree configured with these URLs records them).
X = ServerIdentity.parse("http://conductor-x:8080/api/")
Y = ServerIdentity.parse("HTTPS://Conductor-Y/api", key_id="app-key-7")


def result(n: int, status: TaskResultStatus = TaskResultStatus.COMPLETED) -> TaskResult:
    return TaskResult(task_id=f"t{n}", workflow_instance_id=f"w{n}", worker_id="w", status=status,
                      output_data={"n": n})


@pytest.fixture
def journal_dir(tmp_path: Path) -> Path:
    """A state directory whose journal holds, kept three hours ago: #1 (server X) and #2 (server Y,
    FAILED, with one failed attempt) pending, #3 (X) closed as delivered, #4 (Y) closed as unknown,
    #5 dead and of unknown server (as an older version kept it)."""
    created = time.time() - 3 * 3600
    journal = Journal(str(tmp_path / DEFAULT_FILE_NAME), clock=lambda: created)
    journal.add("charge", result(1), "ConductorHTTPError: HTTP 503", server=X)
    second = journal.add("charge", result(2, TaskResultStatus.FAILED), "ConductorTransportError: refused", server=Y)
    journal.attempted(second, "ConductorTransportError: connection refused", created + 60)
    journal.close_entry(journal.add("charge", result(3), server=X), "delivered")
    journal.close_entry(journal.add("ship", result(4), server=Y), "unknown task: Task not found for taskId: t4")
    dead = journal.add("ship", result(5))
    journal.bury(dead, "older than max_age (86400 s); last error: ConductorHTTPError: HTTP 502")
    journal.close()
    return tmp_path


def outbox(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return outbox_command("--state-dir", str(state_dir), *args)


def test_list_shows_counts_and_the_pending_and_dead_entries_with_their_errors(journal_dir):
    """`outbox list` prints the journal's counts, then every pending and dead entry (id, task type,
    task and workflow ids, server, age, attempts, result status, last error); closed entries only
    with --all, each with the reason it was closed. The server is the normalised API root, with the
    key id when there is one, or "unknown"."""
    done = outbox(journal_dir, "list")
    assert (done.returncode, done.stderr) == (0, "")
    path = journal_dir / DEFAULT_FILE_NAME
    assert done.stdout.splitlines() == [
        f"outbox {path}: 2 pending, 1 dead, 2 closed",
        "",
        "pending:",
        "  #1 charge task t1 (workflow w1), server http://conductor-x:8080/api, age 3.0h, 0 attempt(s), "
        "result COMPLETED: ConductorHTTPError: HTTP 503",
        "  #2 charge task t2 (workflow w2), server https://conductor-y/api (key app-key-7), age 3.0h, 1 attempt(s), "
        "result FAILED: ConductorTransportError: connection refused",
        "",
        "dead:",
        "  #5 ship task t5 (workflow w5), server unknown, age 3.0h, 0 attempt(s), result COMPLETED: "
        "older than max_age (86400 s); last error: ConductorHTTPError: HTTP 502",
    ]
    everything = outbox(journal_dir, "list", "--all")
    assert everything.returncode == 0
    assert everything.stdout.splitlines()[-3:] == [
        "closed:",
        "  #3 charge task t3 (workflow w3), server http://conductor-x:8080/api, age 3.0h, 1 attempt(s): delivered",
        "  #4 ship task t4 (workflow w4), server https://conductor-y/api (key app-key-7), age 3.0h, 1 attempt(s): "
        "unknown task: Task not found for taskId: t4",
    ]


def test_list_retry_and_purge_can_be_limited_to_one_server(journal_dir):
    """With --server-url (written as a user would; compared normalised) `list` shows only that
    server's entries and counts, `retry` makes only its entries due and revives only its dead
    ones, and `purge` deletes only its closed and dead entries."""
    listing = outbox(journal_dir, "list", "--all", "--server-url", "http://CONDUCTOR-X:8080/api/")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0] == (f"outbox {journal_dir / DEFAULT_FILE_NAME} (server http://conductor-x:8080/api): "
                        "1 pending, 0 dead, 1 closed")
    assert [line.split(",")[0] for line in lines if line.startswith("  #")] == [
        "  #1 charge task t1 (workflow w1)", "  #3 charge task t3 (workflow w3)"]

    retried = outbox(journal_dir, "retry", "--server-url", "http://conductor-x:8080/api")
    assert (retried.returncode, retried.stdout) == (
        0, "0 dead entries back in the outbox; 1 entry due for delivery now\n")
    journal = Journal(str(journal_dir / DEFAULT_FILE_NAME))
    [second] = [e for e in journal.entries("pending") if e.id == 2]
    journal.close()
    assert second.next_attempt_at > time.time() - 3 * 3600 + 30  # Y's entry keeps its schedule

    purged = outbox(journal_dir, "purge", "--dead", "--server-url", "https://conductor-y/api")
    assert (purged.returncode, purged.stdout) == (0, "deleted 1 closed and 0 dead entry\n")
    assert journal_counts(journal_dir) == {"pending": 2, "closed": 1, "dead": 1}


def test_assign_gives_entries_of_unknown_server_to_a_server(journal_dir):
    """`outbox assign URL` gives every pending and dead entry of unknown server to that server
    (normalised, with --key-id when given), making the pending ones due now; with ids it gives
    exactly those entries, whatever their server. Entries of other servers are left alone."""
    journal = Journal(str(journal_dir / DEFAULT_FILE_NAME))
    legacy = journal.add("ship", result(6), "HTTP 503")
    journal.close()
    done = outbox(journal_dir, "assign", "http://Conductor-Z:80/api", "--key-id", "k-1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("2 entries now belong to http://conductor-z/api (key k-1)")
    journal = Journal(str(journal_dir / DEFAULT_FILE_NAME))
    z = ServerIdentity("http://conductor-z/api", "k-1")
    assert [(e.id, e.server) for e in journal.entries("pending")] == [(1, X), (2, Y), (legacy, z)]
    assert [(e.id, e.server) for e in journal.entries("dead")] == [(5, z)]
    assert [e.id for e in journal.due(time.time(), server=z)] == [legacy]
    journal.close()

    moved = outbox(journal_dir, "assign", "http://conductor-x:8080/api", "2")
    assert (moved.returncode, moved.stdout.split(":")[0]) == (0, "1 entry now belong to http")
    assert [e.id for e in journal_entries_of(journal_dir, X)] == [1, 2]


def journal_entries_of(state_dir: Path, server: ServerIdentity) -> list[Any]:
    journal = Journal(str(state_dir / DEFAULT_FILE_NAME))
    try:
        return journal.entries("pending", server=server)
    finally:
        journal.close()


def test_a_url_that_cannot_be_a_server_is_a_usage_error(journal_dir):
    """--server-url and assign take only http(s) URLs with a host: anything else exits 2 naming it."""
    for args in (["list", "--server-url", "conductor:8080/api"], ["assign", "ftp://conductor/api"]):
        done = outbox(journal_dir, *args)
        assert done.returncode == 2 and "is not an http:// or https:// URL with a host" in done.stderr, done.stderr


def test_retry_puts_dead_entries_back_and_makes_every_entry_due_now(journal_dir):
    """`outbox retry` moves every dead entry back to pending and makes every pending entry due
    now (a running tree picks them up at its next look); `outbox retry ID` revives only that one."""
    done = outbox(journal_dir, "retry")
    assert (done.returncode, done.stdout) == (0, "1 dead entry back in the outbox; 3 entries due for delivery now\n")
    assert journal_counts(journal_dir) == {"pending": 3, "closed": 2, "dead": 0}
    journal = Journal(str(journal_dir / DEFAULT_FILE_NAME))
    now = time.time()
    assert all(e.next_attempt_at <= now for e in journal.entries("pending"))
    journal.bury(1, "too old")
    journal.bury(5, "too old")
    journal.close()
    one = outbox(journal_dir, "retry", "5")
    assert (one.returncode, one.stdout) == (0, "1 dead entry back in the outbox; 2 entries due for delivery now\n")
    assert journal_counts(journal_dir) == {"pending": 2, "closed": 2, "dead": 1}


def test_purge_deletes_closed_entries_and_dead_ones_only_with_dead(journal_dir):
    """`outbox purge` deletes closed entries only (pending and dead stay); `outbox purge --dead`
    also deletes the dead ones."""
    done = outbox(journal_dir, "purge")
    assert (done.returncode, done.stdout) == (0, "deleted 2 closed and 0 dead entries\n")
    assert journal_counts(journal_dir) == {"pending": 2, "closed": 0, "dead": 1}
    done = outbox(journal_dir, "purge", "--dead")
    assert (done.returncode, done.stdout) == (0, "deleted 0 closed and 1 dead entry\n")
    assert journal_counts(journal_dir) == {"pending": 2, "closed": 0, "dead": 0}


@pytest.mark.parametrize("command", [["list"], ["retry"], ["purge", "--dead"]])
def test_a_missing_journal_is_a_friendly_message(tmp_path, command):
    """Every command on a state directory without a journal says so in one line and exits 0,
    creating nothing."""
    done = outbox(tmp_path / "empty", *command)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (f"no outbox journal at {tmp_path / 'empty' / DEFAULT_FILE_NAME}: "
                           "no result was ever kept there\n")
    assert not (tmp_path / "empty").exists()


def test_the_state_directory_defaults_to_the_environment_variable(journal_dir):
    """Without --state-dir the command uses $CONDUCTOR_ACTORS_STATE_DIR."""
    env = {**os.environ, STATE_DIR_VARIABLE: str(journal_dir)}
    done = outbox_command("list", env=env)
    assert done.returncode == 0
    assert done.stdout.startswith(f"outbox {journal_dir / DEFAULT_FILE_NAME}: 2 pending, 1 dead, 2 closed\n")


def test_an_unreadable_journal_exits_2_naming_the_file(tmp_path):
    """A journal file that is not a journal: the command exits 2 with an error naming the file."""
    path = tmp_path / DEFAULT_FILE_NAME
    path.write_bytes(b"not a database at all" * 200)
    done = outbox(tmp_path, "list")
    assert done.returncode == 2 and done.stdout == ""
    assert re.fullmatch(rf"conductor_actors outbox: error: cannot open the outbox journal {re.escape(str(path))}: "
                        r"file is not a database\n", done.stderr), done.stderr


@pytest.mark.parametrize(("args", "complaint"), [
    ([], "the following arguments are required: COMMAND"),
    (["list", "--everything"], "unrecognized arguments: --everything"),
    (["retry", "seven"], "invalid int value: 'seven'"),
    (["vacuum"], "invalid choice: 'vacuum'"),
])
def test_usage_errors_exit_2_with_the_usage(tmp_path, args, complaint):
    """A missing or unknown command, an unknown option or a bad entry id: usage and exit 2."""
    done = outbox(tmp_path, *args)
    assert done.returncode == 2
    assert "usage: python -m conductor_actors outbox" in done.stderr and complaint in done.stderr, done.stderr


def test_state_dir_may_follow_the_command(journal_dir):
    """`outbox list --state-dir DIR` works like `outbox --state-dir DIR list`."""
    done = outbox_command("list", "--state-dir", str(journal_dir))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"outbox {journal_dir / DEFAULT_FILE_NAME}: 2 pending")
