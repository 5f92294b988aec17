"""Models of workflow definitions and executions, with the official SDK's names and attributes.

``StartWorkflowRequest``, ``WorkflowDef``, ``WorkflowTask``, ``Workflow`` and ``WorkflowRun`` behave like the
official models a worker-side user touches: snake_case attributes and constructor keywords,
``to_dict()`` with snake_case keys, ``repr``/``to_str`` as a pretty-printed dict, equality by value.
On the wire (``to_wire``/``from_dict``) they use the server's camelCase names; ``None`` values are
not sent. Lists of tasks may hold models or plain JSON objects (as the official SDK accepts, e.g.
tasks loaded from a workflow JSON file); plain objects are sent as they are.

Pure data, no I/O; safe to use from any thread or event loop.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, ClassVar

from ._models import Task, TaskDef, _Model

__all__ = ["IdempotencyStrategy", "StartWorkflowRequest", "Workflow", "WorkflowDef", "WorkflowRun", "WorkflowTask"]

#: Workflow statuses, as the official ``Workflow`` groups them.
TERMINAL_STATUSES = ("COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED")
SUCCESSFUL_STATUSES = ("PAUSED", "COMPLETED")
RUNNING_STATUSES = ("RUNNING", "PAUSED")


def _json(value: Any) -> Any:
    """``value`` as JSON data: models in their wire form, also inside lists and dicts."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, _Model):
        return value.to_wire()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _json(item) for key, item in value.items()}
    return value


class _WorkflowModel(_Model):
    """The wire form of these models also converts models nested in dicts (``decision_cases``)."""

    def to_wire(self) -> dict[str, Any]:
        """The server's JSON object: camelCase keys, ``None`` values left out, extras kept."""
        out: dict[str, Any] = dict(self.extra)
        for name in self.swagger_types:
            value = getattr(self, name)
            if value is not None:
                out[self.attribute_map[name]] = _json(value)
        return out


class IdempotencyStrategy(str, enum.Enum):
    """What the server does with a start request whose ``idempotency_key`` it has seen."""

    FAIL = "FAIL"
    RETURN_EXISTING = "RETURN_EXISTING"

    def __str__(self) -> str:
        return self.value


_START_TYPES = {
    "name": "str", "version": "int", "correlation_id": "str", "input": "dict(str, object)",
    "task_to_domain": "dict(str, str)", "workflow_def": "WorkflowDef", "external_input_payload_storage_path": "str",
    "priority": "int", "created_by": "str", "idempotency_key": "str", "idempotency_strategy": "str",
}


class StartWorkflowRequest(_WorkflowModel):
    """A request to start a workflow (``POST /workflow``).

    ``name`` is required by the server; ``version`` None starts the latest version;
    ``task_to_domain`` maps task names (or ``"*"``) to the domain their tasks are queued in.
    ``idempotency_strategy`` is sent only with an ``idempotency_key``.
    """

    swagger_types: ClassVar[dict[str, str]] = _START_TYPES
    _initial: ClassVar[dict[str, Any]] = {"idempotency_strategy": IdempotencyStrategy.FAIL}

    name: str | None
    version: int | None
    correlation_id: str | None
    input: dict[str, Any] | None
    task_to_domain: dict[str, str] | None
    workflow_def: WorkflowDef | None
    external_input_payload_storage_path: str | None
    priority: int | None
    created_by: str | None
    idempotency_key: str | None
    idempotency_strategy: IdempotencyStrategy

    def __init__(
        self,
        name: str | None = None,
        version: int | None = None,
        correlation_id: str | None = None,
        input: dict[str, Any] | None = None,
        task_to_domain: dict[str, str] | None = None,
        workflow_def: WorkflowDef | None = None,
        external_input_payload_storage_path: str | None = None,
        priority: int | None = None,
        created_by: str | None = None,
        idempotency_key: str | None = None,
        idempotency_strategy: IdempotencyStrategy | str = IdempotencyStrategy.FAIL,
    ) -> None:
        self._init({**locals(), "idempotency_strategy": IdempotencyStrategy(idempotency_strategy)})

    def to_wire(self) -> dict[str, Any]:
        out = super().to_wire()
        if self.idempotency_key is None:
            out.pop("idempotencyStrategy", None)
        return out


_WORKFLOW_TASK_FIELDS = [
    "name", "task_reference_name", "description", "input_parameters", "type", "dynamic_task_name_param",
    "case_value_param", "case_expression", "script_expression", "decision_cases", "dynamic_fork_join_tasks_param",
    "dynamic_fork_tasks_param", "dynamic_fork_tasks_input_param_name", "default_case", "fork_tasks", "start_delay",
    "sub_workflow_param", "join_on", "sink", "optional", "task_definition", "rate_limited",
    "default_exclusive_join_task", "async_complete", "loop_condition", "loop_over", "retry_count", "evaluator_type",
    "expression", "workflow_task_type", "on_state_change", "cache_config", "join_status", "permissive",
]
_WORKFLOW_TASK_TYPES = dict.fromkeys(_WORKFLOW_TASK_FIELDS, "object")


class WorkflowTask(_WorkflowModel):
    """One task of a workflow definition (``name``, ``task_reference_name``, ``type``,
    ``input_parameters``...; every official attribute is accepted as a keyword)."""

    swagger_types: ClassVar[dict[str, str]] = _WORKFLOW_TASK_TYPES

    name: str | None
    task_reference_name: str | None
    type: str | None
    input_parameters: dict[str, Any] | None
    task_definition: TaskDef | None

    def __init__(self, name: str | None = None, task_reference_name: str | None = None, **attributes: Any) -> None:
        unknown = sorted(set(attributes) - set(_WORKFLOW_TASK_FIELDS))
        if unknown:
            raise TypeError(f"WorkflowTask() got unexpected keyword argument(s): {', '.join(unknown)}")
        self._init({"name": name, "task_reference_name": task_reference_name, **attributes})

    def _normalise(self) -> None:
        if isinstance(self.task_definition, Mapping):
            self.task_definition = TaskDef.from_dict(self.task_definition)


_WORKFLOW_DEF_TYPES = {
    "owner_app": "str", "create_time": "int", "update_time": "int", "created_by": "str", "updated_by": "str",
    "name": "str", "description": "str", "version": "int", "tasks": "list[WorkflowTask]",
    "input_parameters": "list[str]", "output_parameters": "dict(str, object)", "failure_workflow": "str",
    "schema_version": "int", "restartable": "bool", "workflow_status_listener_enabled": "bool",
    "workflow_status_listener_sink": "str", "owner_email": "str", "timeout_policy": "str", "timeout_seconds": "int",
    "variables": "dict(str, object)", "input_template": "dict(str, object)", "input_schema": "SchemaDef",
    "output_schema": "SchemaDef", "enforce_schema": "bool", "metadata": "dict(str, object)",
    "rate_limit_config": "RateLimit",
}


class WorkflowDef(_WorkflowModel):
    """A workflow definition (``POST /metadata/workflow``).

    ``tasks`` holds ``WorkflowTask`` objects or plain JSON objects in the server's form. A
    definition read from the server has ``WorkflowTask`` objects.
    """

    swagger_types: ClassVar[dict[str, str]] = _WORKFLOW_DEF_TYPES
    _initial: ClassVar[dict[str, Any]] = {"enforce_schema": False}

    owner_app: str | None
    create_time: int | None
    update_time: int | None
    created_by: str | None
    updated_by: str | None
    name: str | None
    description: str | None
    version: int | None
    tasks: list[WorkflowTask | dict[str, Any]]
    input_parameters: list[str] | None
    output_parameters: dict[str, Any] | None
    failure_workflow: str | None
    schema_version: int | None
    restartable: bool | None
    workflow_status_listener_enabled: bool | None
    workflow_status_listener_sink: str | None
    owner_email: str | None
    timeout_policy: str | None
    timeout_seconds: int | None
    variables: dict[str, Any] | None
    input_template: dict[str, Any] | None
    input_schema: Any
    output_schema: Any
    enforce_schema: bool
    metadata: dict[str, Any] | None
    rate_limit_config: Any

    def __init__(
        self,
        owner_app: str | None = None,
        create_time: int | None = None,
        update_time: int | None = None,
        created_by: str | None = None,
        updated_by: str | None = None,
        name: str | None = None,
        description: str | None = None,
        version: int | None = None,
        tasks: list[WorkflowTask | dict[str, Any]] | None = None,
        input_parameters: list[str] | None = None,
        output_parameters: dict[str, Any] | None = None,
        failure_workflow: str | None = None,
        schema_version: int | None = None,
        restartable: bool | None = None,
        workflow_status_listener_enabled: bool | None = None,
        workflow_status_listener_sink: str | None = None,
        owner_email: str | None = None,
        timeout_policy: str | None = None,
        timeout_seconds: int | None = None,
        variables: dict[str, Any] | None = None,
        input_template: dict[str, Any] | None = None,
        input_schema: Any = None,
        output_schema: Any = None,
        enforce_schema: bool = False,
        metadata: dict[str, Any] | None = None,
        rate_limit_config: Any = None,
    ) -> None:
        self._init({
            **locals(), "tasks": list(tasks or []),
            "output_parameters": {} if output_parameters is None else output_parameters,
        })

    def _normalise(self) -> None:
        tasks = self.tasks if isinstance(self.tasks, list) else []
        self.tasks = [WorkflowTask.from_dict(t) if isinstance(t, Mapping) else t for t in tasks]


_WORKFLOW_TYPES = {
    "owner_app": "str", "create_time": "int", "update_time": "int", "created_by": "str", "updated_by": "str",
    "status": "str", "end_time": "int", "workflow_id": "str", "parent_workflow_id": "str",
    "parent_workflow_task_id": "str", "tasks": "list[Task]", "input": "dict(str, object)",
    "output": "dict(str, object)", "correlation_id": "str", "re_run_from_workflow_id": "str",
    "reason_for_incompletion": "str", "event": "str", "task_to_domain": "dict(str, str)",
    "failed_reference_task_names": "set[str]", "workflow_definition": "WorkflowDef",
    "external_input_payload_storage_path": "str", "external_output_payload_storage_path": "str", "priority": "int",
    "variables": "dict(str, object)", "last_retried_time": "int", "failed_task_names": "set[str]",
    "history": "list[Workflow]", "idempotency_key": "str", "rate_limit_key": "str", "rate_limited": "bool",
    "start_time": "int", "workflow_name": "str", "workflow_version": "int",
}


class _Execution(_WorkflowModel):
    """What ``Workflow`` and ``WorkflowRun`` share: a status and the tasks of one execution."""

    status: str | None
    tasks: list[Task] | None

    def _normalise(self) -> None:
        tasks = self.tasks if isinstance(self.tasks, list) else []
        self.tasks = [Task.from_dict(t) if isinstance(t, Mapping) else t for t in tasks]

    def is_completed(self) -> bool:
        """True once the workflow ended: COMPLETED, FAILED, TIMED_OUT or TERMINATED."""
        return self.status in TERMINAL_STATUSES

    def is_successful(self) -> bool:
        """True for COMPLETED (and PAUSED, as the official model says)."""
        return self.status in SUCCESSFUL_STATUSES

    def is_running(self) -> bool:
        """True for RUNNING and PAUSED."""
        return self.status in RUNNING_STATUSES

    @property
    def current_task(self) -> Task | None:
        """The last task that is SCHEDULED or IN_PROGRESS, or None."""
        current = None
        for task in self.tasks or []:
            if task.status in ("SCHEDULED", "IN_PROGRESS"):
                current = task
        return current

    def get_task(self, name: str | None = None, task_reference_name: str | None = None) -> Task | None:
        """The last task with this task definition name, or this reference name (give exactly one).

        Raises ``ValueError`` when neither or both are given.
        """
        if (name is None) == (task_reference_name is None):
            raise ValueError("give exactly one of name or task_reference_name")
        found = None
        for task in self.tasks or []:
            if (name is not None and task.task_def_name == name) or (
                    task_reference_name is not None and task.reference_task_name == task_reference_name):
                found = task
        return found


class Workflow(_Execution):
    """A workflow execution as the server reports it (``GET /workflow/{id}``).

    ``status`` is the server's string (RUNNING, COMPLETED, FAILED, TIMED_OUT, TERMINATED, PAUSED);
    ``tasks`` are ``Task`` objects (empty when read without tasks).
    """

    swagger_types: ClassVar[dict[str, str]] = _WORKFLOW_TYPES

    workflow_id: str | None
    input: dict[str, Any] | None
    output: dict[str, Any] | None
    correlation_id: str | None
    reason_for_incompletion: str | None
    workflow_definition: WorkflowDef | None
    workflow_name: str | None
    workflow_version: int | None

    def __init__(self, **attributes: Any) -> None:
        unknown = sorted(set(attributes) - set(_WORKFLOW_TYPES))
        if unknown:
            raise TypeError(f"Workflow() got unexpected keyword argument(s): {', '.join(unknown)}")
        self._init(attributes)

    def _normalise(self) -> None:
        super()._normalise()
        if isinstance(self.workflow_definition, Mapping):
            self.workflow_definition = WorkflowDef.from_dict(self.workflow_definition)


_WORKFLOW_RUN_TYPES = {
    "correlation_id": "str", "create_time": "int", "created_by": "str", "input": "dict(str, object)",
    "output": "dict(str, object)", "priority": "int", "request_id": "str", "status": "str", "tasks": "list[Task]",
    "update_time": "int", "variables": "dict(str, object)", "workflow_id": "str", "reason_for_incompletion": "str",
}


class WorkflowRun(_Execution):
    """What a synchronous execution answers (``WorkflowExecutor.execute``): the workflow as it was
    when it ended, when the awaited task was reached, or when the wait ran out (then RUNNING)."""

    swagger_types: ClassVar[dict[str, str]] = _WORKFLOW_RUN_TYPES

    workflow_id: str | None
    request_id: str | None
    input: dict[str, Any] | None
    output: dict[str, Any] | None
    correlation_id: str | None
    reason_for_incompletion: str | None

    def __init__(self, **attributes: Any) -> None:
        unknown = sorted(set(attributes) - set(_WORKFLOW_RUN_TYPES))
        if unknown:
            raise TypeError(f"WorkflowRun() got unexpected keyword argument(s): {', '.join(unknown)}")
        self._init(attributes)
