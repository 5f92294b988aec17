"""The ledger of every task a worker process accepted from the server, until it is settled.

"Nothing accepted from the server is dropped without a trace": a task enters the ledger when it
arrives (poll or update-v2) and leaves it only when its result was accepted by the server, it was
handed back, or its result was passed on for later delivery. At shutdown the runner reads what is
left. The ledger is shared infrastructure, not a stage's state: stages record transitions, the
runner and health checks read.

Thread-safe (one lock; every operation is O(1)). The async flavour uses it from its loop thread only.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable

from ..client._models import Task

__all__ = ["TaskLedger", "TaskState"]


class TaskState(enum.Enum):
    RECEIVED = "received"  # accepted from the server, not started
    RUNNING = "running"  # the worker function is executing
    REPORTING = "reporting"  # a result is being sent (or waits for a retry)


class TaskLedger:
    """Unsettled tasks by id, with their state; calls ``on_empty`` when the last one settles."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Task, TaskState]] = {}
        self._on_empty: Callable[[], None] | None = None

    def set_on_empty(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` (on the settling thread) whenever the ledger becomes empty."""
        self._on_empty = callback

    def received(self, task: Task) -> None:
        with self._lock:
            self._entries[task.task_id] = (task, TaskState.RECEIVED)  # type: ignore[index]

    def mark(self, task_id: str, state: TaskState) -> bool:
        """Move a task to ``state``; False when it is not in the ledger (already settled)."""
        with self._lock:
            entry = self._entries.get(task_id)
            if entry is None:
                return False
            self._entries[task_id] = (entry[0], state)
            return True

    def settled(self, task_id: str) -> bool:
        """Remove a task; False when it was not there (settled twice, e.g. after a hand-back)."""
        with self._lock:
            removed = self._entries.pop(task_id, None) is not None
            empty = not self._entries
        if removed and empty and self._on_empty is not None:
            self._on_empty()
        return removed

    def state_of(self, task_id: str) -> TaskState | None:
        with self._lock:
            entry = self._entries.get(task_id)
            return None if entry is None else entry[1]

    def unsettled(self, *states: TaskState) -> list[Task]:
        """Tasks in any of ``states`` (all unsettled tasks when none are given)."""
        with self._lock:
            return [task for task, state in self._entries.values() if not states or state in states]

    def __len__(self) -> int:
        return len(self._entries)
