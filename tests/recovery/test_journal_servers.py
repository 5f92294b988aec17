"""Every outbox entry records the server it came from (normalised API root, key id when auth is
on, never the secret); deliveries see only their own server's entries; a journal written before
servers were recorded is migrated in place, its entries of unknown server kept and never due for
any tree; a journal of a newer schema is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from _support.clock import FakeClock

from conductor_actors import AuthenticationSettings, Configuration, TaskResult, TaskResultStatus
from conductor_actors.recovery import DEFAULT_FILE_NAME, Journal, JournalError, ServerIdentity

X = ServerIdentity.parse("http://conductor-x:8080/api")
X_WITH_KEY = ServerIdentity.parse("http://conductor-x:8080/api", key_id="key-1")
Y = ServerIdentity.parse("http://conductor-y:8080/api")

#: The schema of the journal before entries recorded their server (user_version 0).
LEGACY_SCHEMA = """
CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL, workflow_id TEXT NOT NULL,
    task_type TEXT NOT NULL, result TEXT NOT NULL, created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL, last_error TEXT);
CREATE INDEX outbox_due ON outbox (next_attempt_at);
CREATE TABLE closed (id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, workflow_id TEXT NOT NULL,
    task_type TEXT NOT NULL, created_at REAL NOT NULL, closed_at REAL NOT NULL, attempts INTEGER NOT NULL,
    reason TEXT NOT NULL);
CREATE TABLE dead (id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, workflow_id TEXT NOT NULL,
    task_type TEXT NOT NULL, result TEXT NOT NULL, created_at REAL NOT NULL, died_at REAL NOT NULL,
    attempts INTEGER NOT NULL, last_error TEXT);
"""


def result(n: int) -> TaskResult:
    return TaskResult(task_id=f"t{n}", workflow_instance_id=f"w{n}", worker_id="w", status=TaskResultStatus.COMPLETED,
                      output_data={"n": n})


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / DEFAULT_FILE_NAME)


def test_the_server_of_a_configuration_is_its_normalised_api_root_and_key_id():
    """Spellings of one API root are one server; the key id is part of it, the secret never is
    (nor is a password in the URL); repr masks the key id."""
    plain = Configuration(server_api_url="http://Conductor-X:80/api/", env={})
    assert ServerIdentity.of(plain) == ServerIdentity("http://conductor-x/api", None)
    keyed = Configuration(server_api_url="https://user:pw@[::1]:8443/api",
                          authentication_settings=AuthenticationSettings("key-id-12345", "s3cret-value"), env={})
    identity = ServerIdentity.of(keyed)
    assert identity == ServerIdentity("https://[::1]:8443/api", "key-id-12345")
    assert "s3cret" not in repr(identity) + str(identity) + identity.label() and "pw" not in identity.url
    assert "key-id-12345" not in repr(identity) + str(identity)
    assert identity.label() == "https://[::1]:8443/api (key key-id-12345)"


def test_entries_record_their_server_and_each_server_sees_only_its_own(path):
    """``add`` records the server; ``due``/``next_due`` of a server return only its entries (the
    same URL with another key id is another server); counts per server add up."""
    clock = FakeClock()
    journal = Journal(path, clock=clock)
    x = journal.add("kind", result(1), server=X)
    keyed = journal.add("kind", result(2), server=X_WITH_KEY)
    y = journal.add("kind", result(3), server=Y)
    unknown = journal.add("kind", result(4))
    journal.attempted(y, "down", clock.now + 7)
    assert [(e.id, e.server) for e in journal.due(clock.now, server=X)] == [(x, X)]
    assert [e.id for e in journal.due(clock.now, server=X_WITH_KEY)] == [keyed]
    assert journal.due(clock.now, server=Y) == [] and journal.next_due(server=Y) == clock.now + 7
    assert [e.id for e in journal.due(clock.now)] == [unknown]  # only a handle for "unknown" sees it
    assert journal.counts_by_server() == {
        X: {"pending": 1, "closed": 0, "dead": 0}, X_WITH_KEY: {"pending": 1, "closed": 0, "dead": 0},
        Y: {"pending": 1, "closed": 0, "dead": 0}, None: {"pending": 1, "closed": 0, "dead": 0}}
    assert journal.counts(server=X.url) == {"pending": 2, "closed": 0, "dead": 0}
    journal.close_entry(x, "delivered")
    journal.bury(y, "too old")
    assert [(e.id, e.server) for e in journal.entries("closed")] == [(x, X)]
    assert [(e.id, e.server) for e in journal.entries("dead")] == [(y, Y)]
    assert journal.revive(server=X) == 0 and journal.revive(server=Y) == 1
    assert [e.server for e in journal.entries("pending", server=Y)] == [Y]
    journal.close()


def test_a_journal_written_before_servers_were_recorded_is_migrated_keeping_every_entry(path):
    """An old journal (no server columns) opened by this version keeps every pending, closed and
    dead entry, now of unknown server: due for no server, until ``assign`` gives them to one.
    Opening it again (or from a second connection) changes nothing more."""
    raw = sqlite3.connect(path)
    raw.executescript(LEGACY_SCHEMA)
    payload = '{"taskId": "t1", "workflowInstanceId": "w1", "status": "COMPLETED", "outputData": {"n": 1}}'
    raw.execute("INSERT INTO outbox (task_id, workflow_id, task_type, result, created_at, next_attempt_at) "
                "VALUES ('t1', 'w1', 'kind', ?, 10, 10)", (payload,))
    raw.execute("INSERT INTO closed VALUES (2, 't2', 'w2', 'kind', 10, 20, 1, 'delivered')")
    raw.execute("INSERT INTO dead VALUES (3, 't3', 'w3', 'kind', ?, 10, 30, 4, 'HTTP 503')", (payload,))
    raw.commit()
    raw.close()

    journal = Journal(path, clock=FakeClock(100.0))
    other = Journal(path)
    assert journal.counts() == {"pending": 1, "closed": 1, "dead": 1}
    [pending] = journal.entries("pending")
    assert (pending.id, pending.task_id, pending.server, pending.result.output_data) == (1, "t1", None, {"n": 1})
    assert [(e.id, e.server) for e in journal.entries("closed") + journal.entries("dead")] == [(2, None), (3, None)]
    assert journal.due(1000.0, server=X) == [] and journal.due(1000.0, server=Y) == []
    assert journal.assign(X) == 2
    assert [(e.id, e.server, e.next_attempt_at) for e in journal.due(1000.0, server=X)] == [(1, X, 100.0)]
    assert [e.server for e in other.entries("dead")] == [X]
    journal.close()
    other.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (1,)
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_journal_of_a_newer_schema_is_refused_naming_the_file(path):
    Journal(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 7")
    with pytest.raises(JournalError, match=f"cannot open the outbox journal {path}: it was written by a newer "
                                           "version of conductor_actors \\(schema 7"):
        Journal(path)
