"""Task hand-out, task updates and response timeouts of the dev server.

* Polling pops ready ids from a queue and hands each task out: IN_PROGRESS, ``startTime`` on the
  first poll only, ``callbackAfterSeconds`` 0, ``workerId``, ``pollCount + 1``, ``updateTime``.
* Updates follow the server's ``updateTask``: id checks (workflow first), terminal no-ops,
  ``extendLease``, IN_PROGRESS back to SCHEDULED with the callback delay, terminal statuses run the
  decider at once.
* A terminal update for a task that has already finished changes nothing (like the server), but
  when its status or output differs from what the task finished with it is recorded in the
  server's :class:`TerminalConflicts` (``GET /__devserver__/conflicts``): a result reported twice
  with different contents is a bug tests want to see.
* Response timeouts: each hand-out of a task with ``responseTimeoutSeconds > 0`` puts a deadline in
  a heap; :meth:`TaskService.sweep` (run every ``sweep_interval`` and after the server clock is
  advanced) times out the due ones. Times are read from the server clock.
* System tasks that wait for an update (HUMAN, WAIT without a time) take updates like worker
  tasks, but an IN_PROGRESS update keeps them IN_PROGRESS instead of queueing them.

Runs on the server's event loop thread only.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Any

from ._errors import ApiError, ValidationFailure
from ._queues import QueueKey, TaskQueues
from ._store import TERMINAL_TASK_STATUSES, Store
from ._workflows import WORKER_TASK_TYPES, Decider

__all__ = ["RESULT_STATUSES", "TaskService", "TerminalConflicts"]

#: Statuses a TaskResult may carry.
RESULT_STATUSES = frozenset({"IN_PROGRESS", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "COMPLETED", "CANCELED"})
#: The server keeps at most this many log lines from one update (``taskExecLogSizeLimit``).
LOGS_PER_UPDATE = 10
REASON_LIMIT = 500
#: Conflicting updates kept per task (the count goes on).
CONFLICTS_KEPT_PER_TASK = 20


def _seconds_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class TerminalConflicts:
    """Terminal updates that reached a task after it had finished, with another status or output.

    Per task: what it finished with, the first ``CONFLICTS_KEPT_PER_TASK`` conflicting updates
    and how many arrived. An update that repeats the finished outcome (a retry after a lost
    answer) is no conflict. Loop thread only.
    """

    def __init__(self) -> None:
        self._by_task: dict[str, dict[str, Any]] = {}

    def check(self, task: dict[str, Any], result: dict[str, Any], now_ms: int) -> None:
        """Record ``result`` (a terminal TaskResult) if it differs from the finished ``task``."""
        status, output = result.get("status"), result.get("outputData") or {}
        if status == task["status"] and output == task["outputData"]:
            return
        record = self._by_task.get(task["taskId"])
        if record is None:
            record = self._by_task[task["taskId"]] = {
                "taskId": task["taskId"], "taskType": task["taskType"],
                "workflowInstanceId": task["workflowInstanceId"],
                "finished": {"status": task["status"], "outputData": task["outputData"],
                             "workerId": task.get("workerId")},
                "updates": [], "count": 0,
            }
        record["count"] += 1
        if len(record["updates"]) < CONFLICTS_KEPT_PER_TASK:
            record["updates"].append({"status": status, "outputData": output, "workerId": result.get("workerId"),
                                      "receivedTime": now_ms})

    def snapshot(self) -> list[dict[str, Any]]:
        """Every task with conflicting updates, in the order the first conflict arrived."""
        return [{**record, "updates": list(record["updates"])} for record in self._by_task.values()]

    def clear(self) -> None:
        self._by_task.clear()


class TaskService:
    """Polling, updates and response timeouts over the shared store (loop thread only)."""

    def __init__(self, store: Store, queues: TaskQueues, decider: Decider, loop: asyncio.AbstractEventLoop) -> None:
        self._store = store
        self._queues = queues
        self._decider = decider
        self._loop = loop
        self._clock = store.clock
        self._deadlines: list[tuple[float, int, str, int]] = []
        self._sequence = itertools.count()
        self.conflicts = TerminalConflicts()  # shown by the admin API

    # -- polling ---------------------------------------------------------------------------
    def poll_now(self, key: QueueKey, worker_id: str | None, count: int) -> list[dict[str, Any]]:
        """Record the poll and hand out up to ``count`` ready tasks without waiting."""
        self._store.record_poll(key[0], key[1], worker_id)
        return self._take(key, worker_id, count)

    async def poll_wait(self, key: QueueKey, worker_id: str | None, count: int,
                        timeout: float) -> list[dict[str, Any]]:
        """Wait up to ``timeout`` seconds for a task to become ready, then hand out up to ``count``.

        Call after :meth:`poll_now` found nothing. Returns ``[]`` at the deadline.
        """
        deadline = self._loop.time() + timeout
        while True:
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                return []
            await self._queues.wait_ready(key, remaining)
            tasks = self._take(key, worker_id, count)
            if tasks:
                return tasks

    def _take(self, key: QueueKey, worker_id: str | None, count: int) -> list[dict[str, Any]]:
        ids = self._queues.pop(key, count)
        if not ids:
            return []
        now = self._clock.now_ms()
        now_s = now / 1000.0
        tasks = self._store.tasks
        handed: list[dict[str, Any]] = []
        for task_id in ids:
            task = tasks.get(task_id)
            if task is None or task["status"] != "SCHEDULED":
                continue
            task["status"] = "IN_PROGRESS"
            if not task["startTime"]:
                task["startTime"] = now
                task["firstStartTime"] = now
                task["queueWaitTime"] = now - task["scheduledTime"]
            task["callbackAfterSeconds"] = 0
            if worker_id is None:
                task.pop("workerId", None)
            else:
                task["workerId"] = worker_id
            task["pollCount"] += 1
            task["updateTime"] = now
            timeout = task["responseTimeoutSeconds"]
            if timeout > 0:
                heapq.heappush(self._deadlines, (now_s + timeout, next(self._sequence), task_id, task["pollCount"]))
            handed.append(task)
        return handed

    # -- updates ---------------------------------------------------------------------------
    def update(self, result: Any) -> dict[str, Any] | None:
        """Apply a TaskResult. Returns the task afterwards, or None for an ``extendLease`` update.

        Raises ``ApiError``: 400 for a malformed result, 404 for an unknown workflow or task,
        500 for a null status. A terminal task or workflow is left unchanged (no error); a
        terminal update that differs from how the task finished is recorded in ``conflicts``.
        """
        if not isinstance(result, dict):
            raise ApiError(400, "TaskResult must be a JSON object")
        task_id = result.get("taskId")
        workflow_id = result.get("workflowInstanceId")
        problems = []
        if not isinstance(workflow_id, str) or not workflow_id:
            problems.append(("taskResult.workflowInstanceId", "Workflow Id cannot be null or empty", workflow_id))
        if not isinstance(task_id, str) or not task_id:
            problems.append(("taskResult.taskId", "Task ID cannot be null or empty", task_id))
        if problems:
            raise ValidationFailure(problems)
        assert isinstance(task_id, str) and isinstance(workflow_id, str)
        if result.get("extendLease") is True:
            self._extend_lease(task_id)
            return None
        status = result.get("status")
        if status is None:
            raise ApiError(500, f"TaskResult status cannot be null (taskId: {task_id})", retryable=False)
        if status not in RESULT_STATUSES:
            raise ApiError(400, f"Invalid TaskResult status {status!r}; expected one of "
                                f"{', '.join(sorted(RESULT_STATUSES))}")
        _check_result_fields(result)
        workflow = self._store.workflows.get(workflow_id)
        if workflow is None:
            raise ApiError(404, f"No such workflow found by id: {workflow_id}")
        task = self._store.tasks.get(task_id)
        if task is None:
            raise ApiError(404, f"No such task found by id: {task_id}")
        if task["workflowInstanceId"] != workflow_id:
            raise ApiError(400, f"Task {task_id} belongs to workflow {task['workflowInstanceId']}, "
                                f"not to {workflow_id}")
        if workflow.terminal or task["status"] in TERMINAL_TASK_STATUSES:
            if task["status"] in TERMINAL_TASK_STATUSES and status != "IN_PROGRESS":
                self.conflicts.check(task, result, self._clock.now_ms())
            self._queues.remove(task_id)
            return task
        now = self._clock.now_ms()
        task["outputData"] = result.get("outputData") or {}
        reason = result.get("reasonForIncompletion")
        if reason is None:
            task.pop("reasonForIncompletion", None)
        else:
            task["reasonForIncompletion"] = reason[:REASON_LIMIT]
        worker_id = result.get("workerId")
        if worker_id is None:
            task.pop("workerId", None)
        else:
            task["workerId"] = worker_id
        callback = result.get("callbackAfterSeconds") or 0
        task["callbackAfterSeconds"] = callback
        task["updateTime"] = now
        for entry in (result.get("logs") or ())[:LOGS_PER_UPDATE]:
            created = entry.get("createdTime")
            self._store.append_log(task_id, entry["log"], created if isinstance(created, int) else now)
        if status == "IN_PROGRESS" and task["workflowTask"]["type"] not in WORKER_TASK_TYPES:
            task["status"] = "IN_PROGRESS"  # HUMAN, WAIT, ...: nothing polls them
            return task
        if status == "IN_PROGRESS":
            task["status"] = "SCHEDULED"
            self._queues.push((task["taskType"], task.get("domain")), task_id, callback)
            return task
        task["status"] = status
        task["endTime"] = now
        self._queues.remove(task_id)
        self._decider.task_terminal(workflow, task)
        return task

    def _extend_lease(self, task_id: str) -> None:
        task = self._store.tasks.get(task_id)
        if task is None:
            raise ApiError(404, f"No such task found by id: {task_id}")
        if task["status"] not in TERMINAL_TASK_STATUSES:
            task["updateTime"] = self._clock.now_ms()

    # -- response timeouts -----------------------------------------------------------------
    def sweep(self) -> None:
        """Time out every IN_PROGRESS task whose response deadline has passed."""
        heap = self._deadlines
        if not heap:
            return
        now = self._clock.time()
        tasks = self._store.tasks
        while heap and heap[0][0] <= now:
            _, _, task_id, poll_count = heapq.heappop(heap)
            task = tasks.get(task_id)
            if task is None or task["status"] != "IN_PROGRESS" or task["pollCount"] != poll_count:
                continue
            timeout = task["responseTimeoutSeconds"]
            due = task["updateTime"] / 1000.0 + timeout + task["callbackAfterSeconds"]
            if now < due:
                heapq.heappush(heap, (due, next(self._sequence), task_id, poll_count))
                continue
            self._time_out(task, timeout)

    def _time_out(self, task: dict[str, Any], timeout: float) -> None:
        workflow = self._store.workflows[task["workflowInstanceId"]]
        if workflow.terminal:
            return
        now = self._clock.now_ms()
        task["status"] = "TIMED_OUT"
        task["reasonForIncompletion"] = (
            f"responseTimeout: {_seconds_text(timeout)} exceeded for the taskId: {task['taskId']} "
            f"with Task Definition: {task['taskDefName']}"
        )
        task["endTime"] = now
        task["updateTime"] = now
        self._decider.task_terminal(workflow, task)


def _check_result_fields(result: dict[str, Any]) -> None:
    """400 for TaskResult fields of the wrong kind (before anything changes)."""
    problems = []
    output = result.get("outputData")
    if output is not None and not isinstance(output, dict):
        problems.append(("taskResult.outputData", "must be a JSON object", output))
    reason = result.get("reasonForIncompletion")
    if reason is not None and not isinstance(reason, str):
        problems.append(("taskResult.reasonForIncompletion", "must be a string", reason))
    worker_id = result.get("workerId")
    if worker_id is not None and not isinstance(worker_id, str):
        problems.append(("taskResult.workerId", "must be a string", worker_id))
    callback = result.get("callbackAfterSeconds")
    if callback is not None and (isinstance(callback, bool) or not isinstance(callback, (int, float))
                                 or callback < 0):
        problems.append(("taskResult.callbackAfterSeconds", "must be a number >= 0", callback))
    logs = result.get("logs")
    if logs is not None:
        if not isinstance(logs, list):
            problems.append(("taskResult.logs", "must be a list", logs))
        else:
            for index, entry in enumerate(logs):
                if not isinstance(entry, dict) or not isinstance(entry.get("log"), str):
                    problems.append((f"taskResult.logs[{index}]", "must be an object with a string 'log'", entry))
    if problems:
        raise ValidationFailure(problems)
