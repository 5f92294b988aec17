"""Wire models of the Conductor task-worker protocol.

Attributes are snake_case; on the wire every field uses the server's camelCase name, derived
mechanically (``task_id`` <-> ``taskId``). Parsing is tolerant: unknown fields from the server are
kept in ``extra`` (so a definition read and written back loses nothing) and a value of an
unexpected kind is kept as it arrived rather than failing the whole document. ``status`` of a
``Task`` stays a plain string for the same reason: a status the runtime does not know must not make
the rest of a batch disappear.

Pure data, no I/O; safe to use from any thread or event loop. Every model pickles (children receive
them over pipes).
"""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

__all__ = [
    "Task",
    "TaskDef",
    "TaskExecLog",
    "TaskResult",
    "TaskResultStatus",
    "TaskStatus",
    "to_camel",
]

_M = TypeVar("_M", bound="_WireModel")


def to_camel(snake: str) -> str:
    """``workflow_instance_id`` -> ``workflowInstanceId`` (the server's JSON field names)."""
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class TaskResultStatus(str, enum.Enum):
    """Statuses a worker may report for a task (the server accepts exactly these)."""

    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    FAILED_WITH_TERMINAL_ERROR = "FAILED_WITH_TERMINAL_ERROR"
    IN_PROGRESS = "IN_PROGRESS"
    CANCELED = "CANCELED"

    def __str__(self) -> str:
        return self.value


class TaskStatus(str, enum.Enum):
    """Statuses the server gives a task. ``Task.status`` is a ``str``; compare with these values."""

    IN_PROGRESS = "IN_PROGRESS"
    CANCELED = "CANCELED"
    FAILED = "FAILED"
    FAILED_WITH_TERMINAL_ERROR = "FAILED_WITH_TERMINAL_ERROR"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    SCHEDULED = "SCHEDULED"
    TIMED_OUT = "TIMED_OUT"
    SKIPPED = "SKIPPED"

    def __str__(self) -> str:
        return self.value


class _WireModel:
    """Mixin: JSON <-> dataclass with camelCase names; unknown keys go to ``extra``."""

    #: Per-class cache (each subclass gets its own entry in its ``__dict__``).
    _wire_cache: ClassVar[tuple[dict[str, str], dict[str, str]]]

    @classmethod
    def _wire_names(cls) -> tuple[dict[str, str], dict[str, str]]:
        """Attribute -> JSON name and the reverse, computed once per class."""
        cached: tuple[dict[str, str], dict[str, str]] | None = cls.__dict__.get("_wire_cache")
        if cached is None:
            to_wire = {
                f.name: to_camel(f.name) for f in dataclasses.fields(cls) if f.name != "extra"  # type: ignore[arg-type]
            }
            cached = (to_wire, {v: k for k, v in to_wire.items()})
            cls._wire_cache = cached
        return cached

    @classmethod
    def from_dict(cls: type[_M], data: Mapping[str, Any]) -> _M:
        """Build the model from the server's JSON object; unknown keys are kept in ``extra``.

        Raises ``TypeError`` if ``data`` is not a mapping.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"{cls.__name__} expects a JSON object, got {type(data).__name__}")
        _, from_wire = cls._wire_names()
        known: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            name = from_wire.get(key)
            if name is None:
                extra[key] = value
            elif value is not None:
                known[name] = value
        obj = cls(**known)
        if extra:
            obj.extra.update(extra)  # type: ignore[attr-defined]
        obj._normalise()
        return obj

    def _normalise(self) -> None:
        """Hook for subclasses to coerce fields after parsing (never raises)."""

    def to_dict(self) -> dict[str, Any]:
        """The server's JSON object: camelCase keys, ``None`` values omitted, extras kept."""
        to_wire, _ = self._wire_names()
        out: dict[str, Any] = dict(self.extra)  # type: ignore[attr-defined]
        for name, wire in to_wire.items():
            value = getattr(self, name)
            if value is None:
                continue
            out[wire] = _jsonable(value)
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, _WireModel):
        return value.to_dict()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


@dataclass(eq=True)
class TaskExecLog(_WireModel):
    """One task log line; ``created_time`` is epoch milliseconds."""

    log: str | None = None
    task_id: str | None = None
    created_time: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def now(cls, log: str, task_id: str | None = None) -> TaskExecLog:
        """A log line stamped with the current time in milliseconds."""
        return cls(log=log, task_id=task_id, created_time=int(time.time() * 1000))


@dataclass(eq=True)
class Task(_WireModel):
    """A task as the server hands it to a worker (``GET /tasks/poll/...``).

    ``status`` is the server's string; ``input_data`` is whatever JSON the server sent (normally an
    object). Missing ids stay ``None``: the runtime checks them before executing.
    """

    task_type: str | None = None
    status: str | None = None
    input_data: Any = field(default_factory=dict)
    reference_task_name: str | None = None
    retry_count: int = 0
    seq: int | None = None
    correlation_id: str | None = None
    poll_count: int = 0
    task_def_name: str | None = None
    scheduled_time: int | None = None
    start_time: int | None = None
    end_time: int | None = None
    update_time: int | None = None
    start_delay_in_seconds: int | None = None
    retried_task_id: str | None = None
    retried: bool | None = None
    executed: bool | None = None
    callback_from_worker: bool | None = None
    response_timeout_seconds: int | None = None
    workflow_instance_id: str | None = None
    workflow_type: str | None = None
    task_id: str | None = None
    reason_for_incompletion: str | None = None
    callback_after_seconds: int | None = None
    worker_id: str | None = None
    output_data: Any = field(default_factory=dict)
    workflow_task: dict[str, Any] | None = None
    domain: str | None = None
    rate_limit_per_frequency: int | None = None
    rate_limit_frequency_in_seconds: int | None = None
    external_input_payload_storage_path: str | None = None
    external_output_payload_storage_path: str | None = None
    workflow_priority: int | None = None
    execution_name_space: str | None = None
    isolation_group_id: str | None = None
    iteration: int | None = None
    sub_workflow_id: str | None = None
    subworkflow_changed: bool | None = None
    queue_wait_time: int | None = None
    task_definition: dict[str, Any] | None = None
    loop_over_task: bool | None = None
    first_start_time: int | None = None
    parent_task_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def _normalise(self) -> None:
        self.retry_count = _as_int(self.retry_count, 0)
        self.poll_count = _as_int(self.poll_count, 0)
        if self.response_timeout_seconds is not None:
            self.response_timeout_seconds = _as_int(self.response_timeout_seconds, None)

    def to_result(
        self,
        status: TaskResultStatus = TaskResultStatus.COMPLETED,
        output_data: dict[str, Any] | None = None,
        worker_id: str | None = None,
    ) -> TaskResult:
        """A ``TaskResult`` addressed to this task."""
        return TaskResult(
            task_id=self.task_id,
            workflow_instance_id=self.workflow_instance_id,
            worker_id=worker_id,
            status=status,
            output_data={} if output_data is None else output_data,
        )


def _as_int(value: Any, default: Any) -> Any:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return default
    return default


@dataclass(eq=True)
class TaskResult(_WireModel):
    """What a worker reports for a task (``POST /tasks`` and ``/tasks/update-v2``).

    ``reason_for_incompletion`` is cut to the server's 500 characters when serialised.
    """

    task_id: str | None = None
    workflow_instance_id: str | None = None
    worker_id: str | None = None
    status: TaskResultStatus | None = None
    output_data: dict[str, Any] = field(default_factory=dict)
    reason_for_incompletion: str | None = None
    callback_after_seconds: int | None = None
    logs: list[TaskExecLog] = field(default_factory=list)
    extend_lease: bool = False
    external_output_payload_storage_path: str | None = None
    sub_workflow_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    #: The server truncates ``reasonForIncompletion`` to this many characters.
    REASON_LIMIT: ClassVar[int] = 500

    def __post_init__(self) -> None:
        if isinstance(self.status, str) and not isinstance(self.status, TaskResultStatus):
            self.status = TaskResultStatus(self.status)

    def _normalise(self) -> None:
        self.logs = [
            TaskExecLog.from_dict(entry) if isinstance(entry, Mapping) else entry for entry in self.logs
        ]

    def add_output_data(self, key: str, value: Any) -> None:
        """Set one key of the output (official SDK name)."""
        self.output_data[key] = value

    def log(self, message: str) -> None:
        """Append a task log line stamped now (milliseconds)."""
        self.logs.append(TaskExecLog.now(message, self.task_id))

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        reason = out.get("reasonForIncompletion")
        if isinstance(reason, str) and len(reason) > self.REASON_LIMIT:
            out["reasonForIncompletion"] = reason[: self.REASON_LIMIT]
        if not out.get("logs"):
            out.pop("logs", None)
        return out


@dataclass(eq=True)
class TaskDef(_WireModel):
    """A task definition, with the server's defaults (``TaskDef.java``).

    Fields the server leaves null (``concurrentExecLimit``, the rate limits, ``pollTimeoutSeconds``...)
    stay ``None`` and are left out of the JSON, so the server applies its own meaning of "unset".
    """

    name: str | None = None
    description: str | None = None
    retry_count: int = 3
    timeout_seconds: int = 0
    input_keys: list[str] = field(default_factory=list)
    output_keys: list[str] = field(default_factory=list)
    timeout_policy: str = "TIME_OUT_WF"
    retry_logic: str = "FIXED"
    retry_delay_seconds: int = 60
    response_timeout_seconds: int = 3600
    concurrent_exec_limit: int | None = None
    input_template: dict[str, Any] = field(default_factory=dict)
    rate_limit_per_frequency: int | None = None
    rate_limit_frequency_in_seconds: int | None = None
    isolation_group_id: str | None = None
    execution_name_space: str | None = None
    owner_email: str | None = None
    poll_timeout_seconds: int | None = None
    backoff_scale_factor: int = 1
    max_retry_delay_seconds: int = 0
    backoff_jitter_ms: int = 0
    total_timeout_seconds: int = 0
    base_type: str | None = None
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    enforce_schema: bool = False
    task_status_listener_enabled: bool = True
    owner_app: str | None = None
    create_time: int | None = None
    update_time: int | None = None
    created_by: str | None = None
    updated_by: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
