"""The RecoveryActor: journals results whose update failed and delivers them when the server is back.

An ``UndeliveredResult`` from a worker process waits in the outbox's in-memory inbox until it is
written to the journal (durably), then is delivered on a timer with capped exponential backoff.
Before sending, the actor reads the task: a task the server does not know, or that has already
finished (timed out and retried, completed by another worker...), is closed with that reason
instead of being updated. An entry older than ``max_age`` is logged at ERROR and moved to the
``dead`` table. On start-up the journal is replayed first: entries survive a SIGKILLed parent.

Entries belong to the server they came from (``ServerIdentity``: API root and key id): the actor
writes its results with its own server and delivers only that server's entries, and only while
it holds that server's ``DeliveryLock``, so several worker trees can share a state directory and
each entry is delivered by one of them. Entries of other servers, and of unknown server (kept by
an older version), are left alone.

Nothing here raises out of a hook. A journal that cannot be opened or written (locked by an
``outbox`` command for longer than the lock timeout, disk full...) leaves the results in the inbox
and is tried again on a timer (``retry_backoff_base`` doubling, at most ``check_interval``); a
delivery that fails for any reason is an attempt, retried with backoff. The inbox belongs to the
``RecoverySink``, so results survive a restart of the actor as well.

The ``DeliveryLock`` is an exclusive ``flock`` on ``outbox-<digest>.lock`` in the state
directory, one file per server identity. The kernel drops it when its holder closes it or dies
(SIGKILL included), so a crashed tree never blocks the next one, and no clock or lease is
involved. Worker processes started with ``fork`` would inherit the descriptor and keep the lock
alive after the parent died; a fork hook closes their copies (the parent's lock is unaffected: a
lock lives until every descriptor of its open file is closed).

Runs on its own thread under the parent's ActorSupervisor; all journal and network work happens on
that thread.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..actors import ActorRef, ActorSupervisor, ThreadActor
from ..client import AuthorizationError, ConductorClient, ConductorError, Configuration, NotFoundError, TaskStatus
from ..runtime import UndeliveredResult
from ..settings import RecoverySettings, RecoverySettingsError
from ._journal import (
    DEFAULT_FILE_NAME,
    DEFAULT_LOCK_TIMEOUT,
    Journal,
    JournalEntry,
    JournalError,
    ServerIdentity,
    exposed_paths,
    make_private_dir,
)

__all__ = ["DeliveryLock", "RecoveryActor", "RecoverySink"]

_log = logging.getLogger("conductor_actors.recovery")

#: Entries delivered per turn, so newly failed results are journalled without waiting long.
_BATCH = 25
_UNFINISHED = {TaskStatus.IN_PROGRESS.value, TaskStatus.SCHEDULED.value}

#: Records a parent metric: (kind "gauge"/"counter", name, labels, value).
MetricRecorder = Callable[[str, str, tuple[str, ...], float], None]


#: Descriptors of the locks this process holds, closed in forked children.
_HELD: set[int] = set()


def _close_inherited() -> None:
    for fd in list(_HELD):
        try:
            os.close(fd)
        except OSError:
            pass  # already closed in this child
    _HELD.clear()


os.register_at_fork(after_in_child=_close_inherited)


class DeliveryLock:
    """The delivery lock of ``server`` in ``directory``. Not thread-safe: used by one actor at a
    time (the recovery actor's thread; ``release`` also from the parent's stop)."""

    def __init__(self, directory: str, server: ServerIdentity) -> None:
        self.server = server
        self.path = os.path.join(directory, f"outbox-{server.digest()}.lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock without waiting; True when this object holds it (now or already).
        Raises ``OSError`` when the lock file cannot be created or opened."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        _HELD.add(fd)
        try:  # for people looking at the state directory: whose lock this is
            os.ftruncate(fd, 0)
            os.write(fd, f"{self.server.label()}\npid {os.getpid()}\n".encode())
        except OSError:
            pass  # the lock holds without its label
        return True

    def release(self) -> None:
        """Give the lock up (nothing when not held); never raises."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _HELD.discard(fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            pass  # closing below releases it as well
        os.close(fd)


@dataclass(frozen=True)
class _Tick:
    """Timer message: write what waits in the inbox, then deliver the entries that are due."""


@dataclass(frozen=True)
class _Wake:
    """From the sink: a result was put in the shared inbox."""


def _describe(cause: BaseException) -> str:
    return f"{type(cause).__name__}: {cause}"


def _report_lost(messages: Iterable[UndeliveredResult], why: str) -> None:
    """Log each result that never reached the journal at ERROR, whole, so it can be replayed by hand."""
    for message in messages:
        result = message.result
        _log.error(
            "the result of %s task %s (workflow %s) was never written to the outbox journal (%s); it is "
            "lost unless delivered by hand: %s", message.task_type, result.task_id, result.workflow_instance_id,
            why, result.to_wire(),
        )


class RecoveryActor(ThreadActor):
    """Owns the journal and delivers what it holds.

    ``inbox`` is where results wait until they are written (the sink's, shared across restarts;
    by default the actor's own). ``lock_timeout`` bounds how long a journal write waits for
    another connection's lock. ``lock`` is the delivery lock of the configuration's server (the
    sink's, kept across restarts; by default the actor's own, released when it stops). Every hook
    runs on the actor's thread and none raises.
    """

    def __init__(
        self,
        settings: RecoverySettings,
        path: str,
        configuration: Configuration,
        *,
        record: MetricRecorder | None = None,
        client: Any = None,
        clock: Callable[[], float] = time.time,
        inbox: deque[UndeliveredResult] | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        lock: DeliveryLock | None = None,
    ) -> None:
        self.settings = settings
        self.path = path
        self.configuration = configuration
        self.record = record
        self.client = client
        self.clock = clock
        self.inbox: deque[UndeliveredResult] = deque() if inbox is None else inbox
        self._owns_inbox = inbox is None
        self.lock_timeout = lock_timeout
        self.server = ServerIdentity.of(configuration)
        self.lock = DeliveryLock(os.path.dirname(path), self.server) if lock is None else lock
        self._owns_lock = lock is None
        self._told_waiting = False  # "another tree delivers" was logged
        self._lock_failed = False
        self.journal: Journal | None = None
        self._timer: Any = None
        self._timer_due = 0.0  # when ``_timer`` fires, on the timer clock (``timer_now``)
        self._failures = 0  # consecutive journal failures

    def on_start(self) -> None:
        self._turn()

    def on_receive(self, message: Any) -> None:
        if isinstance(message, UndeliveredResult):
            self.inbox.append(message)
            self._take_inbox()
        elif isinstance(message, _Wake):
            self._take_inbox()
        elif isinstance(message, _Tick):
            self._timer = None
            self._turn()

    def on_stop(self) -> None:
        if self.inbox:
            self._store_inbox()  # a last try; what is left stays in the inbox
        if self._owns_inbox and self.inbox:
            _report_lost(self.inbox, "the outbox stopped")
            self.inbox.clear()
        self._let_go()

    def on_failure(self, exc: BaseException) -> None:
        """Crashed: free what this instance holds (the sink's inbox and lock stay for the next)."""
        self._let_go()

    def _let_go(self) -> None:
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        if self._owns_lock:
            self.lock.release()
        if self.client is not None:
            self.client.close()
            self.client = None

    # ---- the journal ---------------------------------------------------------------------------

    def _open_journal(self) -> Journal | None:
        """The journal, opened on first use (None while it cannot be opened: logged, retried)."""
        if self.journal is not None:
            return self.journal
        journal: Journal | None = None
        try:
            journal = Journal(self.path, clock=self.clock, lock_timeout=self.lock_timeout)
            counts = journal.counts_by_server()
        except JournalError as exc:
            if journal is not None:
                journal.close()
            self._journal_failed("open", exc)
            return None
        self.journal = journal
        mine = counts.get(self.server, {})
        if mine.get("dead"):
            _log.error("%d result(s) of %s in %s are dead (older than the maximum age); see `python -m "
                       "conductor_actors outbox list`", mine["dead"], self.server, self.path)
        unknown = counts.get(None, {})
        if unknown.get("pending") or unknown.get("dead"):
            _log.warning(
                "%d result(s) in %s do not say which server they belong to (kept by an older version); they are "
                "never delivered automatically: `python -m conductor_actors outbox list` shows them and "
                "`outbox assign URL` gives them to a server", unknown.get("pending", 0) + unknown.get("dead", 0),
                self.path)
        others = sum(c["pending"] for server, c in counts.items() if server is not None and server != self.server)
        if others:
            _log.info("%d result(s) in %s belong to other servers; they are left to those servers' worker trees",
                      others, self.path)
        self._publish_sizes()
        return journal

    def _store_inbox(self) -> int:
        """Write the waiting results to the journal, oldest first; returns how many were written.
        A result leaves the inbox only once its entry is committed."""
        if not self.inbox:
            return 0
        journal = self._open_journal()
        if journal is None:
            return 0
        written = 0
        while self.inbox:
            message = self.inbox[0]
            result = message.result
            try:
                entry_id = journal.add(message.task_type, result, _describe(message.cause), server=self.server)
            except JournalError as exc:
                self._journal_failed("write to", exc)
                break
            except Exception as exc:  # this result cannot be stored at all: say so, keep the others going
                self.inbox.popleft()
                _log.error("the result of %s task %s cannot be written to the outbox journal",
                           message.task_type, result.task_id, exc_info=exc)
                _report_lost([message], f"{type(exc).__name__}: {exc}")
                continue
            self.inbox.popleft()
            written += 1
            self._journal_works()
            _log.warning(
                "kept the result of %s task %s (workflow %s) in the outbox (entry %d) after: %s",
                message.task_type, result.task_id, result.workflow_instance_id, entry_id, message.cause,
            )
        if written:
            self._publish_sizes()
        return written

    def _journal_failed(self, action: str, exc: Exception) -> None:
        self._failures += 1
        _log.log(
            logging.ERROR if self._failures == 1 else logging.WARNING,
            "could not %s the outbox journal %s (%s); %d result(s) wait in memory; trying again in %.1f s",
            action, self.path, exc, len(self.inbox), self._journal_retry_delay(),
            exc_info=None if isinstance(exc, JournalError) else exc,
        )

    def _journal_works(self) -> None:
        if self._failures:
            _log.warning("the outbox journal %s works again after %d failed attempt(s)", self.path, self._failures)
            self._failures = 0

    def _journal_retry_delay(self) -> float:
        n = max(1, self._failures)
        return min(self.settings.check_interval, self.settings.retry_backoff_base * 2.0 ** (n - 1))

    # ---- turns ---------------------------------------------------------------------------------

    def _schedule(self, delay: float) -> None:
        """Have the next turn in ``delay`` seconds, unless one is set to come sooner: results that
        keep arriving must not push back the delivery of those already due."""
        delay = max(0.0, delay)
        due = self.timer_now() + delay
        if self._timer is not None:
            if self._timer_due <= due:
                return
            self._timer.cancel()
        self._timer = self.send_after(delay, _Tick())
        self._timer_due = due

    def _take_inbox(self) -> None:
        """New results arrived: write them now; the first delivery comes ``retry_backoff_base`` later."""
        written = self._store_inbox()
        if self.inbox:
            self._schedule(self._journal_retry_delay())
        elif written:
            self._schedule(self.settings.retry_backoff_base)

    def _turn(self) -> None:
        """Write what waits, deliver what is due, and set the timer for the next turn."""
        journal = self._open_journal()
        self._store_inbox()
        if journal is None or self.inbox:
            self._schedule(self._journal_retry_delay())
            return
        if not self._may_deliver(journal):
            self._schedule(self.settings.check_interval)
            return
        self._schedule(self._deliver_due(journal))

    def _may_deliver(self, journal: Journal) -> bool:
        """Whether this actor delivers its server's entries now: it holds that server's delivery
        lock, or has just taken it (then it says what it replays). Another tree holding it is
        told once; the lock is tried again at every turn."""
        was_held = self.lock.held
        try:
            held = self.lock.acquire()
        except OSError as exc:
            if not self._lock_failed:
                _log.error("cannot take the outbox delivery lock %s (%s); nothing is delivered until it works, "
                           "trying again every %.1f s", self.lock.path, exc, self.settings.check_interval)
            self._lock_failed = True
            return False
        if self._lock_failed:
            _log.warning("the outbox delivery lock %s works again", self.lock.path)
            self._lock_failed = False
        if not held:
            if not self._told_waiting:
                _log.info("another worker tree delivers the outbox entries of %s (it holds %s); the results this "
                          "tree keeps are delivered by it, or by this tree once it stops", self.server, self.lock.path)
                self._told_waiting = True
            return False
        if not was_held:
            try:
                pending = journal.counts(server=self.server)["pending"]
            except JournalError:
                pending = 0  # only the log line needs it; delivery reports the journal's trouble
            if pending:
                _log.warning("replaying %d undelivered result(s) of %s from %s", pending, self.server, self.path)
            elif self._told_waiting:
                _log.info("this worker tree now delivers the outbox entries of %s", self.server)
            self._told_waiting = False
        return True

    def _deliver_due(self, journal: Journal) -> float:
        """Deliver up to ``_BATCH`` due entries; returns the delay until the next turn."""
        try:
            due = journal.due(self.clock(), _BATCH, server=self.server)
            for entry in due:
                self._deliver(journal, entry)
            if due:
                self._publish_sizes()
            next_due = journal.next_due(server=self.server)
        except Exception as exc:  # JournalError, or a row that cannot be read back
            self._journal_failed("use", exc)
            return self._journal_retry_delay()
        self._journal_works()
        if len(due) == _BATCH:
            return 0.0
        if next_due is None:
            return self.settings.check_interval
        return min(self.settings.check_interval, max(0.0, next_due - self.clock()))

    # ---- one delivery --------------------------------------------------------------------------

    def _deliver(self, journal: Journal, entry: JournalEntry) -> None:
        """One attempt. Server and client failures are outcomes; only ``JournalError`` escapes."""
        assert entry.result is not None
        now = self.clock()
        if now - entry.created_at > self.settings.max_age:
            journal.bury(entry.id, f"older than max_age ({self.settings.max_age:g} s); last error: {entry.last_error}")
            _log.error(
                "gave up delivering the result of %s task %s (workflow %s) after %d attempt(s) over %.0f s; "
                "kept in the dead table of %s", entry.task_type, entry.task_id, entry.workflow_id, entry.attempts,
                now - entry.created_at, self.path,
            )
            self._count("dead")
            return
        try:
            finished_as = self._send(entry)
        except NotFoundError as exc:
            journal.close_entry(entry.id, f"unknown task: {exc.server_message}")
            self._count("unknown")
            _log.warning("outbox entry %d: the server does not know task %s (%s); closed",
                         entry.id, entry.task_id, exc.server_message)
            return
        except AuthorizationError as exc:
            delay = self._attempt_failed(journal, entry, exc, now)
            _log.warning("outbox entry %d: the server refused the credentials (%s); trying again in %.1f s, "
                         "until the entry is older than max_age", entry.id, exc, delay)
            return
        except ConductorError as exc:
            if exc.retryable:
                delay = self._attempt_failed(journal, entry, exc, now)
                _log.debug("outbox entry %d not delivered yet (%s); next try in %.1f s", entry.id, exc, delay)
            else:
                journal.bury(entry.id, f"rejected by the server: {exc}")
                self._count("dead")
                _log.error("the server rejected the journalled result of task %s (%s); kept in the dead table",
                           entry.task_id, exc)
            return
        except Exception as exc:  # anything else is an attempt too: never lose the entry for it
            delay = self._attempt_failed(journal, entry, exc, now)
            _log.warning("outbox entry %d: delivery failed unexpectedly; next try in %.1f s", entry.id, delay,
                         exc_info=exc)
            return
        if finished_as is not None:
            journal.close_entry(entry.id, f"already finished ({finished_as})")
            self._count("finished")
            _log.info("outbox entry %d: task %s had already finished (%s); closed",
                      entry.id, entry.task_id, finished_as)
            return
        journal.close_entry(entry.id, "delivered")
        self._count("delivered")
        _log.info("delivered the journalled result of %s task %s (workflow %s) after %d attempt(s)",
                  entry.task_type, entry.task_id, entry.workflow_id, entry.attempts + 1)

    def _send(self, entry: JournalEntry) -> str | None:
        """Read the task, then send the result unless it has finished; returns the status it had
        finished with (None = delivered now). Raises what the client raises."""
        client = self._client()
        current = client.get_task(entry.task_id)
        if current.status not in _UNFINISHED:
            return str(current.status)
        client.update_task(entry.result)
        return None

    def _attempt_failed(self, journal: Journal, entry: JournalEntry, exc: Exception, now: float) -> float:
        """Record a failed attempt; returns the delay until the next one."""
        delay = min(self.settings.retry_backoff_cap, self.settings.retry_backoff_base * 2.0 ** entry.attempts)
        journal.attempted(entry.id, _describe(exc), now + delay)
        self._count("retry")
        return delay

    def _client(self) -> Any:
        if self.client is None:
            self.client = ConductorClient(self.configuration, pool_size=2)
        return self.client

    # ---- metrics -------------------------------------------------------------------------------

    def _count(self, outcome: str) -> None:
        if self.record is not None:
            self.record("counter", "recovery_deliveries_total", (outcome,), 1.0)

    def _publish_sizes(self) -> None:
        if self.record is None or self.journal is None:
            return
        try:
            counts = self.journal.counts(server=self.server)
        except JournalError as exc:
            _log.debug("journal sizes not published: %s", exc)
            return
        for state in ("pending", "dead"):
            self.record("gauge", "recovery_journal_entries", (state,), float(counts[state]))


class RecoverySink:
    """The parent's outbox: opens (and checks) the journal, runs the RecoveryActor, takes every
    ``UndeliveredResult`` from the worker processes.

    A result is put in the sink's inbox (shared with every instance of the actor) before the actor
    is woken, so a result is never dropped because the actor is restarting: the fresh instance
    writes what waits when it starts. Only what is still unwritten when the parent stops is lost,
    and then each result is logged at ERROR, whole.
    """

    def __init__(
        self,
        settings: RecoverySettings,
        configuration: Configuration,
        record: MetricRecorder | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.configuration = configuration
        self.record = record
        self.path = os.path.join(settings.journal_dir(env), DEFAULT_FILE_NAME)
        self.ref: ActorRef | None = None
        #: The delivery lock of the configuration's server, shared by every instance of the actor.
        self.lock: DeliveryLock | None = None
        #: Results not yet written to the journal; appended here (supervisor thread), taken by the actor.
        self.inbox: deque[UndeliveredResult] = deque()
        self._closed = False

    def start(self, supervisor: ActorSupervisor) -> None:
        """Create the state directory (owner-only) and open the journal here (raises
        ``RecoverySettingsError`` naming the directory when that fails), warn once when the
        journal or its directory is open to other users, then start the actor."""
        directory = os.path.dirname(self.path)
        try:
            make_private_dir(directory)
            Journal(self.path).close()
        except (OSError, JournalError) as exc:
            raise RecoverySettingsError(
                f"state_dir={directory!r}: cannot keep the outbox journal there ({exc})"
            ) from exc
        exposed = exposed_paths(self.path)
        if exposed:
            _log.warning(
                "the outbox journal keeps whole task results, but %s can be read or changed by other users; make "
                "them owner-only (chmod 700 for the directory, chmod 600 for the files)",
                ", ".join(f"{path} (mode {mode:04o})" for path, mode in exposed))
        lock = self.lock = DeliveryLock(directory, ServerIdentity.of(self.configuration))
        settings, path, configuration, record, inbox = (
            self.settings, self.path, self.configuration, self.record, self.inbox)
        self.ref = supervisor.start_child(
            lambda: RecoveryActor(settings, path, configuration, record=record, inbox=inbox, lock=lock),
            name="recovery",
        )
        _log.info("outbox journal: %s (results of %s)", path, lock.server)

    def on_batch(self, status: Any, batch: Any) -> None:
        """Events are not recovery's business (results arrive as UndeliveredResult)."""

    def on_undelivered(self, status: Any, message: UndeliveredResult) -> bool:
        """Supervisor thread: keep ``message`` in the inbox and wake the actor. Always True: the
        outbox has it (or, once closed, has logged it as lost)."""
        if self._closed:
            _report_lost([message], "it arrived after the outbox had closed")
            return True
        self.inbox.append(message)
        if self.ref is not None:
            try:
                self.ref.tell(_Wake())
            except Exception as exc:  # restarting: the next instance takes what waits in the inbox
                _log.warning("the outbox actor is not running (%s); %d result(s) wait in memory until it runs "
                             "again", exc, len(self.inbox))
        return True

    def on_child_state(self, status: Any) -> None:
        """Nothing to do."""

    def close(self) -> None:
        """After the actor stopped (it closes its journal): log whatever never reached the journal."""
        self._closed = True
        if self.lock is not None:
            self.lock.release()
        if self.inbox:
            _report_lost(list(self.inbox), "the parent stopped first")
            self.inbox.clear()
