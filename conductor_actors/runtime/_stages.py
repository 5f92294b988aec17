"""Stage behaviours shared by both flavours: everything a stage does except its blocking or awaited
I/O call.

Each flavour's stage class is ``<Behaviour>`` + ``ThreadActor`` or ``AsyncioActor``; it receives a
message, asks its behaviour what to do, performs the one I/O call (a poll, an update, the worker
function) and hands the outcome back to the behaviour. The decisions themselves come from the
sans-I/O ``_stage_logic`` and ``_core``.

Every method here runs on the stage's own thread (sync) or on the event loop (async).
"""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING, Any

from ..actors import TimerHandle
from ..client import ConductorError, Task, TaskBatch, TaskResult, UndecodableTask, UndecodableTaskError
from ..worker import ExecutionOutcome
from ._core import PollSchedule, handback_result, lease_extension_result, lease_interval, undecodable_result
from ._ledger import TaskState
from ._messages import (
    Beat,
    Execute,
    Flush,
    LeaseBeat,
    LeaseRelease,
    LeaseTrack,
    Pause,
    PollTick,
    Purpose,
    Report,
    Resume,
    SlotsFreed,
    StopPolling,
)
from ._stage_logic import GiveUp, PollerLogic, Resend, Retry, WaitFor
from ._wiring import FailureLog, Wiring, tell_quietly

if TYPE_CHECKING:
    from ..actors import ActorRef

__all__ = [
    "ExecutorBehaviour",
    "LeaseBehaviour",
    "PollerBehaviour",
    "RetryDue",
    "UpdaterBehaviour",
    "fail_undecodable",
    "hand_back",
]

_log = logging.getLogger("conductor_actors.runtime")
TICK = PollTick()
BEAT = Beat()
_retry_keys = itertools.count()


def hand_back(w: Wiring, task: Task) -> None:
    """Return a received, unstarted task to the server (via the updater); its slot is freed when that
    settles. The ledger claim makes sure one task is handed back once, whoever notices first."""
    if w.ledger.transition(task.task_id, TaskState.RECEIVED, TaskState.REPORTING):  # type: ignore[arg-type]
        tell_quietly(w.updater, Report(task, handback_result(task, w.worker_id), Purpose.HANDBACK))


def fail_undecodable(w: Wiring, bad: UndecodableTask) -> None:
    """A task arrived (by a poll or chained by update-v2) and holds a slot, but could not be
    decoded; its ids could. Report it FAILED_WITH_TERMINAL_ERROR through the updater like any
    result: retried, kept in the outbox when it cannot be delivered, and the slot freed once settled.
    Also while stopping: handing it back would only bring it back as broken."""
    task = Task(task_id=bad.task_id, workflow_instance_id=bad.workflow_instance_id, task_type=bad.task_type)
    result = undecodable_result(bad, w.worker_id)
    _log.error(
        "%s could not be decoded (%s); failing it with FAILED_WITH_TERMINAL_ERROR", w.describe(task), bad.reason
    )
    w.ledger.received(task)
    w.ledger.transition(bad.task_id, TaskState.RECEIVED, TaskState.REPORTING, result)  # type: ignore[arg-type]
    tell_quietly(w.updater, Report(task, result))


def _dispatch(w: Wiring, task: Task) -> None:
    """A task arrived (by a poll or chained by update-v2) and holds a slot: record it and have it
    run, or hand it back at once when the pipeline is stopping."""
    w.ledger.received(task)
    if w.shutting_down.is_set():
        hand_back(w, task)
    else:
        tell_quietly(w.executor, Execute(task))


class _Stage:
    """What every stage actor has: the wiring and the actor base's ``send_after``/``actor_ref``."""

    w: Wiring
    actor_ref: ActorRef

    if TYPE_CHECKING:  # provided by the actor base class the flavour mixes in

        def send_after(self, delay: float, message: Any) -> TimerHandle: ...

    def _beat(self, stage: str) -> None:
        self.w.liveness.beat(stage)
        self.send_after(self.w.settings.heartbeat_interval, BEAT)


class PollerBehaviour(_Stage):
    """The poller: slots, timing and what to do with what a poll brought."""

    def __init__(self, w: Wiring) -> None:
        self.w = w
        self.logic = PollerLogic(
            w.config.thread_count,
            PollSchedule(w.config.poll_interval_seconds, w.settings),
            paused=w.config.paused,
        )
        w.polling.paused = bool(w.config.paused)
        self.failures = FailureLog()

    def on_start(self) -> None:
        # The launcher stores the ref only once this actor runs, and the first task can be polled,
        # run and settled before it does: its SlotsFreed would go nowhere and the slot stay taken.
        # Storing it here, before the first poll, means every freed slot finds the poller.
        self.w.poller = self.actor_ref
        self._beat("poller")
        self._wake()

    def handle(self, message: Any) -> int:
        """Process a message; returns how many tasks to poll for now (0 = no poll)."""
        logic = self.logic
        if isinstance(message, PollTick):
            decision = logic.on_tick(self.w.clock())
            if isinstance(decision, WaitFor):
                self.send_after(decision.delay, TICK)
            elif decision is not None:
                return decision.count
        elif isinstance(message, SlotsFreed):
            logic.slots_freed(message.count)
            self._wake()
        elif isinstance(message, Beat):
            self._beat("poller")
            self.w.task_log.flush()  # the summary of suppressed failure lines is due once per interval
        elif isinstance(message, Pause):
            logic.paused = self.w.polling.paused = True
        elif isinstance(message, Resume):
            logic.paused = self.w.polling.paused = False
            self._wake()
        elif isinstance(message, StopPolling):
            logic.stopping = True
        return 0

    def _wake(self) -> None:
        if self.logic.want_tick():
            tell_quietly(self.actor_ref, TICK)  # closed only while the pipeline stops

    def poll_started(self, count: int) -> None:
        self.w.telemetry.poll_started(count)

    def polled(self, tasks: list[Task], duration: float) -> None:
        w = self.w
        w.telemetry.poll_completed(duration, len(tasks))
        w.polling.succeeded()
        streak = self.failures.recovered()
        if streak:
            _log.info("polling for %s works again after %d failed poll(s)", w.task_type, streak)
        undecodable = tasks.undecodable if isinstance(tasks, TaskBatch) else ()
        polled = self.logic.on_polled(tasks, w.clock(), undecodable)
        if polled.excess:
            _log.warning(
                "the server returned %d %s tasks for %d free slots; handing %d back at once",
                len(polled.run) + len(polled.excess), w.task_type, len(polled.run), len(polled.excess),
            )
        for task in polled.run:
            _dispatch(w, task)
        for task in polled.excess:
            w.ledger.received(task)
            hand_back(w, task)
        for bad in polled.failing:
            fail_undecodable(w, bad)
        self._wake()

    def poll_failed(self, exc: BaseException, duration: float) -> None:
        w = self.w
        if not isinstance(exc, ConductorError):  # a client bug must not stop polling
            _log.error("unexpected error while polling for %s", w.task_type, exc_info=exc)
        w.telemetry.poll_failed(duration, exc)
        w.polling.failed(exc)
        now = w.clock()
        delay = self.logic.on_poll_failed(exc, now)
        if self.failures.failed(now):
            _log.warning(
                "polling for %s failed (%d in a row): %s; next poll in %.2f s",
                w.task_type, self.failures.streak, exc, delay,
            )
        self._wake()


class ExecutorBehaviour(_Stage):
    """Bookkeeping around one execution (the call itself belongs to the flavour)."""

    def __init__(self, w: Wiring) -> None:
        self.w = w

    def begin(self, task: Task) -> bool:
        """Claim ``task`` for running; False when it must not run (shutdown: it is handed back)."""
        w = self.w
        task_id: str = task.task_id  # type: ignore[assignment]
        if w.shutting_down.is_set():
            hand_back(w, task)
            return False
        if not w.ledger.transition(task_id, TaskState.RECEIVED, TaskState.RUNNING):
            return False  # handed back by the shutdown deadline while it waited
        w.telemetry.execution_started(task)
        if w.leases is not None:
            tell_quietly(w.leases, LeaseTrack(task))
        return True

    def finish(self, task: Task, outcome: ExecutionOutcome) -> None:
        """Report the outcome (unless the task was handed back meanwhile)."""
        w = self.w
        recycle = w.recycling.after_task(w.executed.add())  # max_tasks, and memory after every task
        if recycle is not None and w.on_task_limit is not None:
            w.on_task_limit(recycle)
        if w.leases is not None:
            tell_quietly(w.leases, LeaseRelease(task.task_id))  # type: ignore[arg-type]
        w.telemetry.execution_finished(
            task, failed=outcome.failed, cause=outcome.cause,
            duration=outcome.duration, output_size=outcome.output_size_bytes,
        )
        w.task_log.finished(task, outcome)
        if w.ledger.transition(task.task_id, TaskState.RUNNING, TaskState.REPORTING, outcome.result):  # type: ignore[arg-type]
            tell_quietly(w.updater, Report(task, outcome.result))
        else:
            _log.warning(
                "%s finished after the shutdown deadline and was already handed back; its result is dropped",
                w.describe(task),
            )


class RetryDue:
    """Updater -> itself, on a timer: the retry with this key is due."""

    __slots__ = ("key",)

    def __init__(self, key: int) -> None:
        self.key = key


class UpdaterBehaviour(_Stage):
    """The updater's bookkeeping; ``retries`` is shared by the members of a sync pool."""

    def __init__(self, w: Wiring, retries: dict[int, tuple[Report, TimerHandle]]) -> None:
        self.w = w
        self.retries = retries

    def on_start(self) -> None:
        self._beat("updater")

    def handle(self, message: Any) -> Report | None:
        """Process a message; returns the report to send now, if any."""
        if isinstance(message, Report):
            return self._still_owed(message)
        if isinstance(message, RetryDue):
            entry = self.retries.pop(message.key, None)
            return None if entry is None else self._still_owed(entry[0])
        if isinstance(message, (Pause, Resume)):
            self.w.updater_logic.paused = isinstance(message, Pause)  # no chained task while paused
        elif isinstance(message, Flush):
            for key in list(self.retries):
                entry = self.retries.pop(key, None)
                if entry is not None:
                    entry[1].cancel()
                    tell_quietly(self.actor_ref, entry[0])
        elif isinstance(message, Beat):
            self._beat("updater")
        return None

    def _still_owed(self, report: Report) -> Report | None:
        """``report``, unless its task was settled meanwhile (the flush deadline handed it over)."""
        if self.w.ledger.state_of(report.task.task_id) is None:  # type: ignore[arg-type]
            _log.debug("not sending the result of %s: already handed over", self.w.describe(report.task))
            return None
        return report

    def uses_v2(self, report: Report) -> bool:
        return self.w.updater_logic.uses_v2(report)

    def sent(self, report: Report, next_task: Task | UndecodableTask | None, duration: float) -> None:
        """The server accepted the result; update-v2 chained ``next_task`` (possibly one that could
        not be decoded)."""
        w = self.w
        w.telemetry.update_sent(duration, None)
        settled = w.updater_logic.on_success(next_task)
        w.ledger.settled(report.task.task_id)  # type: ignore[arg-type]
        if report.purpose is Purpose.HANDBACK:
            w.handed_back.add()
            w.telemetry.handed_back()
        if settled.failing is not None:
            fail_undecodable(w, settled.failing)  # it keeps the slot until its failure settles
        elif settled.next_task is not None:
            _dispatch(w, settled.next_task)  # the chained task keeps the slot
        else:
            tell_quietly(w.poller, SlotsFreed(1))

    def send_failed(self, report: Report, exc: BaseException, duration: float, *, sent_v2: bool) -> Report | None:
        """Sending failed; returns a report to re-send at once (over v1), or None."""
        if sent_v2 and isinstance(exc, UndecodableTaskError):
            self.sent(report, exc.task, duration)  # accepted; only the chained task is broken
            return None
        w = self.w
        w.telemetry.update_sent(duration, exc)
        if not isinstance(exc, ConductorError):
            _log.error("unexpected error while sending the result of %s", w.describe(report.task), exc_info=exc)
        outcome = w.updater_logic.on_failure(report, exc, sent_v2=sent_v2)
        if isinstance(outcome, Resend):
            return outcome.report
        if isinstance(outcome, Retry):
            _log.warning(
                "sending the result of %s failed (attempt %d): %s; retrying in %.1f s",
                w.describe(report.task), report.attempt, exc, outcome.delay,
            )
            key = next(_retry_keys)
            self.retries[key] = (outcome.report, self.send_after(outcome.delay, RetryDue(key)))
            return None
        self._give_up(outcome)
        return None

    def _give_up(self, outcome: GiveUp) -> None:
        w = self.w
        report = outcome.report
        # Whoever settles the entry owns it: a result the flush deadline already handed to recovery
        # (the ledger entry is gone) is neither reported nor handed over a second time.
        if not w.ledger.settled(report.task.task_id):  # type: ignore[arg-type]
            _log.debug("%s was already handed over; its late failure is ignored", w.describe(report.task))
            return
        if report.purpose is Purpose.HANDBACK:
            _log.warning(
                "could not hand back %s (%s); the server will offer it again after its response timeout",
                w.describe(report.task), outcome.cause,
            )
            tell_quietly(w.poller, SlotsFreed(1))
            return
        # The durable hand-off and the slot first, the event last: a listener that blocks or raises
        # must not delay either.
        if outcome.journal:
            w.hand_to_recovery(report.result, outcome.cause, report.attempt)
        _log.error(
            "could not deliver the result of %s after %d attempt(s): %s%s",
            w.describe(report.task), report.attempt, outcome.cause,
            "; handed to recovery" if outcome.journal else "",
        )
        tell_quietly(w.poller, SlotsFreed(1))
        w.telemetry.update_failed(report.task, report.result, outcome.cause, report.attempt)


class LeaseBehaviour(_Stage):
    """Which running tasks need a lease extension, and when."""

    def __init__(self, w: Wiring) -> None:
        self.w = w
        self.tracked: dict[str, tuple[Task, float, TimerHandle]] = {}

    def handle(self, message: Any) -> tuple[Task, TaskResult] | None:
        """Process a message; returns (task, extension result) when an extension must be sent now."""
        if isinstance(message, LeaseTrack):
            interval = lease_interval(message.task, self.w.settings)
            if interval is not None:
                task_id: str = message.task.task_id  # type: ignore[assignment]
                self.tracked[task_id] = (message.task, interval, self.send_after(interval, LeaseBeat(task_id)))
        elif isinstance(message, LeaseRelease):
            entry = self.tracked.pop(message.task_id, None)
            if entry is not None:
                entry[2].cancel()
        elif isinstance(message, LeaseBeat):
            entry = self.tracked.get(message.task_id)
            if entry is not None:
                return entry[0], lease_extension_result(entry[0], self.w.worker_id)
        return None

    def extended(self, task: Task, error: BaseException | None) -> None:
        """The extension was sent (``error`` None) or failed; schedule the next one."""
        task_id: str = task.task_id  # type: ignore[assignment]
        entry = self.tracked.get(task_id)
        if entry is None:
            return  # the task finished meanwhile
        interval = entry[1]
        w = self.w
        w.telemetry.lease_extended(error is None)
        delay = interval
        if error is not None:
            delay = min(1.0, interval / 4)
            _log.warning("extending the lease of %s failed: %s; retrying in %.1f s", w.describe(task), error, delay)
        self.tracked[task_id] = (task, interval, self.send_after(delay, LeaseBeat(task_id)))
