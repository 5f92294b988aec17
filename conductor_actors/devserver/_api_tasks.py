"""Handlers of the task endpoints a worker uses: polls, updates, logs, task and queue reads.

Each handler takes the request and its path variables and returns a ``Response`` at once, or a
coroutine when it has to wait (a long poll, or the next-task poll inside update-v2). Raises
``ApiError`` for error answers. Runs on the loop thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ._errors import ApiError
from ._http import Outcome, Request, Response
from ._payloads import EMPTY_OK, NO_CONTENT, json_body, json_response, query_int, query_str, text_response
from ._queues import QueueKey, TaskQueues, queue_name
from ._search import iso_time, parse_query, search_page, text_matches
from ._store import TERMINAL_TASK_STATUSES, Store
from ._tasks import RESULT_STATUSES, TaskService

__all__ = ["MAX_POLL_TIMEOUT_MS", "SINGLE_POLL_TIMEOUT_MS", "TaskApi"]

MAX_POLL_TIMEOUT_MS = 5000
SINGLE_POLL_TIMEOUT_MS = 100

Handler = Callable[[Request, "tuple[str, ...]"], Outcome]


class TaskApi:
    """The task endpoints over one store, queue set and task service."""

    def __init__(self, store: Store, queues: TaskQueues, service: TaskService, update_v2_poll_timeout_ms: int) -> None:
        self._store = store
        self._queues = queues
        self._service = service
        self._v2_poll_timeout_ms = update_v2_poll_timeout_ms

    def handlers(self) -> dict[str, Handler]:
        """Endpoint name -> handler."""
        return {
            "poll_batch": self.poll_batch,
            "poll_single": self.poll_single,
            "update_v1": self.update_v1,
            "update_v2": self.update_v2,
            "task_log_append": self.log_append,
            "task_log_get": self.log_get,
            "task_get": self.task_get,
            "queue_size": self.queue_size,
            "queue_sizes": self.queue_sizes,
            "queue_all": self.queue_all,
            "poll_data": self.poll_data,
            "task_search": self.search,
            "task_update_by_ref": self.update_by_ref,
        }

    # -- polls -----------------------------------------------------------------------------
    def poll_batch(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/tasks/poll/batch/{type}``: a JSON list, waiting up to ``timeout`` ms for one task.

        Deviation from the real server (see the package docstring): it answers as soon as at least
        one task is ready, where the SQL queue DAOs wait for ``count`` tasks until ``timeout``.
        """
        query = request.query
        count = query_int(query, "count", 1)
        if count < 1:
            raise ApiError(400, f"count must be at least 1, got {count}")
        timeout_ms = query_int(query, "timeout", 100)
        if timeout_ms > MAX_POLL_TIMEOUT_MS:
            raise ApiError(400, "Long Poll Timeout value cannot be more than 5 seconds")
        if timeout_ms < 0:
            raise ApiError(400, f"timeout must not be negative, got {timeout_ms}")
        key, worker_id = self._poll_target(params[0], query)
        return self._poll(key, worker_id, count, timeout_ms, batch=True)

    def poll_single(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/tasks/poll/{type}``: 200 with one Task, or 204 after up to 100 ms."""
        key, worker_id = self._poll_target(params[0], request.query)
        return self._poll(key, worker_id, 1, SINGLE_POLL_TIMEOUT_MS, batch=False)

    @staticmethod
    def _poll_target(task_type: str, query: dict[str, list[str]]) -> tuple[QueueKey, str | None]:
        domain = query_str(query, "domain") or None
        return (task_type, domain), query_str(query, "workerid")

    def _poll(self, key: QueueKey, worker_id: str | None, count: int, timeout_ms: int, *, batch: bool) -> Outcome:
        tasks = self._service.poll_now(key, worker_id, count)
        # Any ready task ends the poll, even fewer than `count`: the real server's SQL queue DAOs
        # would keep waiting for `count` until the timeout (a deliberate deviation, see the package).
        if tasks or timeout_ms <= 0:
            return _poll_answer(tasks, batch)
        return self._poll_later(key, worker_id, count, timeout_ms / 1000.0, batch)

    async def _poll_later(self, key: QueueKey, worker_id: str | None, count: int, timeout: float,
                          batch: bool) -> Response:
        tasks = await self._service.poll_wait(key, worker_id, count, timeout)
        return _poll_answer(tasks, batch)

    # -- updates ---------------------------------------------------------------------------
    def update_v1(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``POST /api/tasks``: apply the TaskResult; text/plain taskId."""
        result = json_body(request)
        self._service.update(result)
        return text_response(result["taskId"])

    def update_v2(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``POST /api/tasks/update-v2``: apply, then hand out the next task of that type (or 204)."""
        result = json_body(request)
        task = self._service.update(result)
        if task is None or task["status"] not in TERMINAL_TASK_STATUSES:
            return NO_CONTENT
        worker_id = result.get("workerId")
        key = (task["taskType"], task.get("domain"))
        return self._poll(key, worker_id if isinstance(worker_id, str) else None, 1, self._v2_poll_timeout_ms,
                          batch=False)

    def update_by_ref(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``POST /api/tasks/{workflowId}/{taskRefName}/{status}?workerid=`` with the output map.

        Applies the result to the workflow's unfinished task with that reference name and answers
        its id as text; an empty 200 when there is none (like the server). 404 for an unknown workflow.
        """
        workflow_id, ref, status = params
        if status not in RESULT_STATUSES:  # checked first, as the server's path binding does
            raise ApiError(400, f"Invalid TaskResult status {status!r}; expected one of "
                                f"{', '.join(sorted(RESULT_STATUSES))}")
        output = json_body(request, allow_empty=True)
        if output is not None and not isinstance(output, dict):
            raise ApiError(400, "The body must be a JSON object (the task's output)")
        workflow = self._store.workflows.get(workflow_id)
        if workflow is None:
            raise ApiError(404, f"No such workflow found by id: {workflow_id}")
        pending = [task for task in workflow.tasks
                   if task["referenceTaskName"] == ref and task["status"] not in TERMINAL_TASK_STATUSES]
        if not pending:
            return EMPTY_OK
        task = pending[-1]
        result: dict[str, Any] = {"taskId": task["taskId"], "workflowInstanceId": workflow_id, "status": status,
                                  "outputData": output or {}}
        worker_id = query_str(request.query, "workerid")
        if worker_id is not None:
            result["workerId"] = worker_id
        self._service.update(result)
        return text_response(task["taskId"])

    def search(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/tasks/search?start&size&sort&freeText&query``: ``{totalHits, results}`` of
        TaskSummary, newest first unless ``sort`` says otherwise."""
        query = request.query
        matches = parse_query(query_str(query, "query"), _TASK_FIELDS)
        free_text = query_str(query, "freeText", "*")
        found = []
        workflows = self._store.workflows
        for task in reversed(list(self._store.tasks.values())):
            workflow = workflows.get(task["workflowInstanceId"])
            facts = {"taskId": task["taskId"], "taskType": task["taskType"], "taskDefName": task["taskDefName"],
                     "referenceTaskName": task["referenceTaskName"], "status": task["status"],
                     "workflowId": task["workflowInstanceId"], "workflowType": task["workflowType"],
                     "correlationId": workflow.correlation_id if workflow else None,
                     "scheduledTime": task["scheduledTime"], "startTime": task["startTime"] or None,
                     "updateTime": task["updateTime"], "endTime": task["endTime"] or None,
                     "workerId": task.get("workerId"), "domain": task.get("domain")}
            if matches(facts) and text_matches(free_text, {**facts, "input": task["inputData"],
                                                           "output": task["outputData"]}):
                found.append(_task_summary(task, facts["correlationId"]))
        return json_response(search_page(found, query_int(query, "start", 0), query_int(query, "size", 100),
                                         query_str(query, "sort")))

    # -- logs and reads --------------------------------------------------------------------
    def log_append(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``POST /api/tasks/{taskId}/log``: the raw body is the log line; 200 empty."""
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "Log body is not valid UTF-8") from None
        self._store.append_log(params[0], text)
        return EMPTY_OK

    def log_get(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/tasks/{taskId}/log``: the log list, or 204 when there is none."""
        logs = self._store.logs.get(params[0])
        return json_response(logs) if logs else NO_CONTENT

    def task_get(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/tasks/{taskId}``: the Task, or 404."""
        task = self._store.tasks.get(params[0])
        if task is None:
            raise ApiError(404, f"Task not found for taskId: {params[0]}")
        return json_response(task)

    def queue_size(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/tasks/queue/size?taskType=&domain=``: a bare integer."""
        query = request.query
        task_type = query_str(query, "taskType", required=True)
        return json_response(self._queues.size((task_type, query_str(query, "domain") or None)))

    def queue_sizes(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/tasks/queue/sizes?taskType=a&taskType=b``: ``{"a": n, "b": m}``."""
        names = request.query.get("taskType", [])
        return json_response({name: self._queues.size((name, None)) for name in names})

    def queue_all(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/tasks/queue/all``: every queue name with its size."""
        return json_response({queue_name(key): size for key, size in self._queues.sizes()})

    def poll_data(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/tasks/queue/polldata?taskType=``: the last poll per domain of that type."""
        task_type = query_str(request.query, "taskType", required=True)
        entries = [entry for (name, _), entry in self._store.poll_data.items() if name == task_type]
        return json_response(entries)


#: Fields a task search query may name.
_TASK_FIELDS = ("taskId", "taskType", "taskDefName", "referenceTaskName", "status", "workflowId",
                "workflowType", "correlationId", "scheduledTime", "startTime", "updateTime", "endTime",
                "workerId", "domain")


def _task_summary(task: dict[str, Any], correlation_id: str | None) -> dict[str, Any]:
    """The server's TaskSummary (times as ISO text, input/output as JSON text; nulls omitted)."""
    start, end = task["startTime"], task["endTime"]
    summary: dict[str, Any] = {
        "workflowId": task["workflowInstanceId"],
        "workflowType": task["workflowType"],
        "correlationId": correlation_id,
        "scheduledTime": iso_time(task["scheduledTime"]),
        "startTime": iso_time(start),
        "updateTime": iso_time(task["updateTime"]),
        "endTime": iso_time(end),
        "status": task["status"],
        "reasonForIncompletion": task.get("reasonForIncompletion"),
        "executionTime": end - start if start and end else 0,
        "queueWaitTime": task["queueWaitTime"],
        "taskDefName": task["taskDefName"],
        "taskType": task["taskType"],
        "input": json.dumps(task["inputData"], separators=(",", ":")),
        "output": json.dumps(task["outputData"], separators=(",", ":")),
        "taskId": task["taskId"],
        "workflowPriority": task["workflowPriority"],
        "domain": task.get("domain"),
    }
    return {key: value for key, value in summary.items() if value is not None}


def _poll_answer(tasks: list[dict[str, Any]], batch: bool) -> Response:
    if batch:
        return json_response(tasks)
    return json_response(tasks[0]) if tasks else NO_CONTENT
