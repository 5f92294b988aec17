"""Models of the Conductor task-worker protocol, shaped like the official SDK's.

Each model behaves as the official ``conductor-python`` model of the same name: keyword (or
positional, in the official order) constructor arguments that all default to ``None``; snake_case
properties backed by ``_<name>`` attributes; the class attributes ``swagger_types`` and
``attribute_map``; ``to_dict()`` with snake_case keys (nested models converted, ``None`` kept);
``to_str()``/``repr`` as a pretty-printed dict; equality by attribute values. ``TaskResult.status``
turns a status name into ``TaskResultStatus``; ``Task.status`` and ``TaskResult.status`` reject a
status the server does not know (``ValueError``).

The wire form is separate: ``to_wire()`` gives the server's JSON object (camelCase keys, ``None``
left out), ``from_dict()`` reads one (camelCase or snake_case keys). Reading is tolerant: unknown
fields are kept in ``extra`` (so a definition read and written back loses nothing), a value of an
unexpected kind is kept as it arrived, and a ``Task`` status the runtime does not know is kept as a
plain string rather than failing a whole batch.

Pure data, no I/O; safe to use from any thread or event loop. Every model pickles (worker
processes receive them over pipes).
"""

from __future__ import annotations

import enum
import operator
import pprint
import time
from collections.abc import Mapping
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

_M = TypeVar("_M", bound="_Model")


def to_camel(snake: str) -> str:
    """``workflow_instance_id`` -> ``workflowInstanceId`` (the server's JSON field names)."""
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class TaskResultStatus(str, enum.Enum):
    """Statuses a worker may report for a task (the official SDK's four)."""

    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    FAILED_WITH_TERMINAL_ERROR = "FAILED_WITH_TERMINAL_ERROR"
    IN_PROGRESS = "IN_PROGRESS"

    def __str__(self) -> str:
        return self.name


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


class _PlainProperty(property):
    """A property that only reads and writes its ``_<name>`` attribute (no checks, no conversion),
    so the constructor and the wire form may use the attribute directly."""


def _plain_property(name: str) -> property:
    private = "_" + name

    def setter(self: Any, value: Any) -> None:
        setattr(self, private, value)

    # attrgetter reads in C: the runtime reads these properties several times for every task.
    return _PlainProperty(operator.attrgetter(private), setter, doc=f"The {name} of this model.")


#: The instance state ``cls()`` leaves, per class, when it holds only immutable values (see
#: ``_Model._blank_instance``); None when it does not (``from_dict`` then calls ``cls()``).
_DEFAULT_STATE: dict[type, dict[str, Any] | None] = {}
_IMMUTABLE = (type(None), bool, int, float, str, enum.Enum)


class _Model:
    """Base of the models: properties from ``swagger_types``, official ``to_dict``/``to_str``/
    equality, and the wire form (``to_wire``/``from_dict``)."""

    swagger_types: ClassVar[dict[str, str]] = {}
    attribute_map: ClassVar[dict[str, str]] = {}
    #: Values of the backing attributes before the constructor sets anything (default: None).
    _initial: ClassVar[dict[str, Any]] = {}
    #: Fields the wire parser fills in when the server left them out.
    _wire_defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "attribute_map" not in cls.__dict__:  # the official map: snake_case -> the server's camelCase
            cls.attribute_map = {name: to_camel(name) for name in cls.swagger_types}
        for name in cls.swagger_types:
            if name not in cls.__dict__:
                setattr(cls, name, _plain_property(name))
        cls._from_wire = {**{v: k for k, v in cls.attribute_map.items()}, **{k: k for k in cls.swagger_types}}
        # Computed once per class: models are built and written for every task, and going through
        # a Python-level property per field made that several times slower.
        cls._wire_private = {key: "_" + name for key, name in cls._from_wire.items()}
        plain = {name for name in cls.swagger_types if isinstance(getattr(cls, name, None), _PlainProperty)}
        cls._plain_private = {name: "_" + name for name in plain}
        cls._blank = {"_" + name: cls._initial.get(name) for name in cls.swagger_types}
        cls._wire_default_privates = tuple(("_" + name, default) for name, default in cls._wire_defaults.items())
        cls._wire_fields = tuple(
            (name, "_" + name if name in plain else None, cls.attribute_map.get(name, to_camel(name)))
            for name in cls.swagger_types
        )

    _from_wire: ClassVar[dict[str, str]]
    _extra: dict[str, Any]  # set on every instance by ``_init`` or ``_blank_instance``
    _wire_private: ClassVar[dict[str, str]] = {}
    _plain_private: ClassVar[dict[str, str]] = {}
    _blank: ClassVar[dict[str, Any]] = {}
    _wire_default_privates: ClassVar[tuple[tuple[str, Any], ...]] = ()
    _wire_fields: ClassVar[tuple[tuple[str, str | None, str], ...]] = ()

    def _init(self, values: dict[str, Any]) -> None:
        """Set every backing attribute to its initial value, then each given non-None value through
        its property (so validation applies, as in the official constructors); a plain property
        (no checks) is skipped for its attribute, with the same effect. ``values`` may be the
        constructor's ``locals()``: the instance itself among them is skipped."""
        state = self.__dict__
        state.update(self._blank)
        state["discriminator"] = None
        state["_extra"] = {}
        private_of = self._plain_private
        for name, value in values.items():
            if value is not None and value is not self:
                private = private_of.get(name)
                if private is not None:
                    state[private] = value
                else:
                    setattr(self, name, value)

    @classmethod
    def _blank_instance(cls: type[_M]) -> _M:
        """What ``cls()`` gives, for ``from_dict``. The state ``cls()`` leaves is recorded once per
        class and copied afterwards (the constructors of the large models, ``Task`` above all, cost
        more than the parsing); a class whose default state holds a mutable value other than
        ``_extra`` is built with ``cls()`` every time, so no instance shares one."""
        try:
            state = _DEFAULT_STATE[cls]
        except KeyError:
            first = cls()
            state = dict(first.__dict__)
            shared = {k: v for k, v in state.items() if k != "_extra"}
            _DEFAULT_STATE[cls] = (
                state if all(isinstance(v, _IMMUTABLE) for v in shared.values()) and state.get("_extra") == {}
                else None
            )
            return first
        if state is None:
            return cls()
        obj = cls.__new__(cls)
        obj.__dict__.update(state)
        obj.__dict__["_extra"] = {}
        return obj

    @property
    def extra(self) -> dict[str, Any]:
        """Fields the server sent that this model does not know (sent back by ``to_wire``)."""
        return self._extra

    # -- official SDK behaviour ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The model's properties as a dict with snake_case keys (official SDK shape): nested
        models become dicts, ``None`` values are kept."""
        result: dict[str, Any] = {}
        for name in self.swagger_types:
            value = getattr(self, name)
            if isinstance(value, list):
                result[name] = [item.to_dict() if hasattr(item, "to_dict") else item for item in value]
            elif hasattr(value, "to_dict"):
                result[name] = value.to_dict()
            elif isinstance(value, dict):
                result[name] = {k: v.to_dict() if hasattr(v, "to_dict") else v for k, v in value.items()}
            else:
                result[name] = value
        return result

    def to_str(self) -> str:
        """``to_dict()`` pretty-printed."""
        return pprint.pformat(self.to_dict())

    def __repr__(self) -> str:
        return self.to_str()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, type(self)) or not isinstance(self, type(other)):
            return False
        return self.__dict__ == other.__dict__

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]

    # -- wire form -------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls: type[_M], data: Mapping[str, Any]) -> _M:
        """Build the model from the server's JSON object (camelCase keys; snake_case accepted).

        Unknown keys are kept in ``extra``; values are not validated (a status the runtime does not
        know stays as it arrived). Raises ``TypeError`` if ``data`` is not a mapping.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"{cls.__name__} expects a JSON object, got {type(data).__name__}")
        obj = cls._blank_instance()
        state = obj.__dict__
        to_private = cls._wire_private
        # What a server sends nearly always: every key known and no value null. Then the keys are
        # translated and stored in C (map, zip, update); a task has some 30 fields, and the loop
        # below costs about twice as much per task.
        privates: list[Any] = list(map(to_private.get, data))
        try:
            usual = None not in privates and None not in data.values()
        except Exception:  # a value whose comparison with None raises: not from JSON; the loop takes it
            usual = False
        if usual:
            state.update(zip(privates, data.values()))
        else:
            extra = state["_extra"]
            for key, value in data.items():
                private = to_private.get(key) if isinstance(key, str) else None
                if private is None:
                    extra[key] = value
                elif value is not None:
                    state[private] = value
        for private, default in cls._wire_default_privates:
            if state.get(private) is None:
                state[private] = default() if callable(default) else default
        obj._normalise()
        return obj

    def _normalise(self) -> None:
        """Hook for subclasses to coerce fields after parsing (never raises)."""

    def to_wire(self) -> dict[str, Any]:
        """The server's JSON object: camelCase keys, ``None`` values left out, extras kept."""
        out: dict[str, Any] = dict(self._extra)
        state = self.__dict__
        for name, private, key in self._wire_fields:
            value = state.get(private) if private is not None else getattr(self, name)
            if value is None:
                continue
            out[key] = value if type(value) in _AS_IS else _wire_value(value)  # most values need nothing
        return out


#: Types whose values go on the wire as they are (exact types: a str enum member is converted).
_AS_IS = frozenset({str, int, float, bool, dict})


def _wire_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, _Model):
        return value.to_wire()
    if isinstance(value, list):
        return [_wire_value(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------------


class TaskExecLog(_Model):
    """One task log line; ``created_time`` is epoch milliseconds."""

    swagger_types: ClassVar[dict[str, str]] = {"log": "str", "task_id": "str", "created_time": "int"}

    log: str | None
    task_id: str | None
    created_time: int | None

    def __init__(self, log: str | None = None, task_id: str | None = None, created_time: int | None = None) -> None:
        self._init({"log": log, "task_id": task_id, "created_time": created_time})

    @classmethod
    def now(cls, log: str, task_id: str | None = None) -> TaskExecLog:
        """A log line stamped with the current time in milliseconds."""
        return cls(log=log, task_id=task_id, created_time=int(time.time() * 1000))


# --------------------------------------------------------------------------------------------------

_RESULT_TYPES: dict[str, str] = {
    "workflow_instance_id": "str",
    "task_id": "str",
    "reason_for_incompletion": "str",
    "callback_after_seconds": "int",
    "worker_id": "str",
    "status": "str",
    "output_data": "dict(str, object)",
    "logs": "list[TaskExecLog]",
    "external_output_payload_storage_path": "str",
    "sub_workflow_id": "str",
    "extend_lease": "bool",
}


class TaskResult(_Model):
    """What a worker reports for a task (``POST /tasks`` and ``/tasks/update-v2``).

    ``status`` accepts a ``TaskResultStatus`` or its name and always holds the enum member; any
    other value raises ``ValueError``. ``reason_for_incompletion`` is cut to the server's 500
    characters on the wire.
    """

    swagger_types: ClassVar[dict[str, str]] = _RESULT_TYPES
    _initial: ClassVar[dict[str, Any]] = {"extend_lease": False}

    workflow_instance_id: str | None
    task_id: str | None
    reason_for_incompletion: str | None
    callback_after_seconds: int | None
    worker_id: str | None
    output_data: Any
    logs: list[TaskExecLog] | None
    external_output_payload_storage_path: str | None
    sub_workflow_id: str | None
    extend_lease: bool

    #: The server truncates ``reasonForIncompletion`` to this many characters.
    REASON_LIMIT: ClassVar[int] = 500

    def __init__(
        self,
        workflow_instance_id: str | None = None,
        task_id: str | None = None,
        reason_for_incompletion: str | None = None,
        callback_after_seconds: int | None = None,
        worker_id: str | None = None,
        status: TaskResultStatus | str | None = None,
        output_data: Any = None,
        logs: list[TaskExecLog] | None = None,
        external_output_payload_storage_path: str | None = None,
        sub_workflow_id: str | None = None,
        extend_lease: bool = False,
    ) -> None:
        self._init(locals())

    @property
    def status(self) -> TaskResultStatus | None:
        """The status as a ``TaskResultStatus`` (assign the enum or its name)."""
        return self._status  # type: ignore[no-any-return]

    @status.setter
    def status(self, status: TaskResultStatus | str) -> None:
        if isinstance(status, TaskResultStatus):  # the runtime's case, set for every task
            self._status = status
            return
        allowed = [member.name for member in TaskResultStatus]
        if status not in allowed:
            raise ValueError(f"Invalid value for `status` ({status}), must be one of {allowed}")
        self._status = TaskResultStatus[str(status)]

    def _normalise(self) -> None:
        status = self._status
        if isinstance(status, str) and status in TaskResultStatus.__members__:
            self._status = TaskResultStatus[status]
        if isinstance(self.logs, list):
            self.logs = [TaskExecLog.from_dict(entry) if isinstance(entry, Mapping) else entry for entry in self.logs]

    def add_output_data(self, key: str, value: Any) -> TaskResult:
        """Set one key of the output (creating the output dict if needed); returns ``self``."""
        if self.output_data is None:
            self.output_data = {}
        self.output_data[key] = value
        return self

    def log(self, log: str) -> TaskResult:
        """Append a task log line (stamped now, in milliseconds); returns ``self``."""
        if self.logs is None:
            self.logs = []
        self.logs.append(TaskExecLog.now(log, self.task_id))
        return self

    @staticmethod
    def complete() -> TaskResult:
        """A new result with status COMPLETED."""
        return TaskResult.new_task_result("COMPLETED")

    @staticmethod
    def failed(failure_reason: str | None = None) -> TaskResult:
        """A new result with status FAILED and ``failure_reason`` as its reason."""
        result = TaskResult.new_task_result("FAILED")
        result.reason_for_incompletion = failure_reason
        return result

    @staticmethod
    def in_progress() -> TaskResult:
        """A new result with status IN_PROGRESS."""
        return TaskResult.new_task_result("IN_PROGRESS")

    @staticmethod
    def new_task_result(status: TaskResultStatus | str) -> TaskResult:
        """A new result with ``status`` (a ``TaskResultStatus`` or its name)."""
        result = TaskResult()
        result.status = status
        return result

    def to_wire(self) -> dict[str, Any]:
        out = super().to_wire()
        reason = out.get("reasonForIncompletion")
        if isinstance(reason, str) and len(reason) > self.REASON_LIMIT:
            out["reasonForIncompletion"] = reason[: self.REASON_LIMIT]
        if not out.get("logs"):
            out.pop("logs", None)
        return out


# --------------------------------------------------------------------------------------------------

_TASK_TYPES: dict[str, str] = {
    "task_type": "str",
    "status": "str",
    "input_data": "dict(str, object)",
    "reference_task_name": "str",
    "retry_count": "int",
    "seq": "int",
    "correlation_id": "str",
    "poll_count": "int",
    "task_def_name": "str",
    "scheduled_time": "int",
    "start_time": "int",
    "end_time": "int",
    "update_time": "int",
    "start_delay_in_seconds": "int",
    "retried_task_id": "str",
    "retried": "bool",
    "executed": "bool",
    "callback_from_worker": "bool",
    "response_timeout_seconds": "int",
    "workflow_instance_id": "str",
    "workflow_type": "str",
    "task_id": "str",
    "reason_for_incompletion": "str",
    "callback_after_seconds": "int",
    "worker_id": "str",
    "output_data": "dict(str, object)",
    "workflow_task": "WorkflowTask",
    "domain": "str",
    "rate_limit_per_frequency": "int",
    "rate_limit_frequency_in_seconds": "int",
    "external_input_payload_storage_path": "str",
    "external_output_payload_storage_path": "str",
    "workflow_priority": "int",
    "execution_name_space": "str",
    "isolation_group_id": "str",
    "iteration": "int",
    "sub_workflow_id": "str",
    "subworkflow_changed": "bool",
    "parent_task_id": "str",
    "first_start_time": "int",
    "runtime_metadata": "dict(str, str)",
    "loop_over_task": "bool",
    "task_definition": "TaskDef",
    "queue_wait_time": "int",
}


class Task(_Model):
    """A task as the server hands it to a worker (``GET /tasks/poll/...``).

    ``status`` is the server's string (assigning one the server does not define raises
    ``ValueError``); ``input_data`` is whatever JSON the server sent (normally an object). Missing
    ids stay ``None``: the runtime checks them before executing.
    """

    swagger_types: ClassVar[dict[str, str]] = _TASK_TYPES
    _wire_defaults: ClassVar[dict[str, Any]] = {"retry_count": 0, "poll_count": 0, "input_data": dict}

    task_type: str | None
    input_data: Any
    reference_task_name: str | None
    retry_count: int | None
    seq: int | None
    correlation_id: str | None
    poll_count: int | None
    task_def_name: str | None
    scheduled_time: int | None
    start_time: int | None
    end_time: int | None
    update_time: int | None
    start_delay_in_seconds: int | None
    retried_task_id: str | None
    retried: bool | None
    executed: bool | None
    callback_from_worker: bool | None
    response_timeout_seconds: int | None
    workflow_instance_id: str | None
    workflow_type: str | None
    task_id: str | None
    reason_for_incompletion: str | None
    callback_after_seconds: int | None
    worker_id: str | None
    output_data: Any
    workflow_task: Any
    domain: str | None
    rate_limit_per_frequency: int | None
    rate_limit_frequency_in_seconds: int | None
    external_input_payload_storage_path: str | None
    external_output_payload_storage_path: str | None
    workflow_priority: int | None
    execution_name_space: str | None
    isolation_group_id: str | None
    iteration: int | None
    sub_workflow_id: str | None
    subworkflow_changed: bool | None
    parent_task_id: str | None
    first_start_time: int | None
    runtime_metadata: Any
    loop_over_task: bool | None
    task_definition: Any
    queue_wait_time: int | None

    def __init__(
        self,
        task_type: str | None = None,
        status: str | None = None,
        input_data: Any = None,
        reference_task_name: str | None = None,
        retry_count: int | None = None,
        seq: int | None = None,
        correlation_id: str | None = None,
        poll_count: int | None = None,
        task_def_name: str | None = None,
        scheduled_time: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        update_time: int | None = None,
        start_delay_in_seconds: int | None = None,
        retried_task_id: str | None = None,
        retried: bool | None = None,
        executed: bool | None = None,
        callback_from_worker: bool | None = None,
        response_timeout_seconds: int | None = None,
        workflow_instance_id: str | None = None,
        workflow_type: str | None = None,
        task_id: str | None = None,
        reason_for_incompletion: str | None = None,
        callback_after_seconds: int | None = None,
        worker_id: str | None = None,
        output_data: Any = None,
        workflow_task: Any = None,
        domain: str | None = None,
        rate_limit_per_frequency: int | None = None,
        rate_limit_frequency_in_seconds: int | None = None,
        external_input_payload_storage_path: str | None = None,
        external_output_payload_storage_path: str | None = None,
        workflow_priority: int | None = None,
        execution_name_space: str | None = None,
        isolation_group_id: str | None = None,
        iteration: int | None = None,
        sub_workflow_id: str | None = None,
        subworkflow_changed: bool | None = None,
        loop_over_task: bool | None = None,
        task_definition: Any = None,
        queue_wait_time: int | None = None,
        parent_task_id: str | None = None,
        first_start_time: int | None = None,
        runtime_metadata: Any = None,
    ) -> None:
        self._init(locals())

    @property
    def status(self) -> str | None:
        """The server's status string (one of ``TaskStatus``)."""
        return self._status  # type: ignore[no-any-return]

    @status.setter
    def status(self, status: str) -> None:
        allowed = [member.value for member in TaskStatus]
        if status not in allowed:
            raise ValueError(f"Invalid value for `status` ({status}), must be one of {allowed}")
        self._status = status

    def _normalise(self) -> None:
        state = self.__dict__  # the three are plain properties: their attributes directly
        state["_retry_count"] = _as_int(state["_retry_count"], 0)
        state["_poll_count"] = _as_int(state["_poll_count"], 0)
        if state["_response_timeout_seconds"] is not None:
            state["_response_timeout_seconds"] = _as_int(state["_response_timeout_seconds"], None)

    def to_task_result(self, status: TaskResultStatus | str = TaskResultStatus.COMPLETED) -> TaskResult:
        """A ``TaskResult`` addressed to this task (its ids and ``worker_id``) with ``status``."""
        return TaskResult(
            task_id=self.task_id,
            workflow_instance_id=self.workflow_instance_id,
            worker_id=self.worker_id,
            status=status,
        )

    def to_result(
        self,
        status: TaskResultStatus = TaskResultStatus.COMPLETED,
        output_data: dict[str, Any] | None = None,
        worker_id: str | None = None,
    ) -> TaskResult:
        """A ``TaskResult`` addressed to this task from ``worker_id`` with ``output_data`` (``{}``
        when None) and an empty log list: the form the runtime builds results in."""
        return TaskResult(
            task_id=self.task_id,
            workflow_instance_id=self.workflow_instance_id,
            worker_id=worker_id,
            status=status,
            output_data={} if output_data is None else output_data,
            logs=[],
        )


def _as_int(value: Any, default: Any) -> Any:
    if type(value) is int:  # nearly always
        return value
    if value is None:
        return default
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


# --------------------------------------------------------------------------------------------------

_TASK_DEF_TYPES: dict[str, str] = {
    "owner_app": "str",
    "create_time": "int",
    "update_time": "int",
    "created_by": "str",
    "updated_by": "str",
    "name": "str",
    "description": "str",
    "retry_count": "int",
    "timeout_seconds": "int",
    "input_keys": "list[str]",
    "output_keys": "list[str]",
    "timeout_policy": "str",
    "retry_logic": "str",
    "retry_delay_seconds": "int",
    "response_timeout_seconds": "int",
    "concurrent_exec_limit": "int",
    "input_template": "dict(str, object)",
    "rate_limit_per_frequency": "int",
    "rate_limit_frequency_in_seconds": "int",
    "isolation_group_id": "str",
    "execution_name_space": "str",
    "owner_email": "str",
    "poll_timeout_seconds": "int",
    "backoff_scale_factor": "int",
    "input_schema": "SchemaDef",
    "output_schema": "SchemaDef",
    "enforce_schema": "bool",
    "base_type": "str",
    "total_timeout_seconds": "int",
    "runtime_metadata": "list[str]",
}


class TaskDef(_Model):
    """A task definition. Fields left ``None`` are not sent, so the server applies its own
    defaults (``retryCount`` 3, ``responseTimeoutSeconds`` 3600, ...), as with the official SDK."""

    swagger_types: ClassVar[dict[str, str]] = _TASK_DEF_TYPES
    _initial: ClassVar[dict[str, Any]] = {"enforce_schema": False}

    owner_app: str | None
    create_time: int | None
    update_time: int | None
    created_by: str | None
    updated_by: str | None
    name: str | None
    description: str | None
    retry_count: int | None
    timeout_seconds: int | None
    input_keys: list[str] | None
    output_keys: list[str] | None
    retry_delay_seconds: int | None
    response_timeout_seconds: int | None
    concurrent_exec_limit: int | None
    input_template: dict[str, Any] | None
    rate_limit_per_frequency: int | None
    rate_limit_frequency_in_seconds: int | None
    isolation_group_id: str | None
    execution_name_space: str | None
    owner_email: str | None
    poll_timeout_seconds: int | None
    backoff_scale_factor: int | None
    input_schema: Any
    output_schema: Any
    enforce_schema: bool
    base_type: str | None
    total_timeout_seconds: int | None
    runtime_metadata: Any

    def __init__(
        self,
        owner_app: str | None = None,
        create_time: int | None = None,
        update_time: int | None = None,
        created_by: str | None = None,
        updated_by: str | None = None,
        name: str | None = None,
        description: str | None = None,
        retry_count: int | None = None,
        timeout_seconds: int | None = None,
        input_keys: list[str] | None = None,
        output_keys: list[str] | None = None,
        timeout_policy: str | None = None,
        retry_logic: str | None = None,
        retry_delay_seconds: int | None = None,
        response_timeout_seconds: int | None = None,
        concurrent_exec_limit: int | None = None,
        input_template: dict[str, Any] | None = None,
        rate_limit_per_frequency: int | None = None,
        rate_limit_frequency_in_seconds: int | None = None,
        isolation_group_id: str | None = None,
        execution_name_space: str | None = None,
        owner_email: str | None = None,
        poll_timeout_seconds: int | None = None,
        backoff_scale_factor: int | None = None,
        input_schema: Any = None,
        output_schema: Any = None,
        enforce_schema: bool = False,
        base_type: str | None = None,
        total_timeout_seconds: int | None = None,
        runtime_metadata: Any = None,
    ) -> None:
        self._init(locals())

    @property
    def timeout_policy(self) -> str | None:
        """``RETRY``, ``TIME_OUT_WF`` or ``ALERT_ONLY``; another value assigned in code raises
        ``ValueError``, as in the official model (one read from the server is kept as sent)."""
        return self._timeout_policy  # type: ignore[no-any-return]

    @timeout_policy.setter
    def timeout_policy(self, value: str | None) -> None:
        self._timeout_policy = _checked_choice("timeout_policy", value, _TIMEOUT_POLICIES)

    @property
    def retry_logic(self) -> str | None:
        """``FIXED``, ``EXPONENTIAL_BACKOFF`` or ``LINEAR_BACKOFF``; another value assigned in code
        raises ``ValueError``, as in the official model (one read from the server is kept as sent)."""
        return self._retry_logic  # type: ignore[no-any-return]

    @retry_logic.setter
    def retry_logic(self, value: str | None) -> None:
        self._retry_logic = _checked_choice("retry_logic", value, _RETRY_LOGICS)


_TIMEOUT_POLICIES = ("RETRY", "TIME_OUT_WF", "ALERT_ONLY")
_RETRY_LOGICS = ("FIXED", "EXPONENTIAL_BACKOFF", "LINEAR_BACKOFF")


def _checked_choice(field: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    """``value`` if it is one of ``allowed`` (or None, which clears the field); else ``ValueError``
    with the official message."""
    if value is not None and value not in allowed:
        raise ValueError(f"Invalid value for `{field}` ({value}), must be one of {list(allowed)}")
    return value
