"""In-memory state of the dev server: tasks, task logs, workflows and poll data.

Tasks are kept as the server's Task JSON (a dict with camelCase keys), so answering a poll is a
single ``json`` dump. Workflow state is a :class:`WorkflowRecord`; ``to_json`` builds the server's
Workflow JSON. Loop thread only.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._clock import ServerClock

__all__ = [
    "TERMINAL_TASK_STATUSES",
    "TERMINAL_WORKFLOW_STATUSES",
    "Store",
    "WorkflowRecord",
    "now_ms",
    "task_expression_document",
]

TERMINAL_TASK_STATUSES = frozenset(
    {"CANCELED", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "COMPLETED", "COMPLETED_WITH_ERRORS", "TIMED_OUT",
     "SKIPPED"}
)
TERMINAL_WORKFLOW_STATUSES = frozenset({"COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"})

#: (task type, domain or None)
PollKey = tuple[str, str | None]


def now_ms() -> int:
    """Epoch milliseconds of the wall clock (for what the server clock does not govern, e.g. metadata)."""
    return int(time.time() * 1000)


class WorkflowRecord:
    """One workflow execution: its definition, inputs, tasks in scheduling order and outcome."""

    __slots__ = (
        "by_ref",
        "chosen",
        "correlation_id",
        "create_time",
        "definition",
        "end_time",
        "failed_names",
        "failed_refs",
        "input",
        "last_retried_time",
        "nodes",
        "output",
        "parent_task_id",
        "parent_workflow_id",
        "priority",
        "reached_end",
        "reason",
        "skipped_refs",
        "status",
        "task_to_domain",
        "tasks",
        "update_time",
        "variables",
        "workflow_id",
    )

    def __init__(self, workflow_id: str, definition: dict[str, Any], workflow_input: dict[str, Any],
                 correlation_id: str | None, priority: int, task_to_domain: dict[str, str], created_ms: int) -> None:
        self.workflow_id = workflow_id
        self.definition = definition
        #: Reference name -> where the WorkflowTask sits in the definition (filled by the decider).
        self.nodes: dict[str, Any] = {}
        #: SWITCH/DECISION task id -> the task list of the case it chose.
        self.chosen: dict[str, list[dict[str, Any]]] = {}
        #: References skipped ahead of time (``skiptask``) that scheduling has not reached yet.
        self.skipped_refs: set[str] = set()
        self.reached_end = False
        self.parent_workflow_id: str | None = None
        self.parent_task_id: str | None = None
        self.last_retried_time = 0
        self.input = workflow_input
        self.correlation_id = correlation_id
        self.priority = priority
        self.task_to_domain = task_to_domain
        self.status = "RUNNING"
        self.reason: str | None = None
        self.failed_refs: list[str] = []
        self.failed_names: list[str] = []
        self.create_time = created_ms
        self.update_time = created_ms
        self.end_time = 0
        self.output: dict[str, Any] = {}
        self.variables: dict[str, Any] = {}
        self.tasks: list[dict[str, Any]] = []
        self.by_ref: dict[str, dict[str, Any]] = {}

    @property
    def terminal(self) -> bool:
        """True once the workflow reached COMPLETED, FAILED, TIMED_OUT or TERMINATED."""
        return self.status in TERMINAL_WORKFLOW_STATUSES

    def expression_document(self) -> dict[str, Any]:
        """The ``workflow`` object that ``${workflow.*}`` expressions read."""
        definition = self.definition
        return {
            "input": self.input,
            "output": self.output,
            "status": self.status,
            "workflowId": self.workflow_id,
            "parentWorkflowId": self.parent_workflow_id,
            "parentWorkflowTaskId": self.parent_task_id,
            "workflowType": definition["name"],
            "version": definition["version"],
            "correlationId": self.correlation_id,
            "reasonForIncompletion": self.reason,
            "schemaVersion": definition.get("schemaVersion", 2),
            "variables": self.variables,
        }

    def to_json(self, include_tasks: bool = True) -> dict[str, Any]:
        """The server's Workflow JSON (nulls omitted)."""
        definition = self.definition
        body: dict[str, Any] = {
            "workflowId": self.workflow_id,
            "workflowName": definition["name"],
            "workflowVersion": definition["version"],
            "priority": self.priority,
            "status": self.status,
            "failedReferenceTaskNames": list(self.failed_refs),
            "failedTaskNames": list(self.failed_names),
            "createTime": self.create_time,
            "startTime": self.create_time,
            "updateTime": self.update_time,
            "endTime": self.end_time,
            "lastRetriedTime": self.last_retried_time,
            "input": self.input,
            "output": self.output,
            "variables": self.variables,
            "tasks": list(self.tasks) if include_tasks else [],
            "taskToDomain": self.task_to_domain,
            "workflowDefinition": definition,
            "schemaVersion": definition.get("schemaVersion", 2),
        }
        if self.correlation_id is not None:
            body["correlationId"] = self.correlation_id
        if self.reason is not None:
            body["reasonForIncompletion"] = self.reason
        if self.parent_workflow_id is not None:
            body["parentWorkflowId"] = self.parent_workflow_id
            body["parentWorkflowTaskId"] = self.parent_task_id
        return body

    def status_json(self, include_output: bool, include_variables: bool) -> dict[str, Any]:
        """The lighter ``/workflow/{id}/status`` answer."""
        body: dict[str, Any] = {"workflowId": self.workflow_id, "status": self.status}
        if self.correlation_id is not None:
            body["correlationId"] = self.correlation_id
        if include_output:
            body["output"] = self.output
        if include_variables:
            body["variables"] = self.variables
        return body


def task_expression_document(task: dict[str, Any]) -> dict[str, Any]:
    """The object that ``${ref.*}`` expressions read for one scheduled task."""
    get = task.get
    return {
        "input": task["inputData"],
        "output": task["outputData"],
        "taskType": task["taskType"],
        "status": task["status"],
        "referenceTaskName": task["referenceTaskName"],
        "retryCount": task["retryCount"],
        "correlationId": get("correlationId"),
        "pollCount": task["pollCount"],
        "taskDefName": task["taskDefName"],
        "scheduledTime": task["scheduledTime"],
        "startTime": task["startTime"],
        "endTime": task["endTime"],
        "workflowInstanceId": task["workflowInstanceId"],
        "taskId": task["taskId"],
        "reasonForIncompletion": get("reasonForIncompletion"),
        "callbackAfterSeconds": task["callbackAfterSeconds"],
        "workerId": get("workerId"),
        "iteration": task["iteration"],
    }


class Store:
    """Tasks, logs, workflows and poll data (loop thread only), stamped with the server clock."""

    def __init__(self, clock: ServerClock) -> None:
        self.clock = clock
        self.tasks: dict[str, dict[str, Any]] = {}
        self.logs: dict[str, list[dict[str, Any]]] = {}
        self.workflows: dict[str, WorkflowRecord] = {}
        self.poll_data: dict[PollKey, dict[str, Any]] = {}

    def append_log(self, task_id: str, text: str, created_time: int | None = None) -> None:
        """Add one log line to a task (its existence is not checked, like the server)."""
        created = created_time if created_time is not None else self.clock.now_ms()
        entry = {"log": text, "taskId": task_id, "createdTime": created}
        self.logs.setdefault(task_id, []).append(entry)

    def record_poll(self, task_type: str, domain: str | None, worker_id: str | None) -> None:
        """Remember who polled which queue and when (drives domain selection and poll data)."""
        entry: dict[str, Any] = {"queueName": task_type, "lastPollTime": self.clock.now_ms()}
        if domain is not None:
            entry["domain"] = domain
        if worker_id is not None:
            entry["workerId"] = worker_id
        self.poll_data[(task_type, domain)] = entry

    def polled_recently(self, task_type: str, domain: str, within_ms: int) -> bool:
        """Whether ``(task_type, domain)`` saw a poll in the last ``within_ms`` milliseconds."""
        entry = self.poll_data.get((task_type, domain))
        return entry is not None and self.clock.now_ms() - entry["lastPollTime"] <= within_ms
