"""The updater: which endpoint a result goes over (update-v2 with the v1 fallback), what an
update's outcome means (``UpdaterLogic``: settle, resend, retry later or give up), and what the
updater stage does with it.

``decide_update_failure``, ``v2_unsupported`` and ``UpdaterLogic`` are sans-I/O and tested alone.
``ResultSender`` is what one send's outcome means for the pipeline (the ledger, the slot, the task
update-v2 chained, recovery), without the send itself. The updater stage (``UpdaterBehaviour``)
is one; so is each executor thread (sync) or task coroutine (async), which sends its own result's
first attempt (``runtime/_sync.py`` says why) and tells the updater a ``Retry`` when that fails.
``UpdaterBehaviour`` is the rest of the updater stage except the send itself, which the flavour
(``runtime/_sync.py``, ``runtime/_async.py``) performs; it runs on an updater thread (sync) or on
the event loop (async). A retry is a timer message, never a sleeping thread. A result that cannot
be delivered ends as a ``TaskUpdateFailure`` event and, when worth it, in recovery: nothing here
raises for a failed send.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import logging
import time
from dataclasses import dataclass
from typing import Any

from ..actors import TimerHandle
from ..client import (
    AuthorizationError,
    ConductorError,
    ConductorHTTPError,
    NotFoundError,
    ResponseTooLargeError,
    Task,
    UndecodableTask,
    UndecodableTaskError,
)
from ..settings import RuntimeSettings
from ._messages import Beat, Flush, Purpose, Report, Retry, RetryDue, SlotsFreed, ValidTask
from ._pipeline import PipelineState, Stage, tell_quietly
from ._poll import addressable, dispatch, fail_undecodable, valid_task

__all__ = [
    "GiveUp",
    "Resend",
    "ResultSender",
    "Retry",
    "Settled",
    "UpdateDecision",
    "UpdateFailureAction",
    "UpdaterBehaviour",
    "UpdaterLogic",
    "decide_update_failure",
    "v2_unsupported",
]

_log = logging.getLogger("conductor_actors.runtime")
_retry_keys = itertools.count()


# -- failure decisions ----------------------------------------------------------------------------


class UpdateFailureAction(enum.Enum):
    RETRY = "retry"  # send again after ``delay``
    FALLBACK_V1 = "fallback_v1"  # the server has no update-v2: use POST /tasks from now on, at once
    GIVE_UP = "give_up"  # final: report TaskUpdateFailure


@dataclass(frozen=True)
class UpdateDecision:
    action: UpdateFailureAction
    delay: float = 0.0
    journal: bool = False  # worth keeping for a later delivery (the failure may pass)


_TASK_NOT_FOUND_MARKERS = ("no such task", "no such workflow", "task not found", "workflow not found")


def v2_unsupported(error: BaseException) -> bool:
    """True when an update-v2 failure means the server lacks the endpoint (not a missing task).

    405 always; 404 unless the server's message is about an unknown task or workflow.
    """
    if not isinstance(error, ConductorHTTPError):
        return False
    if error.status == 405:
        return True
    if isinstance(error, NotFoundError):
        message = error.server_message.lower()
        return not any(marker in message for marker in _TASK_NOT_FOUND_MARKERS)
    return False


def decide_update_failure(
    error: BaseException, attempt: int, settings: RuntimeSettings, *, using_v2: bool
) -> UpdateDecision:
    """What to do after attempt number ``attempt`` (1-based) to send a result failed with ``error``.

    Only what can succeed is retried: network errors, timeouts, unreadable answers, 5xx and 429,
    and 401/403: credentials are often fixed by a redeploy (and the client already fetched a fresh
    token once). Any other 4xx is final at once (the server will not change its mind). After the
    last attempt such a failure is worth journalling for later delivery.
    """
    if using_v2 and v2_unsupported(error):
        return UpdateDecision(UpdateFailureAction.FALLBACK_V1)
    retryable = isinstance(error, AuthorizationError) or (isinstance(error, ConductorError) and error.retryable)
    if not retryable:
        return UpdateDecision(UpdateFailureAction.GIVE_UP, journal=False)
    delays = settings.update_retry_delays
    if attempt <= len(delays):
        return UpdateDecision(UpdateFailureAction.RETRY, delay=delays[attempt - 1])
    return UpdateDecision(UpdateFailureAction.GIVE_UP, journal=True)


# -- the state machine ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settled:
    """The result was accepted; ``next_task`` (update-v2) keeps the slot, or ``failing`` (a chained
    task that could not be decoded, to be failed) does; with neither, the slot is freed."""

    next_task: ValidTask | None
    failing: UndecodableTask | None = None


@dataclass(frozen=True, slots=True)
class Resend:
    """Send again at once over v1 (the server has no update-v2, or ``report`` is ``v1_only``)."""

    report: Report


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Final failure: publish ``TaskUpdateFailure``; ``journal`` = keep it for later delivery."""

    report: Report
    cause: BaseException
    journal: bool


class UpdaterLogic:
    """Which endpoint to use and what an update's outcome means. Shared by every sender (the
    updater's members, the executors); the runner sets ``paused``, the stop ``draining``.

    update-v2 is assumed (servers of the last years have it, and it saves a poll per task); the
    first answer showing the endpoint is missing switches to v1 for good. Results already in flight
    at that moment try v2 once more each (bounded, once per process), rather than making every
    startup on a modern server pay v1 and extra polls while a probe answers. While draining (a
    shutdown) or paused, results go over v1 so the server hands out no new task. A task the server
    still chains (to a result sent over v2 just before) is handed back while draining, and run
    while paused, as a running task is.
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
            failing = addressable((next_task,), "the update-v2 answer's")
            return Settled(None, failing[0] if failing else None)
        if next_task is None:
            return Settled(None)
        valid = valid_task(next_task)
        if valid is None:
            _log.warning("update-v2 returned a task without ids; ignored: %r", next_task.to_wire())
        return Settled(valid)

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


# -- one send's outcome, and the updater stage -----------------------------------------------------


class ResultSender:
    """What one send's outcome means for the pipeline; the send itself is the caller's. Used by the
    updater stage and by the executors, on the sender's thread (sync) or on the event loop (async).
    ``logic`` is the one ``UpdaterLogic`` of the worker, shared by every sender."""

    def __init__(self, pipeline: PipelineState, logic: UpdaterLogic) -> None:
        self.pipeline = pipeline
        self.logic = logic

    def begin_send(self, report: Report) -> tuple[bool, float]:
        """Whether ``report`` goes over update-v2, and when its send starts (``time.perf_counter``,
        for ``accepted``/``failed``)."""
        return self.logic.uses_v2(report), time.perf_counter()

    def accepted(self, report: Report, next_task: Task | UndecodableTask | None, started: float) -> ValidTask | None:
        """The server accepted the result sent at ``started``; update-v2 chained ``next_task``
        (possibly one that could not be decoded). Returns the chained task, already recorded as
        received (it keeps the slot): the caller runs it or ``dispatch``es it. None: the slot was
        freed, or handed to the failure of an undecodable task."""
        pipeline = self.pipeline
        pipeline.telemetry.update_sent(time.perf_counter() - started, None)
        settled = self.logic.on_success(next_task)
        sent_id = report.task.task_id
        if report.purpose is Purpose.HANDBACK:
            pipeline.handed_back.add()
            pipeline.telemetry.handed_back()
        # A chained task takes the sent one's place in the ledger, and its slot.
        if settled.failing is not None:
            fail_undecodable(pipeline, settled.failing, replacing=sent_id)  # failed with the slot
        elif settled.next_task is not None:
            pipeline.ledger.received(settled.next_task, replacing=sent_id)
        else:
            pipeline.ledger.settled(sent_id)
            tell_quietly(pipeline.poller, SlotsFreed(1))
        return settled.next_task

    def failed(
        self, report: Report, exc: BaseException, started: float, *, sent_v2: bool
    ) -> Report | Retry | None:
        """Sending at ``started`` (``time.perf_counter``) failed. Returns a report to re-send at once
        (over v1), a ``Retry`` for the updater to schedule, or None: settled (given up, journalled
        when worth it) or, for an undecodable chained task, accepted after all."""
        if sent_v2 and isinstance(exc, UndecodableTaskError):
            self.accepted(report, exc.task, started)  # accepted; only the chained task is broken
            return None
        pipeline = self.pipeline
        pipeline.telemetry.update_sent(time.perf_counter() - started, exc)
        if not isinstance(exc, ConductorError):
            _log.error("unexpected error while sending the result of %s", pipeline.describe(report.task), exc_info=exc)
        outcome = self.logic.on_failure(report, exc, sent_v2=sent_v2)
        if isinstance(outcome, Resend):
            return outcome.report
        if isinstance(outcome, Retry):
            _log.warning(
                "sending the result of %s failed (attempt %d): %s; retrying in %.1f s",
                pipeline.describe(report.task), report.attempt, exc, outcome.delay,
            )
            return outcome
        self._give_up(outcome)
        return None

    def _give_up(self, outcome: GiveUp) -> None:
        pipeline = self.pipeline
        report = outcome.report
        # Whoever settles the entry owns it: a result the flush deadline already handed to recovery
        # (the ledger entry is gone) is neither reported nor handed over a second time.
        if not pipeline.ledger.settled(report.task.task_id):
            _log.debug("%s was already handed over; its late failure is ignored", pipeline.describe(report.task))
            return
        if report.purpose is Purpose.HANDBACK:
            _log.warning(
                "could not hand back %s (%s); the server will offer it again after its response timeout",
                pipeline.describe(report.task), outcome.cause,
            )
            tell_quietly(pipeline.poller, SlotsFreed(1))
            return
        # The durable hand-off and the slot first, the event last: a listener that blocks or raises
        # must not delay either.
        if outcome.journal:
            pipeline.hand_to_recovery(report.result, outcome.cause, report.attempt)
        _log.error(
            "could not deliver the result of %s after %d attempt(s): %s%s",
            pipeline.describe(report.task), report.attempt, outcome.cause,
            "; handed to recovery" if outcome.journal else "",
        )
        tell_quietly(pipeline.poller, SlotsFreed(1))
        pipeline.telemetry.update_failed(report.task, report.result, outcome.cause, report.attempt)


class UpdaterBehaviour(ResultSender, Stage):
    """The updater's bookkeeping; ``logic`` (built by the runner, which also hands it to the
    graceful stop) and ``retries`` (every pending retry, by key) are shared by the members of a
    sync pool."""

    def __init__(
        self, pipeline: PipelineState, logic: UpdaterLogic, retries: dict[int, tuple[Report, TimerHandle]]
    ) -> None:
        super().__init__(pipeline, logic)
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
        if isinstance(message, Retry):
            self.retry_later(message)
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
        if self.pipeline.ledger.state_of(report.task.task_id) is None:
            _log.debug("not sending the result of %s: already handed over", self.pipeline.describe(report.task))
            return None
        return report

    def retry_later(self, retry: Retry) -> None:
        """Send ``retry.report`` again after its delay, on a timer (a ``Flush`` sends it at once)."""
        key = next(_retry_keys)
        self.retries[key] = (retry.report, self.send_after(retry.delay, RetryDue(key)))

    def after_send(self, task: ValidTask | None, retry: Retry | None) -> None:
        """What a send of this stage left to do: run the task update-v2 chained (the executor does),
        or keep the retry on a timer."""
        if retry is not None:
            self.retry_later(retry)
        if task is not None:
            dispatch(self.pipeline, task)
