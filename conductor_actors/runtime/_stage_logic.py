"""The poller's and the updater's state machines, without I/O.

Each flavour's stage actor feeds messages and I/O outcomes in and carries out what comes back
(send a poll of N tasks, tell the executor, schedule a retry...). Both flavours therefore make the
same decisions, and those decisions are tested once, with a fake clock.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from ..client import ResponseTooLargeError, Task, UndecodableTask
from ..settings import RuntimeSettings
from ._core import PollSchedule, UpdateFailureAction, decide_update_failure, invalid_task_reason
from ._messages import Purpose, Report

__all__ = [
    "GiveUp",
    "PollNow",
    "Polled",
    "PollerLogic",
    "Resend",
    "Retry",
    "Settled",
    "UpdaterLogic",
    "WaitFor",
]

_log = logging.getLogger("conductor_actors.runtime")


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

    run: tuple[Task, ...]
    excess: tuple[Task, ...] = ()
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
        failing = tuple(_addressable(undecodable, "a polled"))
        accepted: list[Task] = []
        for task in tasks:
            reason = invalid_task_reason(task)
            if reason is not None:
                _log.warning(
                    "skipping a polled %s task the runtime cannot execute (%s): %r",
                    task.task_type or "?", reason, {k: v for k, v in task.to_wire().items() if k != "inputData"},
                )
                continue
            accepted.append(task)
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


def _addressable(tasks: Sequence[UndecodableTask], source: str) -> list[UndecodableTask]:
    """The undecodable ``tasks`` whose ids were read; each other one is logged at ERROR."""
    addressable = []
    for task in tasks:
        if task.addressable:
            addressable.append(task)
        else:
            _log.error(
                "%s task could not be decoded (%s) and its ids cannot be read, so it cannot be failed: %s; "
                "it stays IN_PROGRESS on the server until its response timeout",
                source, task.reason, task.describe(),
            )
    return addressable


@dataclass(frozen=True, slots=True)
class Settled:
    """The result was accepted; ``next_task`` (update-v2) keeps the slot, or ``failing`` (a chained
    task that could not be decoded, to be failed) does; with neither, the slot is freed."""

    next_task: Task | None
    failing: UndecodableTask | None = None


@dataclass(frozen=True, slots=True)
class Resend:
    """Send again at once over v1 (the server has no update-v2, or ``report`` is ``v1_only``)."""

    report: Report


@dataclass(frozen=True, slots=True)
class Retry:
    """Send again after ``delay`` seconds."""

    report: Report
    delay: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Final failure: publish ``TaskUpdateFailure``; ``journal`` = keep it for later delivery."""

    report: Report
    cause: BaseException
    journal: bool


class UpdaterLogic:
    """Which endpoint to use and what an update's outcome means. Shared by every updater member.

    update-v2 is assumed (servers of the last years have it, and it saves a poll per task); the
    first answer showing the endpoint is missing switches to v1 for good. Results already in flight
    at that moment try v2 once more each (bounded, once per process), rather than making every
    startup on a modern server pay v1 and extra polls while a probe answers. While draining (a
    shutdown) or paused, results go over v1 so the server hands out no new task; a task the server
    still chains is handed back by the shell.
    """

    def __init__(self, settings: RuntimeSettings) -> None:
        self.settings = settings
        self.use_v2 = True
        self.draining = False
        self.paused = False

    def uses_v2(self, report: Report) -> bool:
        return (
            self.use_v2 and not self.draining and not self.paused and report.purpose is Purpose.RESULT
            and not report.v1_only
        )

    def on_success(self, next_task: Task | UndecodableTask | None) -> Settled:
        """A result was accepted with ``next_task`` from update-v2 (None: none, or sent over v1).

        A next task that could not be decoded keeps the slot to be failed when its ids were read;
        otherwise it is logged at ERROR with what could be read, and the slot is freed.
        """
        if isinstance(next_task, UndecodableTask):
            failing = _addressable((next_task,), "the update-v2 answer's")
            return Settled(None, failing[0] if failing else None)
        if next_task is not None and invalid_task_reason(next_task) is not None:
            _log.warning("update-v2 returned a task without ids; ignored: %r", next_task.to_wire())
            next_task = None
        return Settled(next_task)

    def on_failure(self, report: Report, error: BaseException, *, sent_v2: bool) -> Resend | Retry | GiveUp:
        if sent_v2 and isinstance(error, ResponseTooLargeError):
            # Most likely the server took the result and chained a task over the limit. Another
            # update-v2 would lease one more task on every attempt; POST /tasks leases none, and a
            # result the server already has is ignored there, so it is sent once more that way.
            _log.warning(
                "the update-v2 answer to the result of task %s (workflow %s) could not be read (%s); "
                "sending the result again over POST /tasks. A task the server chained with it stays "
                "IN_PROGRESS until its response timeout",
                report.task.task_id, report.task.workflow_instance_id, error,
            )
            return Resend(dataclasses.replace(report, v1_only=True))
        decision = decide_update_failure(error, report.attempt, self.settings, using_v2=sent_v2)
        if decision.action is UpdateFailureAction.FALLBACK_V1:
            if self.use_v2:
                _log.warning("the server has no update-v2 endpoint (%s); using POST /tasks from now on", error)
            self.use_v2 = False
            return Resend(report)
        if decision.action is UpdateFailureAction.RETRY and not self.draining:
            return Retry(dataclasses.replace(report, attempt=report.attempt + 1), decision.delay)
        # While draining, a failure that would have been retried goes to the journal at once.
        journal = decision.journal or (self.draining and decision.action is UpdateFailureAction.RETRY)
        return GiveUp(report, error, journal=journal)
