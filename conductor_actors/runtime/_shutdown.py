"""The graceful stop, shared by both flavours: the plan and what happened.

The order (DESIGN section 5): stop polling at once (a poll in flight finishes; what it brings is
handed back); tasks received but not started are handed back; running tasks get ``grace`` seconds;
at the deadline whatever has not finished is handed back (async tasks are also cancelled; a sync
thread cannot be killed, its late result is dropped); then every result still waiting is sent
within ``flush`` seconds; results that still could not be sent go to recovery.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from ..client import Task
from ._core import handback_result
from ._ledger import TaskState
from ._messages import Flush, Purpose, Report, StopPolling
from ._wiring import Wiring, tell_quietly

__all__ = ["GracefulStop", "StopReport", "journal_unsent"]

_log = logging.getLogger("conductor_actors.runtime")


@dataclass(frozen=True)
class StopReport:
    """What a graceful stop did.

    ``handed_back``: unstarted or unfinished tasks the server took back during the stop (another
    worker may take them now); ``abandoned``: tasks still running at the grace deadline (handed
    back, their late results dropped); ``undelivered``: results passed to recovery during the stop;
    ``clean``: every accepted task was settled before the deadlines and nothing went to recovery.
    """

    handed_back: int
    abandoned: int
    undelivered: int
    clean: bool
    seconds: float


class GracefulStop:
    """The steps of a graceful stop that both flavours share, and its deadlines.

    The flavour calls ``begin``, waits (its own way) until ``grace_deadline()`` for running tasks,
    calls ``hand_back_unfinished``, waits until ``flush_deadline()`` for the results, then
    ``journal_unsent`` and ``report``. Both deadlines are re-read on every wake: ``hurry`` (a
    second signal) shortens them, also when it comes before the stop began.
    """

    def __init__(self) -> None:
        self._grace_until = float("inf")  # monotonic
        self._flush_limit = float("inf")  # seconds from hand_back_unfinished
        self._flush_from = float("inf")
        self._began = 0.0
        self._before = (0, 0)  # (handed_back, handed_to_recovery) when the stop began

    def hurry(self, grace: float, flush: float) -> None:
        """Running tasks get at most ``grace`` more seconds, results at most ``flush``."""
        self._grace_until = min(self._grace_until, time.monotonic() + grace)
        self._flush_limit = min(self._flush_limit, flush)

    def begin(self, w: Wiring, grace: float | None, flush: float | None) -> None:
        """Take no more work: polling stops, results go over v1 (no chained task), whatever still
        arrives is handed back. ``grace``/``flush`` default to the runtime settings."""
        settings = w.settings
        self._began = time.monotonic()
        self.hurry(
            settings.shutdown_grace if grace is None else grace,
            settings.shutdown_flush if flush is None else flush,
        )
        self._before = (w.handed_back.value, w.handed_to_recovery.value)
        w.shutting_down.set()
        w.updater_logic.draining = True
        tell_quietly(w.poller, StopPolling())

    def grace_deadline(self) -> float:
        return self._grace_until

    def hand_back_unfinished(self, w: Wiring) -> list[Task]:
        """At the grace deadline: hand back every task not started or still running (see
        ``_claim_unfinished``), send every result waiting for a retry now, and start the flush
        deadline. Returns the tasks that were still running (abandoned)."""
        reports, running = _claim_unfinished(w)
        for report in reports:
            tell_quietly(w.updater, report)
        tell_quietly(w.updater, Flush())
        self._flush_from = time.monotonic()
        return running

    def flush_deadline(self) -> float:
        return self._flush_from + self._flush_limit

    def report(self, w: Wiring, running: list[Task], clean: bool) -> StopReport:
        """What this stop did (logged); ``clean``: the flush wait saw every task settled."""
        handed_back_before, recovered_before = self._before
        undelivered = w.handed_to_recovery.value - recovered_before
        report = StopReport(
            handed_back=w.handed_back.value - handed_back_before, abandoned=len(running),
            undelivered=undelivered, seconds=time.monotonic() - self._began,
            clean=clean and not running and undelivered == 0,
        )
        w.task_log.flush(final=True)  # failures counted but not yet summarised would go unmentioned
        _log.info(
            "worker %s stopped in %.2f s: %d task(s) handed back, %d abandoned at the deadline, %d result(s) "
            "to recovery", w.task_type, report.seconds, report.handed_back, report.abandoned, report.undelivered,
        )
        return report


def _claim_unfinished(w: Wiring) -> tuple[list[Report], list[Task]]:
    """At the grace deadline: claim every task not started or still running for a hand-back.

    Returns the hand-back reports to send and the tasks that were running (abandoned). Claims are
    compare-and-set, so a task that finishes at the same moment is either reported or handed back,
    never both.
    """
    reports: list[Report] = []
    running: list[Task] = []
    for state in (TaskState.RECEIVED, TaskState.RUNNING):
        for task in w.ledger.unsettled(state):
            if w.ledger.transition(task.task_id, state, TaskState.REPORTING):  # type: ignore[arg-type]
                reports.append(Report(task, handback_result(task, w.worker_id), Purpose.HANDBACK))
                if state is TaskState.RUNNING:
                    running.append(task)
    if running:
        _log.warning(
            "%d %s task(s) still running at the shutdown deadline were handed back: %s",
            len(running), w.task_type, ", ".join(str(t.task_id) for t in running[:10]),
        )
    return reports, running


def journal_unsent(w: Wiring) -> int:
    """At the flush deadline: pass every result not yet accepted to recovery and give up hand-backs
    not yet answered (the server offers those tasks again after their response timeout); the ledger
    is empty afterwards. Returns how many results went to recovery."""
    pending = w.ledger.pending_results()
    for task, result in pending:
        if w.ledger.settled(task.task_id):  # type: ignore[arg-type]
            w.hand_to_recovery(result, TimeoutError("not delivered before the shutdown deadline"), 0)
    if pending:
        _log.warning("%d %s result(s) not delivered before the shutdown deadline were handed to recovery",
                     len(pending), w.task_type)
    unanswered = [t for t in w.ledger.unsettled() if w.ledger.settled(t.task_id)]  # type: ignore[arg-type]
    if unanswered:
        _log.warning("%d %s hand-back(s) were not answered before the shutdown deadline; the server offers "
                     "those tasks again after their response timeout", len(unanswered), w.task_type)
    return len(pending)
