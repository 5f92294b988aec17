"""The RecoveryActor: journals results whose update failed and delivers them when the server is back.

An ``UndeliveredResult`` from a worker process is written to the journal first (durably), then
delivered on a timer with capped exponential backoff. Before sending, the actor reads the task: a
task the server does not know, or that has already finished (timed out and retried, completed by
another worker...), is closed with that reason instead of being updated. An entry older than
``max_age`` is logged at ERROR and moved to the ``dead`` table. On start-up the journal is
replayed first: entries survive a SIGKILLed parent.

Runs on its own thread under the parent's ActorSupervisor; all journal and network work happens on
that thread.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..actors import ActorRef, ActorSupervisor, ThreadActor
from ..client._config import Configuration
from ..client._errors import ConductorError, NotFoundError
from ..client._models import TaskStatus
from ..runtime._control import UndeliveredResult
from ._journal import DEFAULT_FILE_NAME, Journal, JournalEntry, JournalError
from ._settings import RecoverySettings, RecoverySettingsError

__all__ = ["RecoveryActor", "RecoverySink"]

_log = logging.getLogger("conductor_actors.recovery")

#: Entries delivered per turn, so newly failed results are journalled without waiting long.
_BATCH = 25
_UNFINISHED = {TaskStatus.IN_PROGRESS.value, TaskStatus.SCHEDULED.value}

#: Records a parent metric: (kind "gauge"/"counter", name, labels, value).
MetricRecorder = Callable[[str, str, tuple[str, ...], float], None]


class _Deliver:
    pass


class RecoveryActor(ThreadActor):
    """Owns the journal and delivers what it holds."""

    def __init__(
        self,
        settings: RecoverySettings,
        path: str,
        configuration: Configuration,
        *,
        record: MetricRecorder | None = None,
        client: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.path = path
        self.configuration = configuration
        self.record = record
        self.client = client
        self.clock = clock
        self.journal: Journal | None = None
        self._timer: Any = None

    def on_start(self) -> None:
        self.journal = Journal(self.path, clock=self.clock)
        counts = self.journal.counts()
        if counts["pending"]:
            _log.warning("replaying %d undelivered result(s) from %s", counts["pending"], self.path)
        if counts["dead"]:
            _log.error("%d result(s) in %s are dead (older than the maximum age); see `python -m "
                       "conductor_actors outbox list`", counts["dead"], self.path)
        self._publish_sizes()
        self._schedule(0.0)

    def on_receive(self, message: Any) -> None:
        assert self.journal is not None
        if isinstance(message, UndeliveredResult):
            entry_id = self.journal.add(message.task_type, message.result, f"{type(message.cause).__name__}: "
                                        f"{message.cause}")
            _log.warning(
                "kept the result of %s task %s (workflow %s) in the outbox (entry %d) after: %s",
                message.task_type, message.result.task_id, message.result.workflow_instance_id, entry_id,
                message.cause,
            )
            self._publish_sizes()
            self._schedule(self.settings.retry_backoff_base)
        elif isinstance(message, _Deliver):
            self._timer = None
            self._deliver_due()

    def on_stop(self) -> None:
        if self.journal is not None:
            self.journal.close()
        if self.client is not None:
            self.client.close()

    # ----------------------------------------------------------------------------------------------

    def _schedule(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.send_after(max(0.0, delay), _Deliver())

    def _deliver_due(self) -> None:
        journal = self.journal
        assert journal is not None
        due = journal.due(self.clock(), _BATCH)
        for entry in due:
            self._deliver(entry)
        if due:
            self._publish_sizes()
        next_due = journal.next_due()
        if len(due) == _BATCH:
            self._schedule(0.0)
        elif next_due is None:
            self._schedule(self.settings.check_interval)
        else:
            self._schedule(min(self.settings.check_interval, max(0.0, next_due - self.clock())))

    def _deliver(self, entry: JournalEntry) -> None:
        journal = self.journal
        assert journal is not None and entry.result is not None
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
        client = self._client()
        try:
            current = client.get_task(entry.task_id)
            if current.status not in _UNFINISHED:
                journal.close_entry(entry.id, f"already finished ({current.status})")
                self._count("finished")
                _log.info("outbox entry %d: task %s had already finished (%s); closed",
                          entry.id, entry.task_id, current.status)
                return
            client.update_task(entry.result)
        except NotFoundError as exc:
            journal.close_entry(entry.id, f"unknown task: {exc.server_message}")
            self._count("unknown")
            _log.warning("outbox entry %d: the server does not know task %s (%s); closed",
                         entry.id, entry.task_id, exc.server_message)
            return
        except ConductorError as exc:
            if exc.retryable:
                delay = min(self.settings.retry_backoff_cap, self.settings.retry_backoff_base * 2.0 ** entry.attempts)
                journal.attempted(entry.id, f"{type(exc).__name__}: {exc}", now + delay)
                self._count("retry")
                _log.debug("outbox entry %d not delivered yet (%s); next try in %.1f s", entry.id, exc, delay)
            else:
                journal.bury(entry.id, f"rejected by the server: {exc}")
                self._count("dead")
                _log.error("the server rejected the journalled result of task %s (%s); kept in the dead table",
                           entry.task_id, exc)
            return
        journal.close_entry(entry.id, "delivered")
        self._count("delivered")
        _log.info("delivered the journalled result of %s task %s (workflow %s) after %d attempt(s)",
                  entry.task_type, entry.task_id, entry.workflow_id, entry.attempts + 1)

    def _client(self) -> Any:
        if self.client is None:
            from ..client._sync import ConductorClient

            self.client = ConductorClient(self.configuration, pool_size=2)
        return self.client

    def _count(self, outcome: str) -> None:
        if self.record is not None:
            self.record("counter", "recovery_deliveries_total", (outcome,), 1.0)

    def _publish_sizes(self) -> None:
        if self.record is not None and self.journal is not None:
            counts = self.journal.counts()
            for state in ("pending", "dead"):
                self.record("gauge", "recovery_journal_entries", (state,), float(counts[state]))


class RecoverySink:
    """The parent's outbox: opens (and checks) the journal, runs the RecoveryActor, takes every
    ``UndeliveredResult`` from the worker processes."""

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

    def start(self, supervisor: ActorSupervisor) -> None:
        """Create the state directory and open the journal here (raises ``RecoverySettingsError``
        naming the directory when that fails), then start the actor."""
        directory = os.path.dirname(self.path)
        try:
            os.makedirs(directory, exist_ok=True)
            Journal(self.path).close()
        except (OSError, JournalError) as exc:
            raise RecoverySettingsError(
                f"state_dir={directory!r}: cannot keep the outbox journal there ({exc})"
            ) from exc
        settings, path, configuration, record = self.settings, self.path, self.configuration, self.record
        self.ref = supervisor.start_child(
            lambda: RecoveryActor(settings, path, configuration, record=record), name="recovery"
        )
        _log.info("outbox journal: %s", path)

    def on_batch(self, status: Any, batch: Any) -> None:
        """Events are not recovery's business (results arrive as UndeliveredResult)."""

    def on_undelivered(self, status: Any, message: UndeliveredResult) -> bool:
        if self.ref is None:
            return False
        try:
            self.ref.tell(message)
        except Exception as exc:
            _log.error("the outbox could not take the result of task %s: %s", message.result.task_id, exc)
            return False
        return True

    def on_child_state(self, status: Any) -> None:
        """Nothing to do."""

    def close(self) -> None:
        """The actor closes its journal when it stops."""
