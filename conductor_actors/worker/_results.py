"""Turning what a worker function did (returned or raised) into the ``TaskResult`` to send.

Returns: a dict is the output as is; a dataclass becomes a dict (recursively); None becomes ``{}``;
any other value becomes ``{"result": value}``; ``TaskInProgress`` gives IN_PROGRESS with its
callback and output; a returned ``TaskResult`` is used (addressed to the task). Output given with
``set_output`` is merged under the returned keys (returned keys win). An exception gives FAILED
(``NonRetryableException``: FAILED_WITH_TERMINAL_ERROR), its message as the reason and its
traceback as a task log.

The output is made JSON the way the official SDK serialises it. ``json_output`` is called for every
result: the common case (plain JSON values) is encoded once and returned as is; only when that fails
is the output walked and converted, with the official SDK's rules (its API client's serialiser), at
the top or nested anywhere in dicts, lists and dataclasses:

- a dataclass becomes a dict of its fields; a tuple becomes a list;
- ``datetime``/``date``/``time``: ISO 8601 text (``isoformat()``); ``timedelta``: ``str()``
  (``'0:00:05'``);
- ``UUID`` and ``Decimal``: ``str()`` (``'1.50'``, no precision lost to a float);
- ``bytes``: UTF-8 text, or base64 when they are not UTF-8;
- ``set``/``frozenset``: ``str()`` of it (``'{1, 2}'``), as the official SDK sends it;
- an ``Enum`` member: its value (``str``/``int`` enums are JSON already).

Output that is still not JSON (an arbitrary object, NaN/infinity, a circular reference) fails the
task with FAILED_WITH_TERMINAL_ERROR naming the offending type and its key path, e.g.
``'order.lines[2].when'`` (``OutputNotJson`` carries that message). Pure functions on the hot path;
any thread.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import inspect
import json
import math
import traceback
from typing import Any, Protocol

from ..client import Task, TaskExecLog, TaskResult, TaskResultStatus
from ._worker import NonRetryableException, TaskInProgress

__all__ = [
    "OutputNotJson",
    "Recorded",
    "ResultParts",
    "contract_violation",
    "describe_exception",
    "failure_reason",
    "json_output",
    "plain_value",
    "result_from_error",
    "result_from_return",
]


class Recorded(Protocol):
    """What the task context recorded while the function ran (``TaskContext`` provides it):
    ``(logs, output, callback_after_seconds)``, read without making a result when there is none."""

    def _recorded(self) -> tuple[list[TaskExecLog], dict[str, Any], int | None]: ...


#: Strict JSON (no NaN/Infinity), compact, UTF-8 text: what the output costs on the wire.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_SCALARS = (str, int, float, bool)


class OutputNotJson(ValueError):
    """The output cannot be sent as JSON; the message says what and where."""


def _serialised_size(output: Any) -> int:
    """Bytes of the UTF-8 JSON text of ``output``; raises ``TypeError``/``ValueError`` if not JSON."""
    return len(_ENCODER.encode(output).encode("utf-8"))


def _where(path: str) -> str:
    return f"'{path}'" if path else "the top level"


def _key_path(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _is_dataclass_instance(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def plain_value(value: Any, path: str = "") -> Any:
    """``value`` with every dataclass instance in it turned into a dict and every value the
    official SDK converts (dates, UUIDs, decimals, enums, sets, bytes) converted, recursively.

    Dicts, lists and tuples are rebuilt (tuples as lists); any other value is returned as is, so
    a later JSON check names it. ``path`` is the key path of ``value`` for messages. Raises
    ``OutputNotJson`` for a circular reference.
    """
    return _plain(value, path, set())


def _scalar(value: Any) -> Any:
    """The official SDK's text form of a non-JSON scalar, or ``value`` itself when it has none."""
    # Imported here, off the common path: a worker whose outputs are plain JSON never needs them,
    # and uuid (with platform) and decimal add to every worker process's memory.
    import base64
    import decimal
    import uuid

    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (datetime.timedelta, uuid.UUID, decimal.Decimal, set, frozenset)):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(value).decode("ascii")
    return value


def _plain(value: Any, path: str, active: set[int]) -> Any:
    if value is None or isinstance(value, _SCALARS):
        return value
    if isinstance(value, enum.Enum):
        return _plain(value.value, path, active)
    is_dataclass = _is_dataclass_instance(value)
    if not is_dataclass and not isinstance(value, (dict, list, tuple)):
        return _scalar(value)
    if id(value) in active:
        raise OutputNotJson(f"output is not JSON-serialisable: value at {_where(path)} is a circular reference")
    active.add(id(value))
    try:
        if is_dataclass:
            return {
                f.name: _plain(getattr(value, f.name), _key_path(path, f.name), active)
                for f in dataclasses.fields(value)
            }
        if isinstance(value, dict):
            return {key: _plain(item, _key_path(path, key), active) for key, item in value.items()}
        return [_plain(item, f"{path}[{index}]", active) for index, item in enumerate(value)]
    finally:
        active.discard(id(value))


def _locate_non_json(value: Any, path: str, seen: set[int]) -> str | None:
    """Describe the first value in ``value`` that JSON cannot carry, with its key path."""
    where = _where(path)
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"value at {where} is {value!r}, which JSON cannot carry"
    if isinstance(value, (dict, list, tuple)):
        if id(value) in seen:
            return f"value at {where} is a circular reference"
        seen.add(id(value))
        if isinstance(value, dict):
            for key, item in value.items():
                if key is not None and not isinstance(key, _SCALARS):
                    return f"a key at {where} has type {type(key).__qualname__}"
                found = _locate_non_json(item, _key_path(path, key), seen)
                if found:
                    return found
        else:
            for index, item in enumerate(value):
                found = _locate_non_json(item, f"{path}[{index}]", seen)
                if found:
                    return found
        seen.discard(id(value))
        return None
    return f"value at {where} has type {type(value).__qualname__}"


def json_output(output: Any) -> tuple[Any, int]:
    """``(output ready to send, its size in UTF-8 JSON bytes)``.

    Returns ``output`` itself when it is JSON already; otherwise its ``plain_value``. Raises
    ``OutputNotJson`` naming the offending value's type and key path when it cannot be sent.
    """
    try:
        return output, _serialised_size(output)
    except (TypeError, ValueError):
        pass  # maybe dataclasses inside: convert, then check again
    converted = plain_value(output)
    try:
        return converted, _serialised_size(converted)
    except (TypeError, ValueError) as exc:
        detail = _locate_non_json(converted, "", set()) or str(exc)
        raise OutputNotJson(f"output is not JSON-serialisable: {detail}") from None


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
    if _is_dataclass_instance(value):
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


def result_from_error(task: Task, worker_id: str, context: Recorded, exc: BaseException) -> ResultParts:
    """FAILED (or FAILED_WITH_TERMINAL_ERROR for ``NonRetryableException``) with the traceback."""
    status = (
        TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
        if isinstance(exc, NonRetryableException)
        else TaskResultStatus.FAILED
    )
    tb = exc.__traceback__
    trace = "".join(traceback.format_exception(type(exc), exc, tb.tb_next if tb is not None else None))
    recorded_logs, recorded_output, callback = context._recorded()
    logs = [*recorded_logs, TaskExecLog.now(trace, task.task_id)]
    try:
        output, size = json_output(dict(recorded_output))
    except OutputNotJson as not_json:
        logs.append(TaskExecLog.now(f"set_output data dropped: {str(not_json)[:REASON_LIMIT]}", task.task_id))
        output, size = {}, _EMPTY_OUTPUT_SIZE
    result = _addressed(task, status, output, worker_id)
    result.reason_for_incompletion = failure_reason(exc)
    result.logs = logs
    result.callback_after_seconds = callback
    return ResultParts(result, True, exc, size)


def result_from_return(task: Task, worker_id: str, context: Recorded, value: Any) -> ResultParts:
    """The result for a function that returned ``value``."""
    recorded_logs, recorded_output, callback = context._recorded()
    if isinstance(value, TaskResult):
        result = value
        result.task_id = task.task_id
        result.workflow_instance_id = task.workflow_instance_id
        result.worker_id = worker_id
        if result.status is None:
            result.status = TaskResultStatus.COMPLETED
        result.output_data = _merge(recorded_output, _as_output(result.output_data))
        result.logs = [*recorded_logs, *(result.logs or [])]
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
                recorded_logs,
            )
        else:
            status = TaskResultStatus.COMPLETED
            output = _as_output(value)
        result = _addressed(task, status, _merge(recorded_output, output), worker_id, recorded_logs, callback)
    try:
        result.output_data, size = json_output(result.output_data)
    except OutputNotJson as not_json:
        return contract_violation(task, worker_id, str(not_json), result.logs if result.logs is not None else [])
    return ResultParts(result, False, None, size)
