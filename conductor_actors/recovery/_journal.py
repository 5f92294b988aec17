"""The outbox journal: task results whose update failed, kept on disk until delivered.

One SQLite file (stdlib ``sqlite3``) in WAL mode with full synchronous writes, so an entry survives
the parent being SIGKILLed (and a power cut). Three tables:

- ``outbox``: entries waiting for delivery (with attempts, next attempt time and last error);
- ``closed``: entries that ended normally: delivered, or the server said the task is unknown or
  already finished (kept for inspection, without the result payload);
- ``dead``: entries older than the maximum age; logged at ERROR and never silently deleted
  (``purge --dead`` deletes them on purpose; ``retry`` puts them back).

Every entry records the server it came from (``server_url``, ``server_key_id``); entries written
by a version before that have NULL there ("unknown server") and are never delivered automatically.
The schema version is SQLite's ``user_version``; an older journal is migrated in one transaction
the first time this version opens it.

An entry is delivered only by a worker tree configured for the same server (``ServerIdentity``):
the same API root URL (normalised, so ``HTTP://Host:80/api/`` and ``http://host/api`` are one
server) and, when authentication is on, the same application key id. The key secret is never part
of it.

The journal holds whole task results: a journal file this module creates is owner-only (0600),
and SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file.

A ``Journal`` object is used from one thread (each thread or process opens its own).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..client import TaskResult

__all__ = [
    "DEFAULT_FILE_NAME",
    "DEFAULT_LOCK_TIMEOUT",
    "SCHEMA_VERSION",
    "Journal",
    "JournalEntry",
    "JournalError",
    "ServerIdentity",
    "ServerScope",
    "exposed_paths",
    "make_private_dir",
    "normalise_api_root",
]

DEFAULT_FILE_NAME = "outbox.sqlite3"
#: Seconds a write waits for another connection's lock before failing.
DEFAULT_LOCK_TIMEOUT = 10.0
#: 0: entries without a server (before servers were recorded); 1: every entry names its server.
SCHEMA_VERSION = 1

# --- which server an entry belongs to ---

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_api_root(url: str) -> str:
    """``url`` as ``scheme://host[:port]/path``: scheme and host in lower case, the default port
    dropped, no user name or password, query, fragment or trailing slash. Raises ``ValueError``
    naming the URL when it is not an http(s) URL with a host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{url!r} is not an http:// or https:// URL with a host")
    host = parts.hostname  # already lower case, without IPv6 brackets
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


@dataclass(frozen=True)
class ServerIdentity:
    """A server as the outbox knows it: ``url`` (normalised API root) and ``key_id`` (None
    without authentication). ``repr`` masks the key id, as ``Configuration`` does."""

    url: str
    key_id: str | None = None

    @classmethod
    def parse(cls, url: str, key_id: str | None = None) -> ServerIdentity:
        """From a URL as a user writes it; raises ``ValueError`` naming a URL that cannot be one."""
        return cls(normalise_api_root(url), key_id or None)

    @classmethod
    def of(cls, configuration: Any) -> ServerIdentity:
        """The server a ``Configuration`` talks to (its API root and key id)."""
        auth = configuration.authentication_settings
        return cls.parse(configuration.server_api_url, auth.key_id if auth is not None else None)

    def label(self) -> str:
        """For people: the URL, and the key id in full when there is one (``outbox list``)."""
        return self.url if self.key_id is None else f"{self.url} (key {self.key_id})"

    def digest(self) -> str:
        """A short stable name for files that belong to this server (its delivery lock)."""
        return hashlib.sha256(f"{self.url}\n{self.key_id or ''}".encode()).hexdigest()[:16]

    def __str__(self) -> str:
        return self.url if self.key_id is None else f"{self.url} (key {_mask(self.key_id)})"

    def __repr__(self) -> str:
        key = None if self.key_id is None else _mask(self.key_id)
        return f"ServerIdentity(url={self.url!r}, key_id={key!r})"


def _mask(value: str) -> str:
    return value[:4] + "***" if len(value) > 8 else "***"


# --- the journal ---

#: Which entries an inspecting or administering call covers: None = every entry; a URL = the
#: entries of that API root, whatever their key id; a ServerIdentity = exactly that server's.
ServerScope = ServerIdentity | str | None

_TABLES = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    task_type TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    server_url TEXT,
    server_key_id TEXT
);
CREATE TABLE IF NOT EXISTS closed (
    id INTEGER PRIMARY KEY,
    task_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    task_type TEXT NOT NULL,
    created_at REAL NOT NULL,
    closed_at REAL NOT NULL,
    attempts INTEGER NOT NULL,
    reason TEXT NOT NULL,
    server_url TEXT,
    server_key_id TEXT
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
    last_error TEXT,
    server_url TEXT,
    server_key_id TEXT
);
"""
_SERVER_COLUMNS = ("server_url", "server_key_id")
#: Columns every query selects first (see ``_identity_of``).
_HEAD = "id, task_id, workflow_id, task_type, created_at, attempts, server_url, server_key_id"


class JournalError(RuntimeError):
    """The journal file cannot be opened or used; the message names the file and the reason."""


@dataclass(frozen=True)
class JournalEntry:
    """One row, as read back. ``result`` is None for closed entries (the payload is not kept);
    ``server`` is None for an entry whose server is unknown (kept by an older version)."""

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
    server: ServerIdentity | None = None


def make_private_dir(directory: str) -> bool:
    """Create ``directory`` (and missing parents) with the leaf owner-only (0700, whatever the
    umask); True when it was created now. Raises ``OSError`` when it cannot be."""
    parent = os.path.dirname(os.path.abspath(directory))
    os.makedirs(parent, exist_ok=True)
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        if not os.path.isdir(directory):
            raise
        return False
    os.chmod(directory, 0o700)  # the umask may have taken bits the owner needs
    return True


def exposed_paths(path: str) -> list[tuple[str, int]]:
    """The journal's directory, file, ``-wal`` and ``-shm`` that exist and give group or others
    any access, with their permission bits."""
    exposed = []
    for candidate in (os.path.dirname(path), path, path + "-wal", path + "-shm"):
        try:
            mode = stat.S_IMODE(os.stat(candidate).st_mode)
        except OSError:
            continue
        if mode & 0o077:
            exposed.append((candidate, mode))
    return exposed


def _create_owner_only(path: str) -> None:
    """Create an empty journal file with mode 0600 unless one exists (SQLite takes an empty file
    as an empty database, and gives the -wal and -shm files it creates the same mode)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # e.g. a missing directory: SQLite reports it, naming the file
    os.close(fd)


def _exact(server: ServerIdentity | None) -> tuple[str, tuple[Any, ...]]:
    """SQL condition for the entries of exactly ``server`` (None: of unknown server)."""
    if server is None:
        return "server_url IS NULL", ()
    return "server_url = ? AND server_key_id IS ?", (server.url, server.key_id)


def _scope(server: ServerScope) -> tuple[str, tuple[Any, ...]]:
    if server is None:
        return "1", ()
    if isinstance(server, str):
        return "server_url = ?", (server,)
    return _exact(server)


class Journal:
    """The outbox file. ``clock`` gives wall-clock seconds (ages must survive restarts).

    ``lock_timeout`` is how long a write waits for another connection's lock (an ``outbox``
    command, say) before it fails with ``JournalError`` ("database is locked"). Every method raises
    ``JournalError`` naming the file when SQLite fails; a failed write changes nothing. Opening
    migrates a journal of an older schema and refuses one of a newer schema.
    """

    def __init__(self, path: str, *, clock: object = time.time, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = path
        self._clock = clock
        _create_owner_only(path)
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(path, timeout=lock_timeout, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            self._db = db
            version = self._version()
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"cannot open the outbox journal {path}: it was written by a newer version of conductor_actors "
                    f"(schema {version}; this version knows up to {SCHEMA_VERSION})")
            if version < SCHEMA_VERSION:
                self._migrate()
        except (sqlite3.Error, JournalError) as exc:
            if db is not None:
                db.close()
            if isinstance(exc, JournalError):
                raise
            raise JournalError(f"cannot open the outbox journal {path}: {exc}") from exc

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        """Bring the schema to ``SCHEMA_VERSION`` in one write transaction (another connection may
        be doing the same: whoever comes second finds it done). Old entries keep NULL servers."""
        with self._transaction() as db:
            if self._version() >= SCHEMA_VERSION:
                return
            # One statement at a time: executescript would commit the transaction first.
            for statement in _TABLES.split(";"):
                if statement.strip():
                    db.execute(statement)
            for table in ("outbox", "closed", "dead"):
                columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                for column in _SERVER_COLUMNS:
                    if column not in columns:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
            db.execute("DROP INDEX IF EXISTS outbox_due")
            db.execute("CREATE INDEX IF NOT EXISTS outbox_server_due ON outbox (server_url, server_key_id, "
                       "next_attempt_at)")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

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

    def add(self, task_type: str, result: TaskResult, error: str | None = None, *,
            server: ServerIdentity | None = None) -> int:
        """Keep a result of ``server`` for later delivery (durably, before returning); returns its
        id. Without ``server`` the entry's server is unknown: it is never delivered automatically."""
        now = self.now()
        url, key_id = (server.url, server.key_id) if server is not None else (None, None)
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO outbox (task_id, workflow_id, task_type, result, created_at, next_attempt_at, "
                "last_error, server_url, server_key_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (result.task_id or "", result.workflow_instance_id or "", task_type,
                 json.dumps(result.to_wire()), now, now, error, url, key_id),
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
                "INSERT INTO closed (id, task_id, workflow_id, task_type, created_at, closed_at, attempts, reason, "
                "server_url, server_key_id) SELECT id, task_id, workflow_id, task_type, created_at, ?, attempts + 1, "
                "?, server_url, server_key_id FROM outbox WHERE id = ?",
                (now, reason, entry_id),
            )
            db.execute("DELETE FROM outbox WHERE id = ?", (entry_id,))

    def bury(self, entry_id: int, error: str) -> None:
        """The entry is too old to deliver: move it to ``dead`` (with its result)."""
        now = self.now()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO dead (id, task_id, workflow_id, task_type, result, created_at, died_at, attempts, "
                "last_error, server_url, server_key_id) SELECT id, task_id, workflow_id, task_type, result, "
                "created_at, ?, attempts, ?, server_url, server_key_id FROM outbox WHERE id = ?",
                (now, error, entry_id),
            )
            db.execute("DELETE FROM outbox WHERE id = ?", (entry_id,))

    def revive(self, entry_ids: list[int] | None = None, *, server: ServerScope = None) -> int:
        """Put dead entries (all of ``server``'s, or these ids among them) back in the outbox, due
        now; returns how many."""
        now = self.now()
        where, args = self._where(server, entry_ids)
        with self._transaction() as db:
            rows = db.execute(
                "INSERT INTO outbox (id, task_id, workflow_id, task_type, result, created_at, attempts, "
                "next_attempt_at, last_error, server_url, server_key_id) SELECT id, task_id, workflow_id, "
                f"task_type, result, ?, 0, ?, last_error, server_url, server_key_id FROM dead WHERE {where}",
                (now, now, *args),
            ).rowcount
            db.execute(f"DELETE FROM dead WHERE {where}", args)
            return rows

    def retry_now(self, *, server: ServerScope = None) -> int:
        """Make every waiting entry (of ``server``) due now; returns how many."""
        where, args = _scope(server)
        with self._transaction() as db:
            return db.execute(f"UPDATE outbox SET next_attempt_at = ? WHERE {where}", (self.now(), *args)).rowcount

    def assign(self, server: ServerIdentity, entry_ids: list[int] | None = None) -> int:
        """Give pending and dead entries to ``server``: every entry whose server is unknown, or
        exactly the ids given (whatever their server). Pending ones become due now. Returns how
        many entries changed."""
        now = self.now()
        where, args = ("server_url IS NULL", ()) if entry_ids is None else self._where(None, entry_ids)
        with self._transaction() as db:
            changed = db.execute(
                f"UPDATE outbox SET server_url = ?, server_key_id = ?, next_attempt_at = ? WHERE {where}",
                (server.url, server.key_id, now, *args)).rowcount
            changed += db.execute(f"UPDATE dead SET server_url = ?, server_key_id = ? WHERE {where}",
                                  (server.url, server.key_id, *args)).rowcount
            return changed

    def purge(self, table: str, *, server: ServerScope = None) -> int:
        """Delete every row (of ``server``) of ``closed`` or ``dead``; returns how many."""
        if table not in ("closed", "dead"):
            raise ValueError(f"only closed or dead entries can be purged, not {table!r}")
        where, args = _scope(server)
        with self._transaction() as db:
            return db.execute(f"DELETE FROM {table} WHERE {where}", args).rowcount

    # ---- reading -------------------------------------------------------------------------------

    def due(self, now: float, limit: int = 50, *, server: ServerIdentity | None = None) -> list[JournalEntry]:
        """Waiting entries of exactly ``server`` (None: of unknown server) whose next attempt is
        due, oldest first."""
        where, args = _exact(server)
        rows = self._query(
            f"SELECT {_HEAD}, result, next_attempt_at, last_error FROM outbox "
            f"WHERE {where} AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
            (*args, now, limit),
        )
        return [_pending(row) for row in rows]

    def next_due(self, *, server: ServerIdentity | None = None) -> float | None:
        """The earliest next attempt among the entries of exactly ``server``."""
        where, args = _exact(server)
        rows = self._query(f"SELECT MIN(next_attempt_at) FROM outbox WHERE {where}", args)
        return rows[0][0] if rows else None

    def counts(self, *, server: ServerScope = None) -> dict[str, int]:
        """Entries (of ``server``) per table: ``pending``, ``closed``, ``dead``."""
        where, args = _scope(server)
        return {
            name: int(self._query(f"SELECT COUNT(*) FROM {table} WHERE {where}", args)[0][0])
            for name, table in (("pending", "outbox"), ("closed", "closed"), ("dead", "dead"))
        }

    def counts_by_server(self) -> dict[ServerIdentity | None, dict[str, int]]:
        """``counts`` for every server that has entries (None: unknown server)."""
        totals: dict[ServerIdentity | None, dict[str, int]] = {}
        for name, table in (("pending", "outbox"), ("closed", "closed"), ("dead", "dead")):
            rows = self._query(
                f"SELECT server_url, server_key_id, COUNT(*) FROM {table} GROUP BY server_url, server_key_id", ())
            for url, key_id, count in rows:
                key = _server(url, key_id)
                totals.setdefault(key, {"pending": 0, "closed": 0, "dead": 0})[name] = int(count)
        return totals

    def entries(self, table: str, *, server: ServerScope = None) -> list[JournalEntry]:
        """Every row (of ``server``) of ``outbox`` ("pending"), ``closed`` or ``dead``, oldest first."""
        where, args = _scope(server)
        if table == "pending":
            rows = self._query(
                f"SELECT {_HEAD}, result, next_attempt_at, last_error FROM outbox WHERE {where} ORDER BY id", args)
            return [_pending(row) for row in rows]
        if table == "closed":
            rows = self._query(f"SELECT {_HEAD}, closed_at, reason FROM closed WHERE {where} ORDER BY id", args)
            return [JournalEntry(**_identity_of(row), ended_at=row[8], reason=row[9]) for row in rows]
        if table == "dead":
            rows = self._query(
                f"SELECT {_HEAD}, result, died_at, last_error FROM dead WHERE {where} ORDER BY id", args)
            return [
                JournalEntry(**_identity_of(row), result=TaskResult.from_dict(json.loads(row[8])), ended_at=row[9],
                             last_error=row[10])
                for row in rows
            ]
        raise ValueError(f"unknown journal table {table!r} (pending, closed or dead)")

    def _where(self, server: ServerScope, entry_ids: list[int] | None) -> tuple[str, tuple[Any, ...]]:
        where, args = _scope(server)
        if entry_ids is None:
            return where, args
        return f"{where} AND id IN ({','.join('?' * len(entry_ids))})", (*args, *entry_ids)

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"outbox journal {self.path}: {exc}") from exc


def _server(url: str | None, key_id: str | None) -> ServerIdentity | None:
    return None if url is None else ServerIdentity(url, key_id)


def _identity_of(row: tuple[Any, ...]) -> dict[str, Any]:
    """The leading columns every query selects (``_HEAD``)."""
    return {"id": row[0], "task_id": row[1], "workflow_id": row[2], "task_type": row[3],
            "created_at": row[4], "attempts": row[5], "server": _server(row[6], row[7])}


def _pending(row: tuple[Any, ...]) -> JournalEntry:
    return JournalEntry(
        **_identity_of(row), result=TaskResult.from_dict(json.loads(row[8])), next_attempt_at=row[9],
        last_error=row[10],
    )
