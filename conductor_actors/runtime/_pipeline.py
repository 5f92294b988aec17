"""What one worker's pipeline is built from and what its stages share.

- ``WorkerSettings``: the worker-scope settings, one picklable object per worker process. The
  parent builds it (worker resolved, configuration validated) and passes it PICKLED, as bytes, to
  the child's entry point, so that an import error while unpickling the worker happens inside the
  child's own code, is caught, and is reported to the parent as a boot failure (exit code 3)
  instead of a traceback from multiprocessing's bootstrap. ``WorkerRunner`` builds one from its
  arguments.
- ``PipelineState``: the live state the stages of one pipeline share, reached as ``self.pipeline``:
  the ledger of accepted tasks, liveness, poll health, the counters, the references to the stages
  and to the stage guardian. Stages still talk to each other only by telling messages.
- ``TaskLedger``: every task the process accepted, until it is settled.
- ``StageGuardian``: the owner of the stage actors; a failed stage is a dead pipeline.
- ``Stage``: what every stage behaviour has (the state, its ref, its liveness beat).
- ``RecycleCheck``: the recycling limits (``max_tasks``, ``max_rss_mb``) checked as each task ends.

Stages run on their own threads (sync) or on the event loop (async); what they share here is
either thread-safe (the ledger, the tallies) or written by one stage and only read by others.

Memory is checked after every task (``RecycleCheck.after_task``, called by the executor as each
task finishes) and on the worker process's heartbeat timer (``memory_over_limit``, for a leak that
grows while tasks run or while idle). The per-task check is what keeps a fast leak near the limit:
a timer alone lets a leak of many MiB per task run on for a whole interval. To keep it cheap, the
per-task check first asks the kernel for the process's peak resident memory (one ``getrusage``
call, no file to open): while the peak is clearly within the limit the current memory is too, and
``/proc/self/statm`` is read only once the peak comes within ``_PEAK_MARGIN_MIB`` (or 2 %) of it.
The margin is there because the kernel's two readings are approximate counters read at different
moments (a reading of the peak a few pages below the current memory is seen).
"""

from __future__ import annotations

import enum
import logging
import math
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..actors import ActorDeadError, ActorFailed, ActorRef, ThreadActor, TimerHandle, TimerService
from ..client import Configuration, Task, TaskResult
from ..settings import RuntimeSettings
from ..worker import BoundWorker, WorkerConfig
from ._messages import Beat, Pause, Resume, ValidTask
from ._telemetry import TaskLog, Telemetry

__all__ = [
    "Liveness",
    "PipelineState",
    "PollHealth",
    "RecycleCheck",
    "Stage",
    "StageGuardian",
    "Tally",
    "TaskLedger",
    "TaskState",
    "UndeliverableSink",
    "WorkerSettings",
    "log_undeliverable",
    "memory_over_limit",
    "peak_rss_mib",
    "rss_mib",
    "tell_quietly",
]

_log = logging.getLogger("conductor_actors.runtime")

#: Receives a result that could not be delivered: (task type, result, cause, attempts made).
UndeliverableSink = Callable[[str, TaskResult, BaseException, int], None]


def log_undeliverable(task_type: str, result: TaskResult, cause: BaseException, attempts: int) -> None:
    """The ``UndeliverableSink`` of a pipeline without recovery: one ERROR line."""
    _log.error(
        "the result of %s task %s (workflow %s) could not be delivered (%s) and no recovery is configured; "
        "the server will time the task out and retry it",
        task_type, result.task_id, result.workflow_instance_id, cause,
    )


@dataclass(frozen=True)
class WorkerSettings:
    """Everything one worker process needs.

    Attributes:
        key: unique name of this process in the tree, e.g. ``charge_payment`` or
            ``charge_payment[domain=eu]#2``; used in logs and status.
        task_type: the worker's task definition name.
        process_index: 0-based index when a worker runs in several processes.
        worker_payload: the pickled ``Worker`` / ``WorkerInterface`` (re-imports the function by
            module and qualified name when unpickled); empty in an in-process ``WorkerRunner``,
            which holds the worker itself.
        worker_config: the resolved ``WorkerConfig`` (resolved once, in the parent).
        configuration: the client ``Configuration``.
        runtime: the ``RuntimeSettings``.
        listeners_payload: pickled list of in-process event listeners (``b""`` = none).
        forward_event_types: names of the event classes parent-side actors subscribed to; the
            child forwards exactly those.
        metrics: accumulate metrics and ship them to the parent.
        metric_samples: also ship raw samples for quantile summaries.
        log_level: the logging level for the child's root handler.
        log_format: ``"text"`` or ``"json"`` (one JSON object per line).
        log_tasks: log one line per completed task (``conductor_actors.tasks`` at INFO).
    """

    key: str
    task_type: str
    worker_payload: bytes
    worker_config: WorkerConfig
    configuration: Configuration
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    process_index: int = 0
    listeners_payload: bytes = b""
    forward_event_types: tuple[str, ...] = ()
    metrics: bool = False
    metric_samples: bool = False
    log_level: int = logging.INFO
    log_format: str = "text"
    log_tasks: bool = False


# -- the ledger -----------------------------------------------------------------------------------


class TaskState(enum.Enum):
    RECEIVED = "received"  # accepted from the server, not started
    RUNNING = "running"  # the worker function is executing
    REPORTING = "reporting"  # a result is being sent (or waits for a retry)


class TaskLedger:
    """Unsettled tasks by id with their state (and, while REPORTING, the result being sent).

    "Nothing accepted from the server is dropped without a trace": a task enters the ledger when
    it arrives (poll or update-v2) and leaves it only when its result was accepted by the server,
    it was handed back, or its result was passed on for later delivery. At shutdown the runner
    reads what is left. Stages record transitions, the runner and health checks read.

    Transitions are compare-and-set (``transition``), so two parties racing for one task (an
    executor finishing it and the shutdown deadline handing it back) cannot both act on it.

    Thread-safe (one condition; every operation O(1), waiters are woken only when there are some).
    ``on_change`` (optional) is called after every change, on the changing thread, outside the
    lock; the async flavour sets it to wake its waits.
    """

    def __init__(self) -> None:
        # The hot operations (four per task) take the lock itself: it is the condition's lock, and
        # entering it directly skips the condition's Python-level __enter__/__exit__.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._entries: dict[str, tuple[ValidTask, TaskState, TaskResult | None]] = {}
        self._waiters = 0
        self._interruptions = 0
        self.on_change: Callable[[], None] | None = None

    def _changed(self) -> None:  # lock held
        if self._waiters:
            self._cond.notify_all()

    def _notify(self) -> None:  # lock released
        callback = self.on_change
        if callback is not None:
            callback()

    def received(self, task: ValidTask, *, replacing: str | None = None) -> None:
        """A task arrived. ``replacing``: the task whose accepted result brought it (update-v2),
        which leaves in the same step, so the ledger never looks empty while the slot passes on (a
        stop waits for it to be empty)."""
        with self._lock:
            if replacing is not None:
                self._entries.pop(replacing, None)  # gone already when the flush deadline handed it over
            self._entries[task.task_id] = (task, TaskState.RECEIVED, None)
            self._changed()
        self._notify()

    def transition(
        self, task_id: str, expected: TaskState, new: TaskState, result: TaskResult | None = None
    ) -> bool:
        """Move a task from ``expected`` to ``new`` (recording ``result`` when given); False, and no
        change, if it is not in ``expected``."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None or entry[1] is not expected:
                return False
            self._entries[task_id] = (entry[0], new, result)
            self._changed()
        self._notify()
        return True

    def settled(self, task_id: str) -> bool:
        """Remove a task; False when it was not there (already settled)."""
        with self._lock:
            removed = self._entries.pop(task_id, None) is not None
            if removed:
                self._changed()
        if removed:
            self._notify()
        return removed

    def state_of(self, task_id: str) -> TaskState | None:
        with self._lock:
            entry = self._entries.get(task_id)
            return None if entry is None else entry[1]

    def unsettled(self, *states: TaskState) -> list[ValidTask]:
        """Tasks in any of ``states`` (all unsettled tasks when none are given)."""
        with self._cond:
            return [task for task, state, _ in self._entries.values() if not states or state in states]

    def pending_results(self) -> list[tuple[ValidTask, TaskResult]]:
        """REPORTING tasks whose result is recorded (results not yet accepted by the server)."""
        with self._cond:
            return [
                (task, result)
                for task, state, result in self._entries.values()
                if state is TaskState.REPORTING and result is not None
            ]

    def count(self, *states: TaskState) -> int:
        """Unsettled tasks in any of ``states`` (all when none are given)."""
        with self._cond:
            return self._count_locked(states)

    def wait_until_none(self, *states: TaskState, timeout: float) -> bool | None:
        """Block until no task is in ``states`` (or the ledger is empty when none are given).

        Returns True when that happened, False when ``timeout`` seconds passed first, None when
        ``interrupt()`` woke the wait (the caller re-reads its deadline). Runs on the caller's thread.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            self._waiters += 1
            generation = self._interruptions
            try:
                while self._count_locked(states):
                    if self._interruptions != generation:
                        return None
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(remaining)
                return True
            finally:
                self._waiters -= 1

    def interrupt(self) -> None:
        """Wake every ``wait_until_none`` (it returns None): a stop's deadlines changed."""
        with self._cond:
            self._interruptions += 1
            self._cond.notify_all()
        self._notify()

    def _count_locked(self, states: tuple[TaskState, ...]) -> int:
        if not states:
            return len(self._entries)
        return sum(1 for _, state, _ in self._entries.values() if state in states)

    def __len__(self) -> int:
        return len(self._entries)


# -- liveness, poll health, counters --------------------------------------------------------------


class Liveness:
    """Last time each stage loop ran (monotonic seconds); written by the stages, read by the relay."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._beats: dict[str, float] = {}

    def beat(self, stage: str) -> None:
        self._beats[stage] = self._clock()

    def ages(self) -> tuple[tuple[str, float], ...]:
        """Seconds since each stage last beat, oldest first."""
        now = self._clock()
        return tuple(sorted(((stage, now - at) for stage, at in list(self._beats.items())), key=lambda p: -p[1]))


class PollHealth:
    """How this worker's polls go, for readiness: when one last succeeded (monotonic seconds, None
    before the first), the error of the last failed one (None once a poll succeeds again), and
    whether polling is paused. Written by the poller stage, read by the relay for heartbeats; plain
    attribute writes, so nothing is sent per poll."""

    __slots__ = ("last_error", "last_success", "paused")

    def __init__(self) -> None:
        self.last_success: float | None = None
        self.last_error: str | None = None
        self.paused = False

    def succeeded(self) -> None:
        self.last_success, self.last_error = time.monotonic(), None

    def failed(self, exc: BaseException) -> None:
        self.last_error = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]

    def report(self) -> tuple[float | None, str | None, bool]:
        """(seconds since the last successful poll or None, the last error, paused)."""
        at = self.last_success
        return (None if at is None else time.monotonic() - at), self.last_error, self.paused


class Tally:
    """A count that threads bump concurrently: each ``add`` returns its own new total.

    ``+=`` on an attribute is a read, an add and a write, and the limit check reads the total once
    more: nothing in the language keeps another sync executor thread out between them (a
    free-threaded build does not), and one lost or repeated total would skip the ``max_tasks`` mark.
    Any thread may call it; it never raises.
    """

    __slots__ = ("_lock", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    def add(self) -> int:
        """Count one more; returns the total including it."""
        with self._lock:
            self._value += 1
            return self._value

    @property
    def value(self) -> int:
        return self._value

    def __repr__(self) -> str:
        return f"Tally({self._value})"


# -- the stage guardian ---------------------------------------------------------------------------


class StageGuardian(ThreadActor):
    """The owner of every stage actor of one pipeline; receives ``ActorFailed`` from them on its
    own (daemon) thread.

    A stage actor only fails on a bug of the runtime: whatever a worker function raises, any
    ``BaseException`` included, fails its task instead. A pipeline missing a stage would hold its
    slots forever while still heartbeating, so a failed stage is never left alone: the guardian
    hands it to ``on_failure`` (a worker process then exits with code 1 and the supervisor starts
    a fresh one).
    """

    use_daemon_thread = True

    def __init__(self, on_failure: Callable[[str, BaseException], None]) -> None:
        self.report = on_failure

    def on_receive(self, message: Any) -> None:
        if isinstance(message, ActorFailed):
            _log.critical("pipeline stage %s failed: %r", message.actor.name, message.exception)
            self.report(message.actor.name, message.exception)


# -- the recycle check ----------------------------------------------------------------------------

#: The per-task check reads the current memory once the peak is within this many MiB of the limit.
_PEAK_MARGIN_MIB = 8.0


def rss_mib() -> float:
    """This process's resident memory in MiB (current on Linux; peak where only that is known)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            resident_pages = int(statm.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mib()


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB so far (never below the current one)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def memory_over_limit(settings: RuntimeSettings, rss: float) -> str | None:
    """Why the process should be recycled for its memory now, or None."""
    if settings.max_rss_mb and rss > settings.max_rss_mb:
        # Rounded up: a reading just over the limit must not read as the limit itself.
        return f"resident memory {math.ceil(rss)} MiB is over max_rss_mb={settings.max_rss_mb:g}"
    return None


class RecycleCheck:
    """The recycling limits checked at each task boundary of one pipeline.

    ``after_task`` runs on whichever executor thread (sync) or on the loop (async) finished a
    task; it returns the reason to recycle at most once per process (the first limit reached),
    and None otherwise. ``rss`` reads the resident memory in MiB and ``peak`` the peak so far
    (injectable for tests; ``peak`` defaults to the process's own only with the real ``rss``).
    Never raises.
    """

    def __init__(
        self,
        settings: RuntimeSettings,
        rss: Callable[[], float] = rss_mib,
        peak: Callable[[], float] | None = None,
    ) -> None:
        self._settings = settings
        self._rss = rss
        self._peak = peak if peak is not None else (peak_rss_mib if rss is rss_mib else None)
        self._peak_below = settings.max_rss_mb - max(_PEAK_MARGIN_MIB, settings.max_rss_mb * 0.02)
        self._lock = threading.Lock()
        self._reached = False

    def after_task(self, executed: int) -> str | None:
        """Called once per finished task with the total of executed tasks (this one included)."""
        settings = self._settings
        reason: str | None = None
        if executed == settings.max_tasks:
            reason = f"executed {executed} tasks (max_tasks={settings.max_tasks})"
        elif settings.max_rss_mb and (self._peak is None or self._peak() > self._peak_below):
            reason = memory_over_limit(settings, self._rss())  # the peak is near or over: read the memory
        if reason is None:
            return None
        with self._lock:  # several executor threads may cross the limit together
            if self._reached:
                return None
            self._reached = True
        return reason


# -- the shared state -----------------------------------------------------------------------------


class PipelineState:
    """Shared by the stages of one worker's pipeline in one process.

    Built by the runner before the stages start; the pipeline then stores the client (when it
    builds one) and the stage references once, and the stages read them. ``poll_timers`` is the
    poller's timer service (None: the flavour's own timers) and ``clock`` the poller's clock, read
    from that service when one is given (else ``time.monotonic``): the poll schedule is measured on
    the clock its waits run on, so a test can drive both by hand.

    Args:
        worker_settings: the worker-scope settings.
        bound: the worker bound for this process.
        telemetry: where events and metrics go.
        undeliverable: receives results whose update failed finally.
        recycling: the recycling limits checked as each task ends.
        on_stage_failure: called on the guardian's thread when a stage fails.
        on_task_limit: called once when a recycling limit is reached (None: nobody asks).
        on_ready: called with this state once every stage but the poller runs (None: nobody asks).
        poll_timers: see above.
        client: a ready client (the transport seam); None: the pipeline builds one.
    """

    def __init__(
        self,
        worker_settings: WorkerSettings,
        bound: BoundWorker,
        telemetry: Telemetry,
        *,
        undeliverable: UndeliverableSink,
        recycling: RecycleCheck,
        on_stage_failure: Callable[[str, BaseException], None],
        on_task_limit: Callable[[str], None] | None = None,
        on_ready: Callable[[PipelineState], None] | None = None,
        poll_timers: TimerService | None = None,
        client: Any = None,
    ) -> None:
        self.worker_settings = worker_settings
        self.config: WorkerConfig = worker_settings.worker_config
        self.runtime: RuntimeSettings = worker_settings.runtime
        self.bound = bound
        self.telemetry = telemetry
        self.undeliverable = undeliverable
        self.recycling = recycling
        self.on_stage_failure = on_stage_failure
        self.on_task_limit = on_task_limit
        self.on_ready = on_ready
        self.poll_timers = poll_timers
        self.clock: Callable[[], float] = poll_timers.now if poll_timers is not None else time.monotonic
        self.task_type: str = worker_settings.task_type
        self.worker_id: str = bound.worker_id
        self.client = client
        self.ledger = TaskLedger()
        self.liveness = Liveness()
        self.task_log = TaskLog(self.task_type)  # failure lines (rate limited) and --log-tasks lines
        self.polling = PollHealth()
        self.shutting_down = threading.Event()
        self.executed = Tally()  # tasks whose function ran (for recycling after max_tasks)
        self.handed_back = Tally()  # hand-backs the server accepted
        self.handed_to_recovery = Tally()  # results passed to ``undeliverable``
        self.poller: ActorRef | None = None  # also stored by the poller itself, before its first poll
        self.executor: ActorRef | None = None
        self.updater: ActorRef | None = None
        self.leases: ActorRef | None = None
        self.guardian: ActorRef | None = None

    def start_guardian(self) -> ActorRef:
        """Start the owner of the stage actors (see ``StageGuardian``) and keep its ref."""
        self.guardian = StageGuardian.start(self.on_stage_failure, name=f"{self.task_type}-guardian")
        return self.guardian

    def tell_polling(self, message: Pause | Resume) -> None:
        """``Pause`` or ``Resume`` for the poller; any thread. (The runner sets the updater's
        protocol state itself, so that no send takes a chained task while paused.)"""
        tell_quietly(self.poller, message)

    def hand_to_recovery(self, result: TaskResult, cause: BaseException, attempts: int) -> None:
        """Pass a result that could not be delivered to ``undeliverable`` (counted)."""
        self.handed_to_recovery.add()
        self.undeliverable(self.task_type, result, cause, attempts)

    def describe(self, task: Task) -> str:
        """``task <id> (workflow <id>)`` for log lines; never the input or output."""
        return f"task {task.task_id} (workflow {task.workflow_instance_id})"


def tell_quietly(ref: ActorRef | None, message: Any) -> bool:
    """Tell ``message`` unless the stage is gone (during shutdown); False when it was not delivered."""
    if ref is None:
        return False
    try:
        ref.tell(message)
    except ActorDeadError:
        _log.debug("%s not delivered to stopped stage %s", type(message).__name__, ref.name)
        return False
    return True


BEAT = Beat()


class Stage:
    """What every stage behaviour has: the pipeline's state and the actor base's
    ``send_after``/``actor_ref`` (the flavour mixes in ``ThreadActor`` or ``AsyncioActor``)."""

    pipeline: PipelineState
    actor_ref: ActorRef

    if TYPE_CHECKING:  # provided by the actor base class the flavour mixes in

        def send_after(self, delay: float, message: Any) -> TimerHandle: ...

    def _beat(self, stage: str) -> None:
        self.pipeline.liveness.beat(stage)
        self.send_after(self.pipeline.runtime.heartbeat_interval, BEAT)
