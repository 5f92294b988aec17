"""The sans-I/O core of the worker pipeline: decisions both flavours share.

Nothing here touches the network, a thread or an event loop; every time is passed in (seconds from
any monotonic clock) so schedules are tested with a fake clock. The sync and async stage shells call
these functions and only do the I/O.

- ``PollSchedule``: when the poller may poll next (empty-poll backoff, auth and error backoff).
- ``decide_update_failure``: what to do when sending a result failed (retry later, fall back to the
  v1 endpoint, or give up).
- ``lease_interval``: when a running task's lease must be extended.
- ``handback_result`` / ``lease_extension_result`` / ``undecodable_result``: the special results
  the runtime sends itself.
- ``valid_task``: whether a polled task can be executed at all.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass

from ..client import (
    AuthorizationError,
    ConductorError,
    ConductorHTTPError,
    NotFoundError,
    Task,
    TaskResult,
    TaskResultStatus,
    UndecodableTask,
)
from ..settings import RuntimeSettings

__all__ = [
    "PollSchedule",
    "UpdateDecision",
    "UpdateFailureAction",
    "decide_update_failure",
    "empty_poll_delay",
    "handback_result",
    "invalid_task_reason",
    "lease_extension_result",
    "lease_interval",
    "overdue_result",
    "undecodable_result",
    "v2_unsupported",
]

#: Exponent beyond which 0.001 * 2**k exceeds any sane poll interval (avoids float overflow).
_MAX_EXPONENT = 64


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


def lease_interval(task: Task, settings: RuntimeSettings) -> float | None:
    """Seconds between lease extensions for ``task``, or None when it has no response timeout."""
    timeout = task.response_timeout_seconds
    if not timeout or timeout <= 0:
        return None
    return max(0.5, settings.lease_fraction * float(timeout))


def invalid_task_reason(task: Task) -> str | None:
    """Why a polled task cannot be executed (missing ids), or None when it is fine."""
    missing = [name for name, value in (("taskId", task.task_id), ("workflowInstanceId", task.workflow_instance_id))
               if not isinstance(value, str) or not value]
    if missing:
        return "missing " + " and ".join(missing)
    return None


def handback_result(task: Task, worker_id: str) -> TaskResult:
    """The result that returns a received-but-unstarted task to the server for another worker.

    IN_PROGRESS with ``callbackAfterSeconds: 0`` makes the server re-queue it at once; the output the
    task already had is sent back unchanged (the server replaces output on every update).
    """
    output = task.output_data if isinstance(task.output_data, dict) else {}
    return TaskResult(
        task_id=task.task_id,
        workflow_instance_id=task.workflow_instance_id,
        worker_id=worker_id,
        status=TaskResultStatus.IN_PROGRESS,
        output_data=dict(output),
        callback_after_seconds=0,
    )


def lease_extension_result(task: Task, worker_id: str) -> TaskResult:
    """The heartbeat that restarts the server's response-timeout clock for a running task."""
    return TaskResult(
        task_id=task.task_id,
        workflow_instance_id=task.workflow_instance_id,
        worker_id=worker_id,
        status=TaskResultStatus.IN_PROGRESS,
        extend_lease=True,
    )


def overdue_result(task: Task, worker_id: str, timeout: float) -> TaskResult:
    """FAILED result for an async task cancelled because it outlived its response timeout.

    The server times such a task out and retries it anyway; saying so at once spares the wait for
    its sweeper.
    """
    return TaskResult(
        task_id=task.task_id,
        workflow_instance_id=task.workflow_instance_id,
        worker_id=worker_id,
        status=TaskResultStatus.FAILED,
        reason_for_incompletion=(
            f"cancelled by the worker: ran longer than responseTimeoutSeconds ({timeout:g} s) "
            "without lease extension"
        ),
    )


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
