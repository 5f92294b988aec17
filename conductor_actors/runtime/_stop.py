"""The graceful stop of one pipeline: ``GracefulStop`` (its steps and deadlines, shared by both
flavours) and ``StopReport`` (what it did).

The stop: stop polling at once (a poll in flight finishes; what it brings is
handed back); tasks received but not started are handed back; running tasks get ``grace`` seconds;
at the deadline whatever has not finished is handed back (async tasks are also cancelled; a sync
thread cannot be killed, its late result is dropped); then every result still waiting is sent
within ``flush`` seconds; results that still could not be sent go to recovery.

Who runs what: the runner makes one ``GracefulStop`` per pipeline, before the pipeline starts.
``hurry`` runs on any thread (sync) or on the event loop (async, through
``call_soon_threadsafe``); every other step runs where the pipeline's ``stop`` runs: the
controlling thread (``SyncPipeline``) or the worker's event loop (``AsyncPipeline``). The steps
tell stages, read the ledger and hand results to recovery; an exception from a step propagates
to the caller of ``WorkerRunner.stop``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from ._execute import handback_result
from ._messages import Flush, Purpose, Report, Stop, ValidTask
from ._pipeline import PipelineState, TaskState, tell_quietly
from ._update import UpdaterLogic

__all__ = ["GracefulStop", "StopReport"]

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

    The runner makes one per pipeline; the pipeline's ``stop`` calls ``begin``, waits (its own
    way) until ``grace_deadline()`` for running tasks, calls ``hand_back_unfinished``, waits until
    ``flush_deadline()`` for the results, then ``journal_unsent`` and ``report``. Both deadlines
    are re-read on every wake: ``hurry`` (a second signal, any thread) shortens them, also when it
    comes before the stop began. The other steps run on the pipeline's controlling thread or loop.
    ``updater_logic`` is the updater's protocol state: the stop sets it draining.
    """

    def __init__(self, updater_logic: UpdaterLogic) -> None:
        self._updater_logic = updater_logic
        self._grace_until = float("inf")  # monotonic
        self._flush_limit = float("inf")  # seconds from hand_back_unfinished
        self._flush_from = float("inf")
        self._began = 0.0
        self._before = (0, 0)  # (handed_back, handed_to_recovery) when the stop began

    def hurry(self, grace: float, flush: float) -> None:
        """Running tasks get at most ``grace`` more seconds, results at most ``flush``."""
        self._grace_until = min(self._grace_until, time.monotonic() + grace)
        self._flush_limit = min(self._flush_limit, flush)

    def begin(self, pipeline: PipelineState, grace: float | None, flush: float | None) -> None:
        """Take no more work: polling stops, results go over v1 (no chained task), whatever still
        arrives is handed back. ``grace``/``flush`` default to the runtime settings."""
        settings = pipeline.runtime
        self._began = time.monotonic()
        grace = settings.shutdown_grace if grace is None else grace
        flush = settings.shutdown_flush if flush is None else flush
        self.hurry(grace, flush)
        self._before = (pipeline.handed_back.value, pipeline.handed_to_recovery.value)
        pipeline.shutting_down.set()
        self._updater_logic.draining = True
        tell_quietly(pipeline.poller, Stop(grace, flush))

    @staticmethod
    def poller_stop_timeout(pipeline: PipelineState) -> float:
        """Seconds to wait for the poller to stop: a poll in flight finishes first (never cut
        short: the server may be sending tasks), so its long-poll plus the read timeout of the
        client in use, and one second for the hand-offs."""
        return pipeline.config.poll_timeout_seconds + pipeline.client.configuration.read_timeout + 1

    def grace_deadline(self) -> float:
        return self._grace_until

    def hand_back_unfinished(self, pipeline: PipelineState) -> list[ValidTask]:
        """At the grace deadline: hand back every task not started or still running (see
        ``_claim_unfinished``), send every result waiting for a retry now, and start the flush
        deadline. Returns the tasks that were still running (abandoned)."""
        reports, running = _claim_unfinished(pipeline)
        for report in reports:
            tell_quietly(pipeline.updater, report)
        tell_quietly(pipeline.updater, Flush())
        self._flush_from = time.monotonic()
        return running

    def flush_deadline(self) -> float:
        return self._flush_from + self._flush_limit

    def journal_unsent(self, pipeline: PipelineState) -> int:
        """At the flush deadline: pass every result not yet accepted to recovery and give up
        hand-backs not yet answered (the server offers those tasks again after their response
        timeout); the ledger is empty afterwards. Returns how many results went to recovery."""
        ledger, task_type = pipeline.ledger, pipeline.task_type
        pending = ledger.pending_results()
        for task, result in pending:
            if ledger.settled(task.task_id):
                pipeline.hand_to_recovery(result, TimeoutError("not delivered before the shutdown deadline"), 0)
        if pending:
            _log.warning("%d %s result(s) not delivered before the shutdown deadline were handed to recovery",
                         len(pending), task_type)
        unanswered = [t for t in ledger.unsettled() if ledger.settled(t.task_id)]
        if unanswered:
            _log.warning("%d %s hand-back(s) were not answered before the shutdown deadline; the server offers "
                         "those tasks again after their response timeout", len(unanswered), task_type)
        return len(pending)

    def report(self, pipeline: PipelineState, running: list[ValidTask], clean: bool) -> StopReport:
        """What this stop did (logged); ``clean``: the flush wait saw every task settled."""
        handed_back_before, recovered_before = self._before
        undelivered = pipeline.handed_to_recovery.value - recovered_before
        report = StopReport(
            handed_back=pipeline.handed_back.value - handed_back_before, abandoned=len(running),
            undelivered=undelivered, seconds=time.monotonic() - self._began,
            clean=clean and not running and undelivered == 0,
        )
        pipeline.task_log.flush(final=True)  # failures counted but not yet summarised would go unmentioned
        _log.info(
            "worker %s stopped in %.2f s: %d task(s) handed back, %d abandoned at the deadline, %d result(s) "
            "to recovery", pipeline.task_type, report.seconds, report.handed_back, report.abandoned,
            report.undelivered,
        )
        return report

    @staticmethod
    def nothing_to_stop() -> StopReport:
        """The report of a pipeline that never started."""
        return StopReport(0, 0, 0, True, 0.0)


def _claim_unfinished(pipeline: PipelineState) -> tuple[list[Report], list[ValidTask]]:
    """At the grace deadline: claim every task not started or still running for a hand-back.

    Returns the hand-back reports to send and the tasks that were running (abandoned). Claims are
    compare-and-set, so a task that finishes at the same moment is either reported or handed back,
    never both.
    """
    reports: list[Report] = []
    running: list[ValidTask] = []
    ledger = pipeline.ledger
    for state in (TaskState.RECEIVED, TaskState.RUNNING):
        for task in ledger.unsettled(state):
            if ledger.transition(task.task_id, state, TaskState.REPORTING):
                reports.append(Report(task, handback_result(task, pipeline.worker_id), Purpose.HANDBACK))
                if state is TaskState.RUNNING:
                    running.append(task)
    if running:
        _log.warning(
            "%d %s task(s) still running at the shutdown deadline were handed back: %s",
            len(running), pipeline.task_type, ", ".join(str(t.task_id) for t in running[:10]),
        )
    return reports, running
