"""The ledger of every task a worker process accepted from the server, until it is settled.

"Nothing accepted from the server is dropped without a trace": a task enters the ledger when it
arrives (poll or update-v2) and leaves it only when its result was accepted by the server, it was
handed back, or its result was passed on for later delivery. At shutdown the runner reads what is
left. The ledger is shared infrastructure, not a stage's state: stages record transitions, the
runner and health checks read.

Transitions are compare-and-set (``transition``), so two parties racing for one task (an executor
finishing it and the shutdown deadline handing it back) cannot both act on it.

Thread-safe (one condition; every operation O(1), waiters are woken only when there are some).
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable

from ..client import Task, TaskResult

__all__ = ["TaskLedger", "TaskState"]


class TaskState(enum.Enum):
    RECEIVED = "received"  # accepted from the server, not started
    RUNNING = "running"  # the worker function is executing
    REPORTING = "reporting"  # a result is being sent (or waits for a retry)


class TaskLedger:
    """Unsettled tasks by id with their state (and, while REPORTING, the result being sent).

    ``on_change`` (optional) is called after every change, on the changing thread, outside the
    lock; the async flavour sets it to wake its waits.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._entries: dict[str, tuple[Task, TaskState, TaskResult | None]] = {}
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

    def received(self, task: Task) -> None:
        """A task arrived (its id is checked by the caller)."""
        with self._cond:
            self._entries[task.task_id] = (task, TaskState.RECEIVED, None)  # type: ignore[index]
            self._changed()
        self._notify()

    def transition(
        self, task_id: str, expected: TaskState, new: TaskState, result: TaskResult | None = None
    ) -> bool:
        """Move a task from ``expected`` to ``new`` (recording ``result`` when given); False, and no
        change, if it is not in ``expected``."""
        with self._cond:
            entry = self._entries.get(task_id)
            if entry is None or entry[1] is not expected:
                return False
            self._entries[task_id] = (entry[0], new, result)
            self._changed()
        self._notify()
        return True

    def settled(self, task_id: str) -> bool:
        """Remove a task; False when it was not there (already settled)."""
        with self._cond:
            removed = self._entries.pop(task_id, None) is not None
            if removed:
                self._changed()
        if removed:
            self._notify()
        return removed

    def state_of(self, task_id: str) -> TaskState | None:
        with self._cond:
            entry = self._entries.get(task_id)
            return None if entry is None else entry[1]

    def unsettled(self, *states: TaskState) -> list[Task]:
        """Tasks in any of ``states`` (all unsettled tasks when none are given)."""
        with self._cond:
            return [task for task, state, _ in self._entries.values() if not states or state in states]

    def pending_results(self) -> list[tuple[Task, TaskResult]]:
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
