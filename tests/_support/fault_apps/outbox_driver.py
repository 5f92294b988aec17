"""``OutboxDriver``: one RecoveryActor under a test's control, for the outbox tests.

The actor runs on its own thread with a manual timer service and a fake wall clock, so time moves
only when a test moves it; it talks real HTTP to the test's dev server through a real client. A
``Barrier`` asked after each step returns once the actor has handled everything sent before it.
Every method runs on the test's thread.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from conductor_actors import ConductorClient, Configuration, TaskResult, TaskResultStatus
from conductor_actors.actors import ManualTimerService
from conductor_actors.client import ConductorHTTPError
from conductor_actors.recovery import DEFAULT_FILE_NAME, RecoveryActor
from conductor_actors.runtime import UndeliveredResult
from conductor_actors.settings import RecoverySettings

from ..clock import FakeClock
from .harness import WAIT, journal_entries

__all__ = ["OUTBOX_SETTINGS", "OUTBOX_TASK", "Barrier", "OutboxDriver", "register_outbox_flow"]

#: Task type of the outbox tests (a one-task workflow ``<type>_flow``).
OUTBOX_TASK = "recovery_unit"
#: Deliveries after 1 s doubling up to 8 s; the journal is looked at every 100 s at least.
OUTBOX_SETTINGS = RecoverySettings(max_age=600.0, retry_backoff_base=1.0, retry_backoff_cap=8.0,
                                   check_interval=100.0)


class Barrier:
    """Asked of the actor: answered once everything told before it was handled."""


def register_outbox_flow(server: Any) -> None:
    server.register_workflow({"name": f"{OUTBOX_TASK}_flow", "version": 1, "schemaVersion": 2,
                              "tasks": [{"name": OUTBOX_TASK, "taskReferenceName": "only"}]})


class OutboxDriver:
    """One RecoveryActor under test plus what the test needs around it."""

    def __init__(self, server: Any, directory: Any, settings: RecoverySettings = OUTBOX_SETTINGS) -> None:
        self.server = server
        self.directory = directory
        self.path = str(directory / DEFAULT_FILE_NAME)
        self.clock = FakeClock(1_000_000.0)
        self.timers = ManualTimerService()
        self.records: list[tuple[str, str, tuple[str, ...], float]] = []
        self.configuration = Configuration(server_api_url=server.url)
        self.client = ConductorClient(self.configuration)  # the test's own, for setting tasks up
        self.settings = settings
        self.inbox: deque[UndeliveredResult] = deque()
        self.ref: Any = None

    def start(self, *, client: Any = None, **options: Any) -> None:
        """Start the actor (``options`` are RecoveryActor keywords, e.g. ``lock_timeout``) with the
        driver's inbox, clock, timers and metric records."""
        self.ref = RecoveryActor.start(
            self.settings, self.path, self.configuration, record=lambda *r: self.records.append(r),
            client=client or ConductorClient(self.configuration), clock=self.clock, inbox=self.inbox,
            name="recovery", timers=self.timers, **options,
        )
        self.settle()

    def settle(self) -> None:
        self.ref.ask(Barrier(), timeout=WAIT)

    def advance(self, seconds: float) -> None:
        """Move wall clock and timers ``seconds`` forward and let the actor handle what fired."""
        self.clock.advance(seconds)
        self.timers.advance(seconds)
        self.settle()

    def keep(self, result: TaskResult, cause: BaseException | None = None) -> None:
        """What a worker process sends when it gives up on an update."""
        cause = cause or ConductorHTTPError(503, "Service Unavailable")
        self.ref.tell(UndeliveredResult(OUTBOX_TASK, result, cause, 4))
        self.settle()

    def entries(self, table: str) -> list[Any]:
        return journal_entries(self.directory, table)

    def running_task(self) -> str:
        """Start a one-task workflow and poll its task (IN_PROGRESS now); returns the task id."""
        self.server.start_workflow(f"{OUTBOX_TASK}_flow", {})
        [task] = self.client.batch_poll(OUTBOX_TASK, count=1, timeout_ms=1000)
        return str(task.task_id)

    def result_for(self, task_id: str, **output: Any) -> TaskResult:
        task = self.server.get_task(task_id)
        return TaskResult(task_id=task_id, workflow_instance_id=task["workflowInstanceId"], worker_id="w1",
                          status=TaskResultStatus.COMPLETED, output_data=output)

    def deliveries(self) -> list[str]:
        return [labels[0] for kind, name, labels, _ in self.records if name == "recovery_deliveries_total"]

    def gauge(self, state: str) -> float | None:
        """The last value recorded for ``recovery_journal_entries{state}`` (None if never)."""
        values = [v for kind, name, labels, v in self.records
                  if name == "recovery_journal_entries" and labels == (state,)]
        return values[-1] if values else None

    def stop(self) -> None:
        if self.ref is not None:
            self.ref.stop(timeout=WAIT)
        self.client.close()
