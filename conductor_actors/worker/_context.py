"""The task context a worker function can read while it runs, and ``TaskInProgress``.

The context lives in a ``contextvars.ContextVar`` set by ``execute_sync`` (in the executing
thread) or ``execute_async`` (inside the task's own coroutine), so concurrent tasks in threads or
coroutines never see each other's context. What the function records (logs, callback, output) is
merged into the task's result after it returns: keys the function RETURNS win over keys given to
``set_output``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from ..client._models import Task, TaskExecLog
from ._exceptions import TaskContextError

__all__ = ["TaskContext", "TaskInProgress", "get_task_context", "reset_task_context", "set_task_context"]


@dataclass(frozen=True)
class TaskInProgress:
    """Return this to keep the task IN_PROGRESS and have the server hand it out again after
    ``callback_after_seconds`` (re-queue / checkpoint pattern). ``output`` becomes the task's output
    so far (a dict, a dataclass, None or any JSON value, converted like a return value).

    Raises ``ValueError`` for a negative or non-numeric ``callback_after_seconds``.
    """

    callback_after_seconds: float = 60
    output: Any = None

    def __post_init__(self) -> None:
        _check_seconds(self.callback_after_seconds, "callback_after_seconds")


def _check_seconds(value: Any, name: str) -> int:
    """Whole seconds for the wire (rounded up so the server never calls back early)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return math.ceil(value)


class TaskContext:
    """The running task as seen from inside the worker function (official SDK method names).

    Created by the runtime for each execution; read it with ``get_task_context()``. Methods may
    be called from the thread or coroutine running the task.
    """

    __slots__ = ("_shutting_down", "_task", "callback_after_seconds", "logs", "output")

    def __init__(self, task: Task, shutting_down: Callable[[], bool]) -> None:
        self._task = task
        self._shutting_down = shutting_down
        #: Log lines added with ``add_log`` (sent with the result).
        self.logs: list[TaskExecLog] = []
        #: Output given with ``set_output`` (merged under the returned output).
        self.output: dict[str, Any] = {}
        #: Callback asked for with ``set_callback_after`` (whole seconds), or None.
        self.callback_after_seconds: int | None = None

    @property
    def task(self) -> Task:
        """The task being executed."""
        return self._task

    def get_task_id(self) -> str | None:
        return self._task.task_id

    def get_workflow_instance_id(self) -> str | None:
        return self._task.workflow_instance_id

    def get_retry_count(self) -> int:
        return self._task.retry_count

    def get_poll_count(self) -> int:
        return self._task.poll_count

    def get_input(self) -> Any:
        """The task's input data (normally a dict)."""
        return self._task.input_data

    def get_task_def_name(self) -> str | None:
        return self._task.task_def_name or self._task.task_type

    def get_workflow_task_type(self) -> str | None:
        """The workflow task's ``type`` (e.g. ``SIMPLE``), when the server sent it."""
        workflow_task = self._task.workflow_task
        return workflow_task.get("type") if isinstance(workflow_task, dict) else None

    def get_callback_after_seconds(self) -> int:
        """The callback set with ``set_callback_after``, else the task's, else 0."""
        if self.callback_after_seconds is not None:
            return self.callback_after_seconds
        return self._task.callback_after_seconds or 0

    def add_log(self, message: str) -> None:
        """Add a task log line (timestamped now, in milliseconds) sent with the result."""
        self.logs.append(TaskExecLog.now(str(message), self._task.task_id))

    def set_callback_after(self, seconds: float) -> None:
        """Ask the server to hand the task out again after ``seconds`` (used with IN_PROGRESS).

        Raises ``ValueError`` for a negative or non-numeric value.
        """
        self.callback_after_seconds = _check_seconds(seconds, "seconds")

    def set_output(self, output: dict[str, Any]) -> None:
        """Merge ``output`` into the task's output; keys the function returns win.

        Raises ``TypeError`` unless ``output`` is a dict.
        """
        if not isinstance(output, dict):
            raise TypeError(f"set_output expects a dict, got {type(output).__name__}")
        self.output.update(output)

    def is_shutting_down(self) -> bool:
        """True once the worker process is shutting down (finish or checkpoint soon)."""
        return bool(self._shutting_down())


_current: ContextVar[TaskContext | None] = ContextVar("conductor_actors_task_context", default=None)


def get_task_context() -> TaskContext:
    """The context of the task running in this thread or coroutine.

    Raises ``TaskContextError`` when called outside a running task.
    """
    context = _current.get()
    if context is None:
        raise TaskContextError(
            "get_task_context() was called outside a running task: it works only inside a worker"
            " function (or code it calls in the same thread or coroutine) while the runtime executes it"
        )
    return context


def set_task_context(context: TaskContext) -> Token[TaskContext | None]:
    """Make ``context`` current in this thread/coroutine; pass the token to ``reset_task_context``."""
    return _current.set(context)


def reset_task_context(token: Token[TaskContext | None]) -> None:
    """Undo ``set_task_context``."""
    _current.reset(token)
