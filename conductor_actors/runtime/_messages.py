"""Every message of a worker process: the pipe between the parent and the child, and the stages
of the pipeline (poller -> executor -> updater).

Parent -> child: ``Stop``, ``Pause``, ``Resume``; the graceful stop (``GracefulStop.begin``) tells
the same ``Stop`` to the poller, and the child's reader (through the runner) the same
``Pause``/``Resume`` to the poller.
Child -> parent: ``Ready``, ``Heartbeat``, ``EventBatch`` (events parent-side actors subscribed to,
plus pre-aggregated metric deltas), ``UndeliveredResult`` (a result whose update failed finally, for
the recovery actor), ``Exiting``.
Between the stages: ``PollTick``, ``SlotsFreed``, ``Execute``, ``Report``, ``Retry``, ``RetryDue``,
``Flush``, the lease messages and ``Beat``; a stage never calls another stage's methods, it tells
one of these.
The task they carry is a ``ValidTask``: one whose ids were checked when it arrived.
To the relay (the one writer on the pipe, inside the worker process): ``SendNow``, ``SetProbe`` and
the ask ``ShipNow``.

All frozen, slotted dataclasses of plain data. What crosses the pipe is
pickled: exceptions carried inside are made picklable on the child's side (``picklable_error``),
so one odd exception class cannot break the pipe. Nothing here runs on a thread of its own.
"""

from __future__ import annotations

import dataclasses
import enum
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..client import Task, TaskResult
from ..events import RemoteError, TaskRunnerEvent
from ..metrics import MetricsDelta

__all__ = [
    "Beat",
    "CancelRunning",
    "CancelSends",
    "EventBatch",
    "Execute",
    "Exiting",
    "Flush",
    "Heartbeat",
    "LeaseBeat",
    "LeaseRelease",
    "LeaseTrack",
    "Pause",
    "PollTick",
    "Purpose",
    "Ready",
    "Report",
    "Resume",
    "Retry",
    "RetryDue",
    "SendNow",
    "SetProbe",
    "ShipNow",
    "SlotsFreed",
    "Stop",
    "UndeliveredResult",
    "ValidTask",
    "picklable_error",
    "picklable_event",
]


# -- the pipe, and the commands that travel on into the pipeline ----------------------------------


@dataclass(frozen=True, slots=True)
class Stop:
    """Stop gracefully: poll no more, running tasks get ``grace`` seconds, then results ``flush``
    seconds more. Parent -> child over the pipe; ``GracefulStop.begin`` -> poller."""

    grace: float
    flush: float


@dataclass(frozen=True, slots=True)
class Pause:
    """Stop polling until ``Resume``; running tasks continue (the updater chains no task meanwhile)."""


@dataclass(frozen=True, slots=True)
class Resume:
    """Poll again after ``Pause``."""


@dataclass(frozen=True, slots=True)
class Ready:
    """The worker process imported its worker, built its pipeline and is about to poll."""

    pid: int
    task_type: str
    flavour: str  # "sync" or "async"
    worker_id: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Liveness: seconds since each watched stage loop last ran (``(stage, age)`` pairs)."""

    pid: int
    stage_ages: tuple[tuple[str, float], ...]
    in_flight: int
    #: For readiness: (seconds since the last successful poll or None, the last poll error or
    #: None, polling paused); None from a process that does not say.
    polling: tuple[float | None, str | None, bool] | None = None


@dataclass(frozen=True, slots=True)
class EventBatch:
    """Events parent-side actors subscribed to, and the metric changes since the last batch."""

    events: tuple[TaskRunnerEvent, ...]
    metrics: MetricsDelta | None


@dataclass(frozen=True, slots=True)
class UndeliveredResult:
    """A result the worker could not deliver; the parent keeps it for later delivery."""

    task_type: str
    result: TaskResult
    cause: BaseException
    attempts: int


@dataclass(frozen=True, slots=True)
class Exiting:
    """The worker process is about to exit; ``reason`` is a short human sentence."""

    reason: str
    code: int


def picklable_error(exc: BaseException) -> BaseException:
    """``exc`` itself if it survives pickling, else a ``RemoteError`` with its class name and message."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RemoteError.of(exc)
    return exc


def picklable_event(event: Any) -> Any:
    """``event`` with its ``cause`` made picklable (events are frozen: a copy when needed)."""
    cause = getattr(event, "cause", None)
    if cause is None:
        return event
    safe = picklable_error(cause)
    if safe is cause:
        return event
    return dataclasses.replace(event, cause=safe)


# -- inside the pipeline --------------------------------------------------------------------------

if TYPE_CHECKING:

    class ValidTask(Task):
        """A ``Task`` that passed validation on arrival (``_poll.valid_task``): its ids are plain
        ``str``, so no code after the poller checks or ignores an optional id."""

        task_id: str
        workflow_instance_id: str

else:
    # At run time a ValidTask is the very Task the server sent: validation checks its ids once, on
    # arrival, and neither copies nor wraps it (every task of every poll passes through here).
    ValidTask = Task


class Purpose(enum.Enum):
    """Why a result is being sent: it decides the endpoint and what success means."""

    RESULT = "result"  # the outcome of an execution: update-v2 may chain the next task
    HANDBACK = "handback"  # return an unstarted task to the server (IN_PROGRESS, callback 0)


@dataclass(frozen=True, slots=True)
class PollTick:
    """Poller -> itself: poll now if slots are free and nothing forbids it."""


@dataclass(frozen=True, slots=True)
class SlotsFreed:
    """Whoever settled the tasks (the updater, an executor) -> poller: ``count`` tasks
    were settled; their slots are free again."""

    count: int = 1


@dataclass(frozen=True, slots=True)
class Beat:
    """A stage -> itself, on a timer: report liveness."""


@dataclass(frozen=True, slots=True)
class Execute:
    """Poller or updater -> executor: run the worker function for ``task`` (its slot is taken)."""

    task: ValidTask


@dataclass(frozen=True, slots=True)
class Report:
    """-> updater: send ``result`` for ``task``. Told by either executor (hand-backs of tasks not
    started while stopping; an executor sends its own results' first attempt, see
    ``runtime/_sync.py``), the poller (hand-backs while stopping, failures of
    undecodable tasks), whoever sent the result an undecodable task was chained to (its failure) and
    ``GracefulStop`` (hand-backs at the grace deadline). ``attempt`` is 1-based;
    ``v1_only``: send it over POST /tasks, never update-v2 (its update-v2 answer was too large)."""

    task: ValidTask
    result: TaskResult
    purpose: Purpose = Purpose.RESULT
    attempt: int = 1
    v1_only: bool = False


@dataclass(frozen=True, slots=True)
class Retry:
    """Send ``report`` again after ``delay`` seconds (``report.attempt`` is already the next one).
    The decision after a failed send; an executor whose own send failed tells it to the updater,
    which keeps every pending retry."""

    report: Report
    delay: float


@dataclass(frozen=True, slots=True)
class RetryDue:
    """Updater -> itself, on a timer: the retry with this key is due."""

    key: int


@dataclass(frozen=True, slots=True)
class CancelRunning:
    """``AsyncPipeline.stop`` -> async executor, at the grace deadline: cancel every running
    coroutine."""


@dataclass(frozen=True, slots=True)
class CancelSends:
    """``AsyncPipeline.stop`` -> async executor / updater / lease keeper, after the flush deadline:
    cancel the sends in flight and answer with their coroutines (the pipeline awaits them). The
    executor also cancels what still runs a task's code, without answering with it: code that holds
    off cancellation must not hold the stop."""


@dataclass(frozen=True, slots=True)
class Flush:
    """``GracefulStop`` -> updater, at the grace deadline: send every result waiting for a retry
    now, once."""


@dataclass(frozen=True, slots=True)
class LeaseTrack:
    """Executor -> lease keeper: ``task`` started running; extend its lease until released."""

    task: ValidTask


@dataclass(frozen=True, slots=True)
class LeaseRelease:
    """Executor -> lease keeper: the task finished; stop extending its lease."""

    task_id: str


@dataclass(frozen=True, slots=True)
class LeaseBeat:
    """Lease keeper -> itself, on a timer: time to extend the lease of ``task_id``."""

    task_id: str


# -- to the relay ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendNow:
    """The worker process -> relay: send ``message`` to the parent at once (after the buffered
    events)."""

    message: Any


@dataclass(frozen=True, slots=True)
class SetProbe:
    """The worker process -> relay, once the pipeline runs: use ``probe`` for heartbeats from now
    on: it returns ``(stage ages, tasks in flight)``; ``polling`` returns how polls go (see
    ``Heartbeat.polling``)."""

    probe: Callable[[], tuple[tuple[tuple[str, float], ...], int]]
    polling: Callable[[], tuple[float | None, str | None, bool]] | None = None


@dataclass(frozen=True, slots=True)
class ShipNow:
    """The worker process -> relay, as an ask: write every buffered event and metric change to the
    pipe now, then answer (so what came before is on the pipe when the ask returns)."""
