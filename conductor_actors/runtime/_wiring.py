"""What the stages of one pipeline share, and two small helpers they all use.

``Wiring`` is filled once while the pipeline starts (refs to the other stages, the bound worker,
the client) and read afterwards; it also carries the shared infrastructure every stage may use:
the ledger, the telemetry hub, the liveness board, the shutdown flag and the updater's protocol
state. Stages still talk to each other only by telling messages.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .._logging import TaskLog
from ..actors import ActorDeadError, ActorRef, TimerService
from ..client import Task, TaskResult
from ..settings import RuntimeSettings
from ..worker import BoundWorker, WorkerConfig
from ._ledger import TaskLedger
from ._limits import RecycleCheck
from ._stage_logic import UpdaterLogic
from ._telemetry import Telemetry

__all__ = ["FailureLog", "Liveness", "PollHealth", "UndeliverableSink", "Wiring", "tell_quietly"]

_log = logging.getLogger("conductor_actors.runtime")

#: Receives a result that could not be delivered: (task type, result, cause, attempts made).
UndeliverableSink = Callable[[str, TaskResult, BaseException, int], None]


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


class Wiring:
    """Shared by the stages of one worker's pipeline in one process.

    ``poll_timers`` is the poller's timer service (None: the flavour's own timers) and ``clock``
    the poller's clock, read from that service when one is given (else ``time.monotonic``): the
    poll schedule is measured on the clock its waits run on, so a test can drive both by hand.
    """

    def __init__(
        self,
        *,
        bound: BoundWorker,
        config: WorkerConfig,
        settings: RuntimeSettings,
        client: Any,
        telemetry: Telemetry,
        undeliverable: UndeliverableSink,
        poll_timers: TimerService | None = None,
    ) -> None:
        self.bound = bound
        self.config = config
        self.settings = settings
        self.client = client
        self.telemetry = telemetry
        self.undeliverable = undeliverable
        self.poll_timers = poll_timers
        self.clock: Callable[[], float] = poll_timers.now if poll_timers is not None else time.monotonic
        self.task_type: str = config.task_definition_name
        self.worker_id: str = bound.worker_id
        self.ledger = TaskLedger()
        self.liveness = Liveness()
        self.task_log = TaskLog(self.task_type)  # failure lines (rate limited) and --log-tasks lines
        self.polling = PollHealth()
        self.shutting_down = threading.Event()
        self.updater_logic = UpdaterLogic(settings)
        self.executed = Tally()  # tasks whose function ran (for recycling after max_tasks)
        self.recycling = RecycleCheck(settings)  # max_tasks and max_rss_mb, checked as each task ends
        self.handed_back = Tally()  # hand-backs the server accepted
        self.handed_to_recovery = Tally()  # results passed to ``undeliverable``
        self.on_task_limit: Callable[[str], None] | None = None  # called once when a recycling limit is reached
        self.poller: ActorRef | None = None  # also stored by the poller itself, before its first poll
        self.executor: ActorRef | None = None
        self.updater: ActorRef | None = None
        self.leases: ActorRef | None = None

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
