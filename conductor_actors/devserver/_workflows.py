"""The decider: schedules the SIMPLE tasks of a workflow in sequence and settles its outcome.

Rules (from the server's DeciderService): a COMPLETED task schedules the next one (its input
resolved from ``inputParameters``) or completes the workflow; FAILED and TIMED_OUT tasks are
retried while ``retryCount`` (WorkflowTask overrides TaskDef) allows, as a NEW task after the
retry delay; otherwise an ``optional`` task becomes COMPLETED_WITH_ERRORS and the workflow goes
on, and any other task ends the workflow (FAILED, TIMED_OUT for a timed-out task, TERMINATED for a
CANCELED one) with ``"Task <id> failed with status: <S> and reason: '<r>'"``.
FAILED_WITH_TERMINAL_ERROR and CANCELED are never retried.

Runs on the server's event loop thread only.
"""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Callable
from typing import Any

from ._errors import ApiError
from ._expressions import Lookup, resolve, to_java_string
from ._metadata import Metadata
from ._queues import TaskQueues
from ._store import TERMINAL_TASK_STATUSES, Store, WorkflowRecord, now_ms, task_expression_document

__all__ = ["Decider", "retry_delay_seconds"]

#: A domain counts as active when a worker polled it within this many milliseconds.
ACTIVE_DOMAIN_WINDOW_MS = 10_000

_RETRIABLE = frozenset({"FAILED", "TIMED_OUT"})
_WORKFLOW_STATUS_FOR_TASK = {"CANCELED": "TERMINATED", "TIMED_OUT": "TIMED_OUT"}


def _whole(value: float) -> float:
    """``value`` as an int when it is integral (so JSON shows ``60``, not ``60.0``)."""
    return int(value) if float(value).is_integer() else value


def retry_delay_seconds(task_def: dict[str, Any], retry_count: int, jitter: Callable[[int], int]) -> float:
    """Delay before retry number ``retry_count + 1`` per the definition's ``retryLogic``.

    FIXED: ``retryDelaySeconds``; EXPONENTIAL_BACKOFF: ``retryDelaySeconds * 2**n``;
    LINEAR_BACKOFF: ``retryDelaySeconds * backoffScaleFactor * (n + 1)``; capped by
    ``maxRetryDelaySeconds`` when > 0, plus ``jitter(backoffJitterMs)`` milliseconds.
    """
    base = task_def.get("retryDelaySeconds", 60)
    logic = task_def.get("retryLogic", "FIXED")
    if logic == "EXPONENTIAL_BACKOFF":
        delay = base * 2 ** retry_count
    elif logic == "LINEAR_BACKOFF":
        delay = base * task_def.get("backoffScaleFactor", 1) * (retry_count + 1)
    else:
        delay = base
    cap = task_def.get("maxRetryDelaySeconds", 0)
    if cap > 0:
        delay = min(delay, cap)
    jitter_ms = task_def.get("backoffJitterMs", 0)
    if jitter_ms > 0:
        delay += jitter(int(jitter_ms)) / 1000.0
    return _whole(delay)


class Decider:
    """Schedules tasks and decides workflow outcomes (loop thread only).

    ``on_terminal`` is called once for every workflow that reaches a terminal status.
    """

    def __init__(self, store: Store, metadata: Metadata, queues: TaskQueues,
                 on_terminal: Callable[[WorkflowRecord], None],
                 jitter: Callable[[int], int] = lambda high: random.randint(0, high)) -> None:
        self._store = store
        self._metadata = metadata
        self._queues = queues
        self._on_terminal = on_terminal
        self._jitter = jitter

    # -- entry points ----------------------------------------------------------------------
    def start(self, definition: dict[str, Any], workflow_input: dict[str, Any], correlation_id: str | None,
              priority: int, task_to_domain: dict[str, str]) -> WorkflowRecord:
        """Create a workflow and schedule its first task (queued before this returns)."""
        workflow = WorkflowRecord(str(uuid.uuid4()), definition, workflow_input, correlation_id, priority,
                                  task_to_domain)
        self._store.workflows[workflow.workflow_id] = workflow
        first = definition["tasks"][0]
        self._schedule(workflow, 0, delay=first.get("startDelay", 0))
        return workflow

    def task_terminal(self, workflow: WorkflowRecord, task: dict[str, Any]) -> None:
        """React to ``task`` having just reached a terminal status (update or response timeout)."""
        task["executed"] = True
        workflow.update_time = now_ms()
        status = task["status"]
        workflow_task = task["workflowTask"]
        if status == "COMPLETED":
            self._advance(workflow, task)
            return
        if status in _RETRIABLE and self._retry(workflow, task):
            return
        if workflow_task.get("optional"):
            task["status"] = "COMPLETED_WITH_ERRORS"
            self._advance(workflow, task)
            return
        self._fail(workflow, task, _WORKFLOW_STATUS_FOR_TASK.get(status, "FAILED"))

    def terminate(self, workflow: WorkflowRecord, reason: str | None) -> None:
        """End a workflow as TERMINATED (its unfinished tasks CANCELED). 409 for a COMPLETED one;
        a TERMINATED one is left as it is (like the server)."""
        if workflow.status == "COMPLETED":
            raise ApiError(409, "Cannot terminate a COMPLETED workflow.")
        if workflow.status == "TERMINATED":
            return
        already_ended = workflow.terminal
        workflow.status = "TERMINATED"
        workflow.reason = reason
        if already_ended:  # FAILED or TIMED_OUT: its tasks are settled and watchers were told
            workflow.update_time = now_ms()
            return
        self._finish(workflow)

    def remove(self, workflow: WorkflowRecord) -> None:
        """Forget a workflow and its tasks (unfinished tasks leave their queues first)."""
        for task in workflow.tasks:
            self._queues.remove(task["taskId"])
            self._store.tasks.pop(task["taskId"], None)
            self._store.logs.pop(task["taskId"], None)
        del self._store.workflows[workflow.workflow_id]

    # -- scheduling ------------------------------------------------------------------------
    def _advance(self, workflow: WorkflowRecord, task: dict[str, Any]) -> None:
        index = workflow.ref_index[task["referenceTaskName"]] + 1
        tasks = workflow.definition["tasks"]
        if index < len(tasks):
            self._schedule(workflow, index, delay=tasks[index].get("startDelay", 0))
        else:
            workflow.status = "COMPLETED"
            workflow.output = self._output(workflow, task)
            self._finish(workflow)

    def _retry(self, workflow: WorkflowRecord, task: dict[str, Any]) -> bool:
        workflow_task = task["workflowTask"]
        task_def = self._metadata.effective_task_def(task["taskDefName"])
        allowed = workflow_task.get("retryCount")
        if allowed is None:
            allowed = task_def.get("retryCount", 3)
        attempt = task["retryCount"]
        if attempt >= allowed:
            return False
        task["retried"] = True
        delay = retry_delay_seconds(task_def, attempt, self._jitter)
        self._schedule(workflow, workflow.ref_index[task["referenceTaskName"]], delay=delay,
                       retry_count=attempt + 1, retried_task_id=task["taskId"])
        return True

    def _schedule(self, workflow: WorkflowRecord, index: int, *, delay: float = 0,
                  retry_count: int = 0, retried_task_id: str | None = None) -> dict[str, Any]:
        workflow_task = workflow.definition["tasks"][index]
        name = workflow_task["name"]
        task_def = self._metadata.effective_task_def(name)
        input_data = resolve(workflow_task.get("inputParameters") or {}, self._lookup(workflow))
        for key, default in (task_def.get("inputTemplate") or {}).items():
            if input_data.get(key) is None:
                input_data[key] = copy.deepcopy(default)
        now = now_ms()
        delay = _whole(delay)
        task: dict[str, Any] = {
            "taskType": name,
            "status": "SCHEDULED",
            "inputData": input_data,
            "referenceTaskName": workflow_task["taskReferenceName"],
            "retryCount": retry_count,
            "seq": len(workflow.tasks) + 1,
            "pollCount": 0,
            "taskDefName": name,
            "scheduledTime": now,
            "startTime": 0,
            "endTime": 0,
            "updateTime": now,
            "startDelayInSeconds": delay,
            "retried": False,
            "executed": False,
            "callbackFromWorker": True,
            "responseTimeoutSeconds": task_def.get("responseTimeoutSeconds", 3600),
            "workflowInstanceId": workflow.workflow_id,
            "workflowType": workflow.definition["name"],
            "taskId": str(uuid.uuid4()),
            "callbackAfterSeconds": delay,
            "outputData": {},
            "workflowTask": workflow_task,
            "rateLimitPerFrequency": task_def.get("rateLimitPerFrequency", 0),
            "rateLimitFrequencyInSeconds": task_def.get("rateLimitFrequencyInSeconds", 1),
            "workflowPriority": workflow.priority,
            "iteration": 0,
            "subworkflowChanged": False,
            "loopOverTask": False,
            "firstStartTime": 0,
            "queueWaitTime": 0,
        }
        if workflow.correlation_id is not None:
            task["correlationId"] = workflow.correlation_id
        domain = self._domain_for(workflow, name)
        if domain is not None:
            task["domain"] = domain
        if retried_task_id is not None:
            task["retriedTaskId"] = retried_task_id
        self._store.tasks[task["taskId"]] = task
        workflow.tasks.append(task)
        workflow.by_ref[task["referenceTaskName"]] = task
        self._queues.push((name, domain), task["taskId"], delay)
        return task

    def _domain_for(self, workflow: WorkflowRecord, task_type: str) -> str | None:
        """The domain from ``taskToDomain``: per-type key over ``*``; first recently polled of a list."""
        mapping = workflow.task_to_domain
        if not mapping:
            return None
        value = mapping.get(task_type, mapping.get("*"))
        if not value:
            return None
        domains = [part.strip() for part in value.split(",")]
        for domain in domains:
            if domain and domain.upper() != "NO_DOMAIN" and self._store.polled_recently(
                    task_type, domain, ACTIVE_DOMAIN_WINDOW_MS):
                return domain
        last = domains[-1]
        return None if not last or last.upper() == "NO_DOMAIN" else last

    # -- outcomes --------------------------------------------------------------------------
    def _lookup(self, workflow: WorkflowRecord) -> Lookup:
        def lookup(head: str) -> Any:
            if head == "workflow":
                return workflow.expression_document()
            task = workflow.by_ref.get(head)
            return task_expression_document(task) if task is not None else None

        return lookup

    def _output(self, workflow: WorkflowRecord, last_task: dict[str, Any]) -> dict[str, Any]:
        parameters = workflow.definition.get("outputParameters")
        if parameters:
            resolved = resolve(parameters, self._lookup(workflow))
            return resolved if isinstance(resolved, dict) else {}
        return last_task["outputData"]

    def _fail(self, workflow: WorkflowRecord, task: dict[str, Any], status: str) -> None:
        workflow.status = status
        reason = to_java_string(task.get("reasonForIncompletion"))
        workflow.reason = f"Task {task['taskId']} failed with status: {status} and reason: '{reason}'"
        if task["referenceTaskName"] not in workflow.failed_refs:
            workflow.failed_refs.append(task["referenceTaskName"])
        if task["taskDefName"] not in workflow.failed_names:
            workflow.failed_names.append(task["taskDefName"])
        workflow.output = self._output(workflow, task)
        self._finish(workflow)

    def _finish(self, workflow: WorkflowRecord) -> None:
        now = now_ms()
        for task in workflow.tasks:
            if task["status"] not in TERMINAL_TASK_STATUSES:
                self._queues.remove(task["taskId"])
                task["status"] = "CANCELED"
                task["endTime"] = now
                task["updateTime"] = now
        workflow.end_time = now
        workflow.update_time = now
        self._on_terminal(workflow)
