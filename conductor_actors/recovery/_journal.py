"""The outbox journal: task results whose update failed, kept on disk until delivered.

One SQLite file (stdlib ``sqlite3``) in WAL mode with full synchronous writes, so an entry survives
the parent being SIGKILLed (and a power cut). Three tables:

- ``outbox``: entries waiting for delivery (with attempts, next attempt time and last error);
- ``closed``: entries that ended normally: delivered, or the server said the task is unknown or
  already finished (kept for inspection, without the result payload);
- ``dead``: entries older than the maximum age; logged at ERROR and never silently deleted
  (``purge --dead`` deletes them on purpose; ``retry`` puts them back).

A ``Journal`` object is used from one thread (each thread or process opens its own).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..client._models import TaskResult

__all__ = ["DEFAULT_FILE_NAME", "DEFAULT_LOCK_TIMEOUT", "Journal", "JournalEntry", "JournalError"]

DEFAULT_FILE_NAME = "outbox.sqlite3"
#: Seconds a write waits for another connection's lock before failing.
DEFAULT_LOCK_TIMEOUT = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    task_type TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at);
CREATE TABLE IF NOT EXISTS closed (
    id INTEGER PRIMARY KEY,
    task_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    task_type TEXT NOT NULL,
    created_at REAL NOT NULL,
    closed_at REAL NOT NULL,
    attempts INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead (
    id INTEGER PRIMARY KEY,
    task_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    task_type TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at REAL NOT NULL,
    died_at REAL NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT
);
"""


class JournalError(RuntimeError):
    """The journal file cannot be opened or used; the message names the file and the reason."""


@dataclass(frozen=True)
class JournalEntry:
    """One row, as read back. ``result`` is None for closed entries (the payload is not kept)."""

    id: int
    task_id: str
    workflow_id: str
    task_type: str
    created_at: float
    attempts: int
    result: TaskResult | None = None
    next_attempt_at: float | None = None
    last_error: str | None = None
    ended_at: float | None = None
    reason: str | None = None


class Journal:
    """The outbox file. ``clock`` gives wall-clock seconds (ages must survive restarts).

    ``lock_timeout`` is how long a write waits for another connection's lock (an ``outbox``
    command, say) before it fails with ``JournalError`` ("database is locked"). Every method raises
    ``JournalError`` naming the file when SQLite fails; a failed write changes nothing.
    """

    def __init__(self, path: str, *, clock: object = time.time, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = path
        self._clock = clock
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(path, timeout=lock_timeout, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            if db is not None:
                db.close()
            raise JournalError(f"cannot open the outbox journal {path}: {exc}") from exc
        self._db = db

    def now(self) -> float:
        return self._clock()  # type: ignore[operator, no-any-return]

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back when anything (the body or the COMMIT) fails, so the
        connection is never left inside a transaction and the next write can start afresh."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise JournalError(f"outbox journal {self.path}: {exc}") from exc
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException as exc:
            if self._db.in_transaction:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # the connection rolled back on its own (e.g. after an I/O error)
            if isinstance(exc, sqlite3.Error):
                raise JournalError(f"outbox journal {self.path}: {exc}") from exc
            raise

    # ---- writing -------------------------------------------------------------------------------

    def add(self, task_type: str, result: TaskResult, error: str | None = None) -> int:
        """Keep a result for later delivery (durably, before returning); returns its id."""
        now = self.now()
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO outbox (task_id, workflow_id, task_type, result, created_at, next_attempt_at, "
                "last_error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (result.task_id or "", result.workflow_instance_id or "", task_type,
                 json.dumps(result.to_wire()), now, now, error),
            )
            return int(cursor.lastrowid or 0)

    def attempted(self, entry_id: int, error: str, next_attempt_at: float) -> None:
        """A delivery attempt failed with something worth retrying."""
        with self._transaction() as db:
            db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                (error, next_attempt_at, entry_id),
            )

    def close_entry(self, entry_id: int, reason: str) -> None:
        """The entry ended normally (delivered, or nothing left to deliver): move it to ``closed``."""
        now = self.now()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO closed (id, task_id, workflow_id, task_type, created_at, closed_at, attempts, reason) "
                "SELECT id, task_id, workflow_id, task_type, created_at, ?, attempts + 1, ? FROM outbox WHERE id = ?",
                (now, reason, entry_id),
            )
            db.execute("DELETE FROM outbox WHERE id = ?", (entry_id,))

    def bury(self, entry_id: int, error: str) -> None:
        """The entry is too old to deliver: move it to ``dead`` (with its result)."""
        now = self.now()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO dead (id, task_id, workflow_id, task_type, result, created_at, died_at, attempts, "
                "last_error) SELECT id, task_id, workflow_id, task_type, result, created_at, ?, attempts, ? "
                "FROM outbox WHERE id = ?",
                (now, error, entry_id),
            )
            db.execute("DELETE FROM outbox WHERE id = ?", (entry_id,))

    def revive(self, entry_ids: list[int] | None = None) -> int:
        """Put dead entries (all, or these ids) back in the outbox, due now; returns how many."""
        now = self.now()
        where, args = ("", ()) if entry_ids is None else (
            f" WHERE id IN ({','.join('?' * len(entry_ids))})", tuple(entry_ids)
        )
        with self._transaction() as db:
            rows = db.execute(
                "INSERT INTO outbox (id, task_id, workflow_id, task_type, result, created_at, attempts, "
                f"next_attempt_at, last_error) SELECT id, task_id, workflow_id, task_type, result, ?, 0, ?, "
                f"last_error FROM dead{where}",
                (now, now, *args),
            ).rowcount
            db.execute(f"DELETE FROM dead{where}", args)
            return rows

    def retry_now(self) -> int:
        """Make every waiting entry due now; returns how many."""
        with self._transaction() as db:
            return db.execute("UPDATE outbox SET next_attempt_at = ?", (self.now(),)).rowcount

    def purge(self, table: str) -> int:
        """Delete every row of ``closed`` or ``dead``; returns how many."""
        if table not in ("closed", "dead"):
            raise ValueError(f"only closed or dead entries can be purged, not {table!r}")
        with self._transaction() as db:
            return db.execute(f"DELETE FROM {table}").rowcount

    # ---- reading -------------------------------------------------------------------------------

    def due(self, now: float, limit: int = 50) -> list[JournalEntry]:
        """Waiting entries whose next attempt is due, oldest first."""
        rows = self._query(
            "SELECT id, task_id, workflow_id, task_type, created_at, attempts, result, next_attempt_at, last_error "
            "FROM outbox WHERE next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
            (now, limit),
        )
        return [_pending(row) for row in rows]

    def next_due(self) -> float | None:
        rows = self._query("SELECT MIN(next_attempt_at) FROM outbox", ())
        return rows[0][0] if rows else None

    def counts(self) -> dict[str, int]:
        """Entries per table: ``pending``, ``closed``, ``dead``."""
        return {
            name: int(self._query(f"SELECT COUNT(*) FROM {table}", ())[0][0])
            for name, table in (("pending", "outbox"), ("closed", "closed"), ("dead", "dead"))
        }

    def entries(self, table: str) -> list[JournalEntry]:
        """Every row of ``outbox`` ("pending"), ``closed`` or ``dead``, oldest first."""
        if table == "pending":
            rows = self._query(
                "SELECT id, task_id, workflow_id, task_type, created_at, attempts, result, next_attempt_at, "
                "last_error FROM outbox ORDER BY id", ())
            return [_pending(row) for row in rows]
        if table == "closed":
            rows = self._query(
                "SELECT id, task_id, workflow_id, task_type, created_at, attempts, closed_at, reason "
                "FROM closed ORDER BY id", ())
            return [JournalEntry(**_identity(row), ended_at=row[6], reason=row[7]) for row in rows]
        if table == "dead":
            rows = self._query(
                "SELECT id, task_id, workflow_id, task_type, created_at, attempts, result, died_at, last_error "
                "FROM dead ORDER BY id", ())
            return [
                JournalEntry(**_identity(row), result=TaskResult.from_dict(json.loads(row[6])), ended_at=row[7],
                             last_error=row[8])
                for row in rows
            ]
        raise ValueError(f"unknown journal table {table!r} (pending, closed or dead)")

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"outbox journal {self.path}: {exc}") from exc


def _identity(row: tuple[Any, ...]) -> dict[str, Any]:
    """The six leading columns every query selects."""
    return {"id": row[0], "task_id": row[1], "workflow_id": row[2], "task_type": row[3],
            "created_at": row[4], "attempts": row[5]}


def _pending(row: tuple[Any, ...]) -> JournalEntry:
    return JournalEntry(
        **_identity(row), result=TaskResult.from_dict(json.loads(row[6])), next_attempt_at=row[7], last_error=row[8]
    )
