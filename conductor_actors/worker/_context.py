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
from typing import Any

from ..client import Task, TaskExecLog, TaskResult
from ._exceptions import TaskContextError

__all__ = ["TaskContext", "TaskInProgress", "get_task_context", "reset_task_context", "set_task_context"]


class TaskInProgress:
    """Return this to keep the task IN_PROGRESS and have the server hand it out again after
    ``callback_after_seconds`` (re-queue / checkpoint pattern). ``output`` becomes the task's output
    so far (a dict, a dataclass, None or any JSON value, converted like a return value; None is
    kept as ``{}``). Both attributes may be reassigned, as in the official SDK.

    Raises ``ValueError`` for a negative or non-numeric ``callback_after_seconds`` (on creation and
    on assignment).
    """

    def __init__(self, callback_after_seconds: float = 60, output: Any = None) -> None:
        self.callback_after_seconds = callback_after_seconds
        self.output = {} if output is None else output

    @property
    def callback_after_seconds(self) -> float:
        return self._callback_after_seconds

    @callback_after_seconds.setter
    def callback_after_seconds(self, seconds: float) -> None:
        _check_seconds(seconds, "callback_after_seconds")
        self._callback_after_seconds = seconds

    def __repr__(self) -> str:
        return f"TaskInProgress(callback_after={self.callback_after_seconds}s, output={self.output})"


def _check_seconds(value: Any, name: str) -> int:
    """Whole seconds for the wire (rounded up so the server never calls back early)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return math.ceil(value)


class TaskContext:
    """The running task as seen from inside the worker function (official SDK method names).

    Created by the runtime for each execution; read it with ``get_task_context()``. It holds the
    ``TaskResult`` being built (``task_result``): logs, output given with ``set_output`` and the
    callback asked for go there, and are merged into the task's result after the function returns
    (keys the function RETURNS win over keys given to ``set_output``). Methods may be called from
    the thread or coroutine running the task.

    ``TaskContext(task, task_result)`` as in the official SDK; ``task_result`` defaults to an empty
    result addressed to ``task``; ``shutting_down`` backs ``is_shutting_down()``.
    """

    __slots__ = ("_shutting_down", "_task", "_task_result")

    def __init__(
        self,
        task: Task,
        task_result: TaskResult | None = None,
        shutting_down: Callable[[], bool] | None = None,
    ) -> None:
        self._task = task
        if task_result is None:
            task_result = TaskResult(task_id=task.task_id, workflow_instance_id=task.workflow_instance_id)
        if task_result.output_data is None:
            task_result.output_data = {}
        if task_result.logs is None:
            task_result.logs = []
        self._task_result = task_result
        self._shutting_down = shutting_down

    @staticmethod
    def get() -> TaskContext:
        """The context of the task running in this thread or coroutine (``get_task_context()``).

        Raises ``TaskContextError`` when called outside a running task.
        """
        return get_task_context()

    @property
    def task(self) -> Task:
        """The task being executed."""
        return self._task

    @property
    def task_result(self) -> TaskResult:
        """The result being built for this execution (logs, output, callback so far)."""
        return self._task_result

    def get_task_result(self) -> TaskResult:
        """The result being built for this execution (same as ``task_result``)."""
        return self._task_result

    @property
    def logs(self) -> list[TaskExecLog]:
        """Log lines added so far (sent with the result)."""
        logs = self._task_result.logs
        return logs if isinstance(logs, list) else []

    @property
    def output(self) -> dict[str, Any]:
        """Output given with ``set_output`` so far (merged under the returned output)."""
        output = self._task_result.output_data
        return output if isinstance(output, dict) else {}

    @property
    def callback_after_seconds(self) -> int | None:
        """Callback asked for with ``set_callback_after`` (whole seconds), or None."""
        return self._task_result.callback_after_seconds

    def get_task_id(self) -> str | None:
        return self._task.task_id

    def get_workflow_instance_id(self) -> str | None:
        return self._task.workflow_instance_id

    def get_retry_count(self) -> int:
        return self._task.retry_count or 0

    def get_poll_count(self) -> int:
        return self._task.poll_count or 0

    def get_input(self) -> Any:
        """The task's input data (normally a dict; ``{}`` when the task has none)."""
        return self._task.input_data or {}

    def get_task_def_name(self) -> str | None:
        return self._task.task_def_name

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
        if not isinstance(self._task_result.logs, list):
            self._task_result.logs = []
        self._task_result.logs.append(TaskExecLog.now(str(message), self._task.task_id))

    def set_callback_after(self, seconds: float) -> None:
        """Ask the server to hand the task out again after ``seconds`` (used with IN_PROGRESS).

        Raises ``ValueError`` for a negative or non-numeric value.
        """
        self._task_result.callback_after_seconds = _check_seconds(seconds, "seconds")

    def set_output(self, output: dict[str, Any]) -> None:
        """Merge ``output`` into the task's output; keys the function returns win.

        Raises ``ValueError`` unless ``output`` is a dict (as the official SDK does).
        """
        if not isinstance(output, dict):
            raise ValueError(f"set_output expects a dict, got {type(output).__name__}")
        if not isinstance(self._task_result.output_data, dict):
            self._task_result.output_data = {}
        self._task_result.output_data.update(output)

    def is_shutting_down(self) -> bool:
        """True once the worker process is shutting down (finish or checkpoint soon)."""
        return self._shutting_down is not None and bool(self._shutting_down())

    def __repr__(self) -> str:
        return (
            f"TaskContext(task_id={self.get_task_id()}, workflow_id={self.get_workflow_instance_id()},"
            f" retry_count={self.get_retry_count()})"
        )


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
