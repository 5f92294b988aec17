"""The poller: when to poll and for how many tasks (``PollerLogic`` over ``PollSchedule``), and
what happens to what a poll brought (validation on arrival, the ledger, ``Execute``).

``PollSchedule`` and ``PollerLogic`` are sans-I/O: every time is passed in (seconds from any
monotonic clock), so schedules are tested with a fake clock. ``PollerBehaviour`` is the rest of the
poller stage except the poll itself, which the flavour (``runtime/_sync.py``, ``runtime/_async.py``)
performs; it runs on the poller's own thread (sync) or on the event loop (async).
``fail_undecodable`` also takes the undecodable tasks update-v2 chains, and ``dispatch`` the
chained tasks the updater passes on (called on a thread that sent a result, or on the loop).
Nothing here raises for what the server sent: a task that cannot run is logged and failed or
skipped.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from ..client import (
    AuthorizationError,
    ConductorError,
    Task,
    TaskBatch,
    TaskResult,
    TaskResultStatus,
    UndecodableTask,
)
from ..settings import RuntimeSettings
from ._execute import hand_back
from ._messages import Beat, Execute, Pause, PollTick, Report, Resume, SlotsFreed, Stop, ValidTask
from ._pipeline import PipelineState, Stage, TaskState, tell_quietly

__all__ = [
    "FailureLog",
    "PollNow",
    "PollSchedule",
    "Polled",
    "PollerBehaviour",
    "PollerLogic",
    "WaitFor",
    "addressable",
    "arrive",
    "dispatch",
    "empty_poll_delay",
    "fail_undecodable",
    "invalid_task_reason",
    "undecodable_result",
    "valid_task",
]

_log = logging.getLogger("conductor_actors.runtime")
TICK = PollTick()

#: Exponent beyond which 0.001 * 2**k exceeds any sane poll interval (avoids float overflow).
_MAX_EXPONENT = 64


# -- the schedule ---------------------------------------------------------------------------------


def empty_poll_delay(consecutive_empty: int, poll_interval: float) -> float:
    """Minimum spacing (s) between poll starts after ``consecutive_empty`` empty polls in a row.

    ``min(0.001 * 2**k, poll_interval)``: 2, 4, 8 ... ms, reaching ``poll_interval`` exactly, for any
    interval (the official SDK stops growing at 1.024 s).
    """
    if consecutive_empty <= 0:
        return 0.0
    return min(0.001 * 2.0 ** min(consecutive_empty, _MAX_EXPONENT), poll_interval)


def _capped_backoff(failures: int, base: float, cap: float) -> float:
    return min(cap, base * 2.0 ** min(failures - 1, _MAX_EXPONENT))


class PollSchedule:
    """When the poller may send its next poll. Owned by one poller; not thread-safe.

    Spacing is measured between poll *starts*: a long-poll that already waited on the server counts
    toward the empty-poll delay, so an idle worker keeps one long-poll open and a task that arrives is
    returned at once, while an empty queue is still asked at most once per ``poll_interval``.
    Failures back off separately for auth (401/403) and everything else, capped, with jitter; any
    successful poll resets both.
    """

    def __init__(
        self,
        poll_interval: float,
        settings: RuntimeSettings,
        *,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.poll_interval = poll_interval
        self._settings = settings
        self._rng = rng
        self.consecutive_empty = 0
        self.auth_failures = 0
        self.other_failures = 0
        self._last_start: float | None = None
        self._blocked_until = 0.0

    def poll_started(self, now: float) -> None:
        """Record that a poll is being sent at ``now``."""
        self._last_start = now

    def poll_succeeded(self, tasks_received: int, now: float) -> None:
        """Record a successful poll; resets failure backoff."""
        self.auth_failures = 0
        self.other_failures = 0
        self._blocked_until = 0.0
        self.consecutive_empty = 0 if tasks_received > 0 else self.consecutive_empty + 1

    def poll_failed(self, error: BaseException, now: float) -> float:
        """Record a failed poll ending at ``now``; returns the backoff (s) it causes."""
        s = self._settings
        if isinstance(error, AuthorizationError):
            self.auth_failures += 1
            delay = _capped_backoff(self.auth_failures, s.auth_backoff_base, s.auth_backoff_cap)
        else:
            self.other_failures += 1
            delay = _capped_backoff(self.other_failures, s.poll_error_backoff_base, s.poll_error_backoff_cap)
        if s.backoff_jitter:
            delay *= 1.0 + s.backoff_jitter * (2.0 * self._rng() - 1.0)
        self._blocked_until = now + delay
        return delay

    def next_poll_at(self) -> float:
        """The earliest time (same clock as the recorded times) the next poll may start."""
        at = self._blocked_until
        if self._last_start is not None and self.consecutive_empty:
            at = max(at, self._last_start + empty_poll_delay(self.consecutive_empty, self.poll_interval))
        return at

    def delay(self, now: float) -> float:
        """Seconds to wait from ``now`` before polling (0 = poll now)."""
        return max(0.0, self.next_poll_at() - now)


# -- validation on arrival ------------------------------------------------------------------------


def _is_id(value: object) -> bool:
    """The one rule for a task's ids: a non-empty string."""
    return isinstance(value, str) and bool(value)


def _missing_ids(task: Task) -> list[str]:
    """The wire names of the ids ``task`` lacks."""
    ids = (("taskId", task.task_id), ("workflowInstanceId", task.workflow_instance_id))
    return [name for name, value in ids if not _is_id(value)]


def valid_task(task: Task) -> ValidTask | None:
    """``task`` as a ``ValidTask`` when both its ids are non-empty strings, else None. Runs for every
    task that arrives: two checks, no list."""
    return cast(ValidTask, task) if _is_id(task.task_id) and _is_id(task.workflow_instance_id) else None


def invalid_task_reason(task: Task) -> str | None:
    """Why a polled task cannot be executed (missing ids), or None when it is fine."""
    missing = _missing_ids(task)
    return "missing " + " and ".join(missing) if missing else None


def addressable(tasks: Sequence[UndecodableTask], source: str) -> list[UndecodableTask]:
    """The undecodable ``tasks`` whose ids were read; each other one is logged at ERROR."""
    found = []
    for task in tasks:
        if task.addressable:
            found.append(task)
        else:
            _log.error(
                "%s task could not be decoded (%s) and its ids cannot be read, so it cannot be failed: %s; "
                "it stays IN_PROGRESS on the server until its response timeout",
                source, task.reason, task.describe(),
            )
    return found


def undecodable_result(task: UndecodableTask, worker_id: str) -> TaskResult:
    """FAILED_WITH_TERMINAL_ERROR for a task that arrived but could not be decoded (its ids could).

    Terminal: the same undecodable data would reach any worker on every retry, so retrying cannot
    help; the reason tells the workflow's owner what was wrong with it.
    """
    return TaskResult(
        task_id=task.task_id,
        workflow_instance_id=task.workflow_instance_id,
        worker_id=worker_id,
        status=TaskResultStatus.FAILED_WITH_TERMINAL_ERROR,
        reason_for_incompletion=f"the task could not be decoded: {task.reason}",
    )


def arrive(pipeline: PipelineState, task: ValidTask) -> None:
    """A task a poll brought holds a slot: record it and have it run, or hand it back at once when
    the pipeline is stopping."""
    pipeline.ledger.received(task)
    dispatch(pipeline, task)


def dispatch(pipeline: PipelineState, task: ValidTask) -> None:
    """A task recorded as received: tell the executor to run it, or hand it back at once when the
    pipeline is stopping."""
    if pipeline.shutting_down.is_set():
        hand_back(pipeline, task)
    else:
        tell_quietly(pipeline.executor, Execute(task))


def fail_undecodable(pipeline: PipelineState, bad: UndecodableTask, *, replacing: str | None = None) -> None:
    """A task arrived (by a poll or chained by update-v2) and holds a slot, but could not be
    decoded; its ids could. Report it FAILED_WITH_TERMINAL_ERROR through the updater like any
    result: retried, kept in the outbox when it cannot be delivered, and the slot freed once settled.
    Also while stopping: handing it back would only bring it back as broken. ``replacing``: the
    task whose accepted result chained it (see ``TaskLedger.received``)."""
    # Only an addressable task gets here: both its ids were read.
    task = cast(
        ValidTask, Task(task_id=bad.task_id, workflow_instance_id=bad.workflow_instance_id, task_type=bad.task_type)
    )
    result = undecodable_result(bad, pipeline.worker_id)
    _log.error(
        "%s could not be decoded (%s); failing it with FAILED_WITH_TERMINAL_ERROR", pipeline.describe(task), bad.reason
    )
    pipeline.ledger.received(task, replacing=replacing)
    pipeline.ledger.transition(task.task_id, TaskState.RECEIVED, TaskState.REPORTING, result)
    tell_quietly(pipeline.updater, Report(task, result))


# -- slots and timing -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollNow:
    count: int


@dataclass(frozen=True, slots=True)
class WaitFor:
    delay: float


_TickDecision = PollNow | WaitFor | None


@dataclass(frozen=True, slots=True)
class Polled:
    """What a poll brought. ``run`` fits the free slots; ``excess`` came from a server that ignored
    ``count`` and must be handed back at once; ``failing`` could not be decoded but its ids could,
    so it is failed on the server. Every task of the three holds a slot until settled."""

    run: tuple[ValidTask, ...]
    excess: tuple[ValidTask, ...] = ()
    failing: tuple[UndecodableTask, ...] = ()


class PollerLogic:
    """Slots and poll timing of one poller (owned by the poller stage; not thread-safe).

    ``free`` is the number of slots not holding a task (below 0 while the excess of a server that
    ignored ``count`` waits for its hand-back). A slot is taken when a polled task is accepted and
    given back with ``slots_freed`` once the task is settled; tasks chained by update-v2 keep the
    slot they already hold, so they never pass through here.
    """

    def __init__(self, thread_count: int, schedule: PollSchedule, *, paused: bool = False) -> None:
        self.capacity = thread_count
        self.free = thread_count
        self.schedule = schedule
        self.paused = paused
        self.stopping = False
        self.tick_pending = False
        self.polling = False

    def can_poll(self) -> bool:
        return self.free > 0 and not self.paused and not self.stopping and not self.polling

    def want_tick(self) -> bool:
        """True when the shell should tell itself a ``PollTick`` now (none is pending)."""
        if self.tick_pending or not self.can_poll():
            return False
        self.tick_pending = True
        return True

    def on_tick(self, now: float) -> _TickDecision:
        """A ``PollTick`` arrived: poll now, wait (a timer tick is then pending), or do nothing."""
        self.tick_pending = False
        if not self.can_poll():
            return None
        delay = self.schedule.delay(now)
        if delay > 0:
            self.tick_pending = True
            return WaitFor(delay)
        self.polling = True
        self.schedule.poll_started(now)
        return PollNow(self.free)

    def on_polled(
        self, tasks: Sequence[Task], now: float, undecodable: Sequence[UndecodableTask] = ()
    ) -> Polled:
        """The poll answered: the tasks to run and, from a server that returned more than the free
        slots, the excess to hand back. Each valid task takes a slot (``free`` goes below 0 while an
        excess is out), so no poll is sent until the hand-backs settled too.

        Of the ``undecodable`` tasks of the answer, those whose ids could be read take a slot first
        and are to be failed (handing one back would only bring it back as broken); the others are
        logged at ERROR with what could be read of them: nothing can be sent for them.
        """
        self.polling = False
        failing = tuple(addressable(undecodable, "a polled"))
        accepted: list[ValidTask] = []
        for task in tasks:
            valid = valid_task(task)
            if valid is None:
                _log.warning(
                    "skipping a polled %s task the runtime cannot execute (%s): %r", task.task_type or "?",
                    invalid_task_reason(task), {k: v for k, v in task.to_wire().items() if k != "inputData"},
                )
                continue
            accepted.append(valid)
        room = max(0, self.free - len(failing))
        self.free -= len(accepted) + len(failing)
        self.schedule.poll_succeeded(len(accepted) + len(failing), now)
        return Polled(tuple(accepted[:room]), tuple(accepted[room:]), failing)

    def on_poll_failed(self, error: BaseException, now: float) -> float:
        """The poll failed: returns the backoff it causes (the shell logs and schedules)."""
        self.polling = False
        return self.schedule.poll_failed(error, now)

    def slots_freed(self, count: int) -> None:
        self.free = min(self.capacity, self.free + count)


# -- the poller stage -----------------------------------------------------------------------------


class FailureLog:
    """Keeps a failing loop from flooding the log: the first failure of a streak is logged, then one
    line every ``every`` seconds while it lasts; ``recovered`` tells how long the streak was."""

    def __init__(self, every: float = 30.0) -> None:
        self._every = every
        self._streak = 0
        self._last_logged = float("-inf")

    def failed(self, now: float) -> bool:
        """Record a failure; True when it should be logged at WARNING."""
        self._streak += 1
        if self._streak == 1 or now - self._last_logged >= self._every:
            self._last_logged = now
            return True
        return False

    @property
    def streak(self) -> int:
        return self._streak

    def recovered(self) -> int:
        """Record a success; returns how many failures in a row preceded it."""
        streak, self._streak = self._streak, 0
        return streak


class PollerBehaviour(Stage):
    """The poller: slots, timing and what to do with what a poll brought."""

    def __init__(self, pipeline: PipelineState) -> None:
        self.pipeline = pipeline
        config = pipeline.config
        self.logic = PollerLogic(
            config.thread_count,
            PollSchedule(config.poll_interval_seconds, pipeline.runtime),
            paused=config.paused,
        )
        pipeline.polling.paused = bool(config.paused)
        self.failures = FailureLog()
        #: The keyword arguments of every ``batch_poll`` after ``count`` (fixed for this worker).
        self.poll_options = {
            "timeout_ms": config.poll_timeout, "worker_id": pipeline.worker_id, "domain": config.domain,
        }

    def on_start(self) -> None:
        # The launcher stores the ref only once this actor runs, and the first task can be polled,
        # run and settled before it does: its SlotsFreed would go nowhere and the slot stay taken.
        # Storing it here, before the first poll, means every freed slot finds the poller.
        self.pipeline.poller = self.actor_ref
        self._beat("poller")
        self._wake()

    def handle(self, message: Any) -> int:
        """Process a message; returns how many tasks to poll for now (0 = no poll), the poll then
        counted as started."""
        logic = self.logic
        if isinstance(message, PollTick):
            decision = logic.on_tick(self.pipeline.clock())
            if isinstance(decision, WaitFor):
                self.send_after(decision.delay, TICK)
            elif decision is not None:
                self.pipeline.telemetry.poll_started(decision.count)
                return decision.count
        elif isinstance(message, SlotsFreed):
            logic.slots_freed(message.count)
            self._wake()
        elif isinstance(message, Beat):
            self._beat("poller")
            self.pipeline.task_log.flush()  # the summary of suppressed failure lines is due once per interval
        elif isinstance(message, Pause):
            logic.paused = self.pipeline.polling.paused = True
        elif isinstance(message, Resume):
            logic.paused = self.pipeline.polling.paused = False
            self._wake()
        elif isinstance(message, Stop):
            logic.stopping = True
        return 0

    def _wake(self) -> None:
        if self.logic.want_tick():
            tell_quietly(self.actor_ref, TICK)  # closed only while the pipeline stops

    def polled(self, tasks: list[Task], started: float) -> None:
        """The poll begun at ``started`` (``time.perf_counter``) brought ``tasks``."""
        pipeline = self.pipeline
        pipeline.telemetry.poll_completed(time.perf_counter() - started, len(tasks))
        pipeline.polling.succeeded()
        streak = self.failures.recovered()
        if streak:
            _log.info("polling for %s works again after %d failed poll(s)", pipeline.task_type, streak)
        undecodable = tasks.undecodable if isinstance(tasks, TaskBatch) else ()
        polled = self.logic.on_polled(tasks, pipeline.clock(), undecodable)
        if polled.excess:
            _log.warning(
                "the server returned %d %s tasks for %d free slots; handing %d back at once",
                len(polled.run) + len(polled.excess), pipeline.task_type, len(polled.run), len(polled.excess),
            )
        for task in polled.run:
            arrive(pipeline, task)
        for task in polled.excess:
            pipeline.ledger.received(task)
            hand_back(pipeline, task)
        for bad in polled.failing:
            fail_undecodable(pipeline, bad)
        self._wake()

    def poll_failed(self, exc: BaseException, started: float) -> None:
        """The poll begun at ``started`` (``time.perf_counter``) failed with ``exc``."""
        duration = time.perf_counter() - started
        pipeline = self.pipeline
        if not isinstance(exc, ConductorError):  # a client bug must not stop polling
            _log.error("unexpected error while polling for %s", pipeline.task_type, exc_info=exc)
        pipeline.telemetry.poll_failed(duration, exc)
        pipeline.polling.failed(exc)
        now = pipeline.clock()
        delay = self.logic.on_poll_failed(exc, now)
        if self.failures.failed(now):
            _log.warning(
                "polling for %s failed (%d in a row): %s; next poll in %.2f s",
                pipeline.task_type, self.failures.streak, exc, delay,
            )
        self._wake()
