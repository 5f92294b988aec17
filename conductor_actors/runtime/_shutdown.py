"""The graceful stop, shared by both flavours: the plan and what happened.

The order (DESIGN section 5): stop polling at once (a poll in flight finishes; what it brings is
handed back); tasks received but not started are handed back; running tasks get ``grace`` seconds;
at the deadline whatever has not finished is handed back (async tasks are also cancelled; a sync
thread cannot be killed, its late result is dropped); then every result still waiting is sent
within ``flush`` seconds; results that still could not be sent go to recovery.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..client._models import Task
from ._core import handback_result
from ._ledger import TaskState
from ._messages import Purpose, Report
from ._wiring import Wiring

__all__ = ["StopReport", "claim_unfinished", "journal_unsent"]

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


def claim_unfinished(w: Wiring) -> tuple[list[Report], list[Task]]:
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
