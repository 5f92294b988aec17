"""Turning what a worker function did (returned or raised) into the ``TaskResult`` to send.

Returns: a dict is the output as is; a dataclass becomes a dict (recursively); None becomes ``{}``;
any other value becomes ``{"result": value}``; ``TaskInProgress`` gives IN_PROGRESS with its
callback and output; a returned ``TaskResult`` is used (addressed to the task). Output given with
``set_output`` is merged under the returned keys (returned keys win). Dataclasses nested anywhere in
the output become dicts too (``_output_json``). Output that is still not valid JSON fails the task
with FAILED_WITH_TERMINAL_ERROR naming the offending type and key path. An exception
gives FAILED (``NonRetryableException``: FAILED_WITH_TERMINAL_ERROR), its message as the reason and
its traceback as a task log. Pure functions on the hot path; any thread.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import traceback
from typing import Any

from ..client import Task, TaskExecLog, TaskResult, TaskResultStatus
from ._context import TaskContext, TaskInProgress
from ._exceptions import NonRetryableException
from ._output_json import OutputNotJson, json_output, plain_value

__all__ = [
    "ResultParts",
    "contract_violation",
    "describe_exception",
    "failure_reason",
    "result_from_error",
    "result_from_return",
]

#: The server truncates ``reasonForIncompletion`` to this many characters.
REASON_LIMIT = TaskResult.REASON_LIMIT
#: Size of ``{}``, the output of a result whose output could not be sent.
_EMPTY_OUTPUT_SIZE = 2


@dataclasses.dataclass(frozen=True)
class ResultParts:
    """A built result with what the runtime needs to know about it."""

    result: TaskResult
    failed: bool
    cause: BaseException | None
    output_size_bytes: int


def describe_exception(exc: BaseException) -> str:
    """``str(exc)``, or the class name when that is empty or itself fails."""
    try:
        text = str(exc)
    except Exception:
        text = ""
    return text or type(exc).__name__


def failure_reason(exc: BaseException) -> str:
    """The message, as the official SDK reports an exception; for a ``BaseException`` that is not
    an ``Exception`` (``KeyboardInterrupt``, ``SystemExit``...) also its type, since the message
    alone (often empty or a bare exit code) would not say what happened."""
    text = describe_exception(exc)
    if not isinstance(exc, Exception) and text != type(exc).__name__:
        text = f"{type(exc).__name__}: {text}"
    return text[:REASON_LIMIT]


def _as_output(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        converted: dict[str, Any] = plain_value(value)
        return converted
    return {"result": value}


def _merge(context_output: dict[str, Any], output: Any) -> Any:
    if not context_output:
        return output
    if not isinstance(output, dict):
        return output
    return {**context_output, **output}


def _addressed(
    task: Task, status: TaskResultStatus, output: Any, worker_id: str,
    logs: list[TaskExecLog] | None = None, callback_after_seconds: int | None = None,
) -> TaskResult:
    """A result for ``task`` built from its ``task_id`` and ``workflow_instance_id`` only, so a
    task-like object (a test double of the official ``Task``) works as the model does."""
    return TaskResult(
        task_id=task.task_id,
        workflow_instance_id=task.workflow_instance_id,
        worker_id=worker_id,
        status=status,
        output_data={} if output is None else output,
        logs=[] if logs is None else logs,
        callback_after_seconds=callback_after_seconds,
    )


def contract_violation(task: Task, worker_id: str, reason: str, logs: list[TaskExecLog]) -> ResultParts:
    """FAILED_WITH_TERMINAL_ERROR for input or output that breaks the worker's contract."""
    result = _addressed(task, TaskResultStatus.FAILED_WITH_TERMINAL_ERROR, {}, worker_id)
    result.reason_for_incompletion = reason[:REASON_LIMIT]
    result.logs = logs
    return ResultParts(result, True, ValueError(reason), _EMPTY_OUTPUT_SIZE)


def result_from_error(task: Task, worker_id: str, context: TaskContext, exc: BaseException) -> ResultParts:
    """FAILED (or FAILED_WITH_TERMINAL_ERROR for ``NonRetryableException``) with the traceback."""
    status = (
        TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
        if isinstance(exc, NonRetryableException)
        else TaskResultStatus.FAILED
    )
    tb = exc.__traceback__
    trace = "".join(traceback.format_exception(type(exc), exc, tb.tb_next if tb is not None else None))
    logs = [*context.logs, TaskExecLog.now(trace, task.task_id)]
    try:
        output, size = json_output(dict(context.output))
    except OutputNotJson as not_json:
        logs.append(TaskExecLog.now(f"set_output data dropped: {str(not_json)[:REASON_LIMIT]}", task.task_id))
        output, size = {}, _EMPTY_OUTPUT_SIZE
    result = _addressed(task, status, output, worker_id)
    result.reason_for_incompletion = failure_reason(exc)
    result.logs = logs
    result.callback_after_seconds = context.callback_after_seconds
    return ResultParts(result, True, exc, size)


def result_from_return(task: Task, worker_id: str, context: TaskContext, value: Any) -> ResultParts:
    """The result for a function that returned ``value``."""
    callback = context.callback_after_seconds
    if isinstance(value, TaskResult):
        result = value
        result.task_id = task.task_id
        result.workflow_instance_id = task.workflow_instance_id
        result.worker_id = worker_id
        if result.status is None:
            result.status = TaskResultStatus.COMPLETED
        result.output_data = _merge(context.output, _as_output(result.output_data))
        result.logs = [*context.logs, *(result.logs or [])]
        if result.callback_after_seconds is None:
            result.callback_after_seconds = callback
    else:
        if type(value) is dict:  # the common case first
            status, output = TaskResultStatus.COMPLETED, value
        elif isinstance(value, TaskInProgress):
            status = TaskResultStatus.IN_PROGRESS
            output = _as_output(value.output)
            callback = math.ceil(value.callback_after_seconds)
        elif inspect.isawaitable(value):
            if inspect.iscoroutine(value):
                value.close()  # never awaited: close it so no warning is left behind
            return contract_violation(
                task,
                worker_id,
                "the worker function returned an awaitable; declare it `async def` so it runs on the"
                " event loop",
                context.logs,
            )
        else:
            status = TaskResultStatus.COMPLETED
            output = _as_output(value)
        result = _addressed(task, status, _merge(context.output, output), worker_id, context.logs, callback)
    try:
        result.output_data, size = json_output(result.output_data)
    except OutputNotJson as not_json:
        return contract_violation(task, worker_id, str(not_json), result.logs if result.logs is not None else [])
    return ResultParts(result, False, None, size)
