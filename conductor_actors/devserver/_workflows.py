"""The decider: schedules a workflow's tasks, runs its system tasks and settles its outcome.

The model follows the server's DeciderService. A workflow keeps its task instances in scheduling
order; :meth:`Decider.decide` looks at every task that reached a terminal status and has not been
acted on yet (``executed`` false) and acts: a successful one schedules what follows it in the
definition, a FAILED or TIMED_OUT one is retried while ``retryCount`` (WorkflowTask overrides
TaskDef) allows (a NEW task after the retry delay), an ``optional`` one becomes
COMPLETED_WITH_ERRORS and the workflow goes on, and any other ends the workflow (FAILED,
TIMED_OUT, or TERMINATED for a CANCELED task) with ``"Task <id> failed with status: <S> and
reason: '<r>'"``. FAILED_WITH_TERMINAL_ERROR and CANCELED are never retried. A PAUSED workflow
is not decided until it is resumed.

"What follows" a task is the next WorkflowTask in its list; at the end of a SWITCH case it is
what follows the SWITCH, at the end of a FORK branch nothing (the JOIN waits for its
``joinOn``), at the end of a DO_WHILE body the loop condition is evaluated, and at the end of the
workflow's own list the workflow completes once no task is unfinished.

System tasks: SWITCH and DECISION (value-param or JavaScript), FORK_JOIN, FORK_JOIN_DYNAMIC,
JOIN, DO_WHILE (body references get ``__<iteration>``, the loop's output keeps each iteration's
outputs under ``"<iteration>"``), SUB_WORKFLOW, DYNAMIC, TERMINATE, SET_VARIABLE, WAIT
(``duration`` or ``until`` on the server clock, else until updated), HUMAN (until updated),
INLINE, JSON_JQ_TRANSFORM and HTTP (performed on a worker thread, the answer applied on the loop).

Runs on the server's event loop thread only.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ._clock import ServerClock
from ._errors import ApiError
from ._evaluators import EvaluationError, evaluate, evaluate_javascript, evaluate_jq
from ._expressions import Lookup, resolve, to_java_string
from ._http_task import HttpCall, http_call_from_input, perform_http_call
from ._metadata import TASK_DEF_DEFAULTS, Metadata
from ._queues import TaskQueues
from ._store import TERMINAL_TASK_STATUSES, Store, WorkflowRecord, task_expression_document

__all__ = ["WORKER_TASK_TYPES", "Decider", "parse_wait_duration", "parse_wait_until", "retry_delay_seconds"]

#: One INFO line per workflow start (or restart, retry, rerun) and end, for people watching the server.
_log = logging.getLogger("conductor_actors.devserver.workflows")

#: A domain counts as active when a worker polled it within this many milliseconds.
ACTIVE_DOMAIN_WINDOW_MS = 10_000

#: Rounds one decision may take before the workflow is failed as a runaway (see ``_decide``).
MAX_PASSES_PER_DECISION = 5_000

#: Task types whose tasks go to a queue for workers to poll.
WORKER_TASK_TYPES = frozenset({"SIMPLE", "DYNAMIC"})
#: What a FORK_JOIN_DYNAMIC may fork: worker tasks and the system tasks without task lists of their own.
DYNAMIC_FORK_TYPES = WORKER_TASK_TYPES | {"INLINE", "SET_VARIABLE", "HTTP", "JSON_JQ_TRANSFORM", "WAIT", "HUMAN",
                                          "SUB_WORKFLOW"}

_RETRIABLE = frozenset({"FAILED", "TIMED_OUT"})
_SUCCESSFUL = frozenset({"COMPLETED", "COMPLETED_WITH_ERRORS", "SKIPPED"})
_WORKFLOW_STATUS_FOR_TASK = {"CANCELED": "TERMINATED", "TIMED_OUT": "TIMED_OUT"}
_ITERATION_SUFFIX = re.compile(r"__\d+$")


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


_DURATION = re.compile(
    r"^\s*(?:(?P<d>\d+)\s*(?:days?|d))?\s*(?:(?P<h>\d+)\s*(?:hours?|hrs?|h))?\s*"
    r"(?:(?P<m>\d+)\s*(?:minutes?|mins?|m))?\s*(?:(?P<s>\d+)\s*(?:seconds?|secs?|s))?\s*$",
    re.IGNORECASE,
)


def parse_wait_duration(text: str) -> float:
    """Seconds in a WAIT ``duration`` such as ``30s``, ``1h 30m`` or ``2 days``. Raises ``ValueError``."""
    match = _DURATION.match(text)
    if match is None or not text.strip() or not any(match.groupdict().values()):
        raise ValueError(f"invalid WAIT duration {text!r}; expected e.g. '30s', '5m', '1h 30m' or '2 days'")
    parts = {key: int(value or 0) for key, value in match.groupdict().items()}
    return float(parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"])


def parse_wait_until(text: str) -> float:
    """Epoch seconds of a WAIT ``until`` (``yyyy-MM-dd HH:mm[:ss] [zone]`` or ``yyyy-MM-dd``).

    A time without a zone, and the zones ``UTC``/``GMT``/``Z``, are UTC; ``+hh:mm`` offsets are
    understood. Raises ``ValueError``.
    """
    raw = text.strip()
    body, zone = raw, ""
    parts = raw.rsplit(" ", 1)
    if len(parts) == 2 and not parts[1][:1].isdigit():
        body, zone = parts[0], parts[1]
    elif len(parts) == 2 and parts[1][:1] in "+-" and ":" in parts[1]:
        body, zone = parts
    for layout in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            moment = datetime.strptime(body, layout)
            break
        except ValueError:
            continue
    else:
        raise ValueError(f"invalid WAIT until {text!r}; expected 'yyyy-MM-dd HH:mm[:ss] [UTC]' or 'yyyy-MM-dd'")
    if zone.upper() in ("", "UTC", "GMT", "Z"):
        return moment.replace(tzinfo=timezone.utc).timestamp()
    try:
        offset = datetime.strptime(zone.replace(":", ""), "%z").tzinfo
    except ValueError:
        raise ValueError(f"invalid WAIT until zone {zone!r}; use UTC or an offset such as +02:00") from None
    return moment.replace(tzinfo=offset).timestamp()


@dataclass(frozen=True)
class _Node:
    """Where one WorkflowTask sits in a definition."""

    task: dict[str, Any]
    siblings: list[dict[str, Any]]
    index: int
    container: _Node | None
    kind: str  # "root", "case", "branch", "loop" or "dynamic"

    @property
    def loop(self) -> _Node | None:
        """The DO_WHILE whose body holds this task (directly or nested), if any."""
        node = self.container
        while node is not None:
            if node.task["type"] == "DO_WHILE":
                return node
            node = node.container
        return None


def _index(tasks: list[dict[str, Any]], container: _Node | None, kind: str, nodes: dict[str, _Node]) -> None:
    for position, workflow_task in enumerate(tasks):
        node = _Node(workflow_task, tasks, position, container, kind)
        nodes[workflow_task["taskReferenceName"]] = node
        task_type = workflow_task["type"]
        if task_type in ("SWITCH", "DECISION"):
            for case in (workflow_task.get("decisionCases") or {}).values():
                _index(case, node, "case", nodes)
            _index(workflow_task.get("defaultCase") or [], node, "case", nodes)
        elif task_type == "FORK_JOIN":
            for branch in workflow_task.get("forkTasks") or []:
                _index(branch, node, "branch", nodes)
        elif task_type == "DO_WHILE":
            _index(workflow_task.get("loopOver") or [], node, "loop", nodes)


def base_reference(reference: str) -> str:
    """A loop body reference without its ``__<iteration>`` suffix."""
    return _ITERATION_SUFFIX.sub("", reference)


class Decider:
    """Schedules tasks and decides workflow outcomes (loop thread only).

    ``on_terminal`` is called once for every workflow that reaches a terminal status;
    ``on_change`` after every decision about a workflow (for callers waiting on its progress).
    """

    def __init__(self, store: Store, metadata: Metadata, queues: TaskQueues, clock: ServerClock,
                 loop: asyncio.AbstractEventLoop, on_terminal: Callable[[WorkflowRecord], None],
                 jitter: Callable[[int], int] = lambda high: random.randint(0, high)) -> None:
        self._store = store
        self._metadata = metadata
        self._queues = queues
        self._clock = clock
        self._loop = loop
        self._on_terminal = on_terminal
        self._jitter = jitter
        self._deciding: set[str] = set()
        self._again: set[str] = set()
        self.change_listeners: list[Callable[[WorkflowRecord], None]] = []

    # -- entry points ----------------------------------------------------------------------
    def start(self, definition: dict[str, Any], workflow_input: dict[str, Any], correlation_id: str | None,
              priority: int, task_to_domain: dict[str, str], *, parent: tuple[str, str] | None = None
              ) -> WorkflowRecord:
        """Create a workflow and schedule its first task(s) (queued before this returns)."""
        workflow = WorkflowRecord(str(uuid.uuid4()), definition, workflow_input, correlation_id, priority,
                                  task_to_domain, self._clock.now_ms())
        if parent is not None:
            workflow.parent_workflow_id, workflow.parent_task_id = parent
        _index(definition["tasks"], None, "root", workflow.nodes)
        self._store.workflows[workflow.workflow_id] = workflow
        _log_begin(workflow, "started")
        self._begin(workflow)
        return workflow

    def _begin(self, workflow: WorkflowRecord) -> None:
        self._deciding.add(workflow.workflow_id)
        try:
            self._schedule(workflow, workflow.definition["tasks"][0], 0)
        finally:
            self._deciding.discard(workflow.workflow_id)
        self.decide(workflow)

    def task_terminal(self, workflow: WorkflowRecord, task: dict[str, Any]) -> None:
        """React to ``task`` having just reached a terminal status (update, timeout, system task)."""
        task["executed"] = False
        workflow.update_time = self._clock.now_ms()
        self.decide(workflow)

    def decide(self, workflow: WorkflowRecord) -> None:
        """Act on every finished task not acted on yet, until nothing changes; then maybe complete.

        Re-entrant calls for a workflow being decided (a sub-workflow ending inside it) are
        folded into the running decision.
        """
        workflow_id = workflow.workflow_id
        if workflow_id in self._deciding:
            self._again.add(workflow_id)
            return
        self._deciding.add(workflow_id)
        try:
            self._decide(workflow)
        finally:
            self._deciding.discard(workflow_id)
            self._again.discard(workflow_id)
        for listener in list(self.change_listeners):
            listener(workflow)

    def _decide(self, workflow: WorkflowRecord) -> None:
        passes = 0
        while not workflow.terminal and workflow.status != "PAUSED":
            passes += 1
            if passes > MAX_PASSES_PER_DECISION:
                # Only system tasks finish without waiting: a loop of them that never ends would
                # hold the server's thread forever.
                self._fail_workflow(workflow, f"The dev server stopped deciding this workflow after "
                                              f"{MAX_PASSES_PER_DECISION} steps that waited for nothing "
                                              "(a DO_WHILE of system tasks whose loopCondition stays true?)")
                return
            self._again.discard(workflow.workflow_id)
            progressed = False
            for task in list(workflow.tasks):
                if task["status"] in TERMINAL_TASK_STATUSES and not task["executed"]:
                    task["executed"] = True
                    progressed = True
                    self._settle(workflow, task)
                    if workflow.terminal or workflow.status == "PAUSED":
                        return
            for task in list(workflow.tasks):
                if task["taskType"] == "JOIN" and task["status"] == "IN_PROGRESS" and self._join_ready(workflow, task):
                    progressed = True
            if not progressed and workflow.workflow_id not in self._again:
                break
        if (not workflow.terminal and workflow.status != "PAUSED" and workflow.reached_end
                and all(t["status"] in TERMINAL_TASK_STATUSES for t in workflow.tasks)):
            self._complete(workflow, None)

    # -- acting on a finished task ---------------------------------------------------------
    def _settle(self, workflow: WorkflowRecord, task: dict[str, Any]) -> None:
        status = task["status"]
        if status in _SUCCESSFUL:
            if task["taskType"] == "TERMINATE" and status == "COMPLETED":
                self._complete(workflow, task)
                return
            self._follow(workflow, task)
            return
        if status in _RETRIABLE and self._retry(workflow, task):
            return
        if task["workflowTask"].get("optional"):
            task["status"] = "COMPLETED_WITH_ERRORS"
            self._follow(workflow, task)
            return
        self._fail(workflow, task, _WORKFLOW_STATUS_FOR_TASK.get(status, "FAILED"))

    def _node(self, workflow: WorkflowRecord, task: dict[str, Any]) -> _Node:
        return workflow.nodes[base_reference(task["referenceTaskName"]) if task["loopOverTask"]
                              else task["referenceTaskName"]]

    def _follow(self, workflow: WorkflowRecord, task: dict[str, Any]) -> None:
        """Schedule what comes after the finished ``task``."""
        node = self._node(workflow, task)
        iteration = task["iteration"] if task["loopOverTask"] else 0
        task_type = task["workflowTask"]["type"]
        if task_type in ("SWITCH", "DECISION"):
            case = workflow.chosen.get(task["taskId"]) or []
            if case:
                self._schedule(workflow, case[0], iteration)
                return
        elif task_type == "FORK_JOIN":
            for branch in task["workflowTask"].get("forkTasks") or []:
                if branch:
                    self._schedule(workflow, branch[0], iteration)
        self._after(workflow, node, iteration)

    def _after(self, workflow: WorkflowRecord, node: _Node, iteration: int) -> None:
        """Schedule the task after ``node`` in its list, or close the list it ends."""
        if node.index + 1 < len(node.siblings):
            self._schedule(workflow, node.siblings[node.index + 1], iteration)
            return
        container = node.container
        if node.kind == "root":
            workflow.reached_end = True
        elif node.kind == "case" and container is not None:
            self._after(workflow, container, iteration)
        elif node.kind == "loop" and container is not None:
            loop_task = self._latest(workflow, container.task["taskReferenceName"])
            if loop_task is not None and loop_task["status"] == "IN_PROGRESS":
                self._loop_iteration_done(workflow, loop_task)
        # "branch" and "dynamic": the JOIN waiting on this task sees it finished.

    def _latest(self, workflow: WorkflowRecord, reference: str) -> dict[str, Any] | None:
        for task in reversed(workflow.tasks):
            if task["referenceTaskName"] == reference:
                return task
        return None

    def _retry(self, workflow: WorkflowRecord, task: dict[str, Any]) -> bool:
        workflow_task = task["workflowTask"]
        registered = self._metadata.task_defs.get(task["taskDefName"])
        task_def = registered or (TASK_DEF_DEFAULTS if workflow_task["type"] in WORKER_TASK_TYPES else None)
        allowed = workflow_task.get("retryCount")
        if allowed is None:
            allowed = task_def.get("retryCount", 3) if task_def is not None else 0
        attempt = task["retryCount"]
        if attempt >= allowed:
            return False
        task["retried"] = True
        delay = retry_delay_seconds(task_def or TASK_DEF_DEFAULTS, attempt, self._jitter)
        node = self._node(workflow, task)
        self._schedule(workflow, node.task, task["iteration"], delay=delay, retry_count=attempt + 1,
                       retried_task_id=task["taskId"], input_data=task["inputData"] if node.kind == "dynamic" else None)
        return True

    # -- scheduling ------------------------------------------------------------------------
    def _schedule(self, workflow: WorkflowRecord, workflow_task: dict[str, Any], iteration: int, *,
                  delay: float | None = None, retry_count: int = 0, retried_task_id: str | None = None,
                  input_data: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Create the task for ``workflow_task`` (and run it when it is a synchronous system task)."""
        reference = workflow_task["taskReferenceName"]
        if reference in workflow.skipped_refs:
            workflow.skipped_refs.discard(reference)
            self._after(workflow, workflow.nodes[reference], iteration)
            return None
        task_type = workflow_task["type"]
        if input_data is None:
            input_data = resolve(workflow_task.get("inputParameters") or {}, self._lookup(workflow))
        name = workflow_task["name"]
        if task_type == "DYNAMIC":
            param = workflow_task.get("dynamicTaskNameParam") or "taskToExecute"
            dynamic_name = input_data.get(param)
            if not isinstance(dynamic_name, str) or not dynamic_name:
                self._fail_workflow(workflow, f"Cannot map a dynamic task based on the parameter and input. "
                                              f"Parameter= {param}, input= {to_java_string(input_data)}")
                return None
            name = dynamic_name
        in_loop = iteration > 0
        task = self._new_task(workflow, workflow_task, name, input_data, iteration, in_loop, retry_count,
                              retried_task_id)
        if task_type in WORKER_TASK_TYPES:
            task["taskType"] = name
            task_def = self._metadata.effective_task_def(name)
            for key, default in (task_def.get("inputTemplate") or {}).items():
                if input_data.get(key) is None:
                    input_data[key] = copy.deepcopy(default)
            wait = _whole(workflow_task.get("startDelay", 0) if delay is None else delay)
            task["responseTimeoutSeconds"] = task_def.get("responseTimeoutSeconds", 3600)
            task["rateLimitPerFrequency"] = task_def.get("rateLimitPerFrequency", 0)
            task["rateLimitFrequencyInSeconds"] = task_def.get("rateLimitFrequencyInSeconds", 1)
            task["startDelayInSeconds"] = wait
            task["callbackAfterSeconds"] = wait
            domain = self._domain_for(workflow, name)
            if domain is not None:
                task["domain"] = domain
            self._add(workflow, task)
            self._queues.push((name, domain), task["taskId"], wait)
            return task
        task["taskType"] = task_type
        task["callbackFromWorker"] = False
        self._add(workflow, task)
        if delay:
            # A system task's retry waits on the server clock like a worker task's would.
            task["callbackAfterSeconds"] = _whole(delay)
            self._clock.call_later(delay, self._run_delayed, workflow.workflow_id, task["taskId"])
        else:
            self._run_system(workflow, task)
        return task

    def _run_delayed(self, workflow_id: str, task_id: str) -> None:
        workflow = self._store.workflows.get(workflow_id)
        task = self._store.tasks.get(task_id)
        if workflow is None or task is None or workflow.terminal or task["status"] != "SCHEDULED":
            return
        task["callbackAfterSeconds"] = 0
        self._run_system(workflow, task)
        if task["status"] in TERMINAL_TASK_STATUSES:
            self.decide(workflow)

    def _new_task(self, workflow: WorkflowRecord, workflow_task: dict[str, Any], name: str,
                  input_data: dict[str, Any], iteration: int, in_loop: bool, retry_count: int,
                  retried_task_id: str | None) -> dict[str, Any]:
        now = self._clock.now_ms()
        reference = workflow_task["taskReferenceName"]
        task: dict[str, Any] = {
            "taskType": name,
            "status": "SCHEDULED",
            "inputData": input_data,
            "referenceTaskName": f"{reference}__{iteration}" if in_loop else reference,
            "retryCount": retry_count,
            "seq": len(workflow.tasks) + 1,
            "pollCount": 0,
            "taskDefName": name,
            "scheduledTime": now,
            "startTime": 0,
            "endTime": 0,
            "updateTime": now,
            "startDelayInSeconds": 0,
            "retried": False,
            "executed": False,
            "callbackFromWorker": True,
            "responseTimeoutSeconds": 0,
            "workflowInstanceId": workflow.workflow_id,
            "workflowType": workflow.definition["name"],
            "taskId": str(uuid.uuid4()),
            "callbackAfterSeconds": 0,
            "outputData": {},
            "workflowTask": workflow_task,
            "rateLimitPerFrequency": 0,
            "rateLimitFrequencyInSeconds": 1,
            "workflowPriority": workflow.priority,
            "iteration": iteration,
            "subworkflowChanged": False,
            "loopOverTask": in_loop,
            "firstStartTime": 0,
            "queueWaitTime": 0,
        }
        if workflow.correlation_id is not None:
            task["correlationId"] = workflow.correlation_id
        if retried_task_id is not None:
            task["retriedTaskId"] = retried_task_id
        return task

    def _add(self, workflow: WorkflowRecord, task: dict[str, Any]) -> None:
        self._store.tasks[task["taskId"]] = task
        workflow.tasks.append(task)
        workflow.by_ref[task["referenceTaskName"]] = task
        if task["loopOverTask"]:
            # ${ref.output} outside the loop reads the latest iteration, as on the server.
            workflow.by_ref[base_reference(task["referenceTaskName"])] = task

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

    # -- system tasks ----------------------------------------------------------------------
    def _finish_task(self, task: dict[str, Any], status: str, output: dict[str, Any] | None = None,
                     reason: str | None = None) -> None:
        now = self._clock.now_ms()
        task["status"] = status
        if output is not None:
            task["outputData"] = output
        if reason is not None:
            task["reasonForIncompletion"] = reason
        if not task["startTime"]:
            task["startTime"] = now
        task["endTime"] = now
        task["updateTime"] = now

    def _start_task(self, task: dict[str, Any]) -> None:
        now = self._clock.now_ms()
        task["status"] = "IN_PROGRESS"
        task["startTime"] = now
        task["updateTime"] = now

    def _run_system(self, workflow: WorkflowRecord, task: dict[str, Any]) -> None:
        """Run a system task: finish it at once, or start it and arrange for it to finish later."""
        workflow_task = task["workflowTask"]
        task_type = workflow_task["type"]
        data = task["inputData"]
        try:
            if task_type in ("SWITCH", "DECISION"):
                case = self._choose_case(workflow_task, data)
                cases = workflow_task.get("decisionCases") or {}
                workflow.chosen[task["taskId"]] = cases.get(case, workflow_task.get("defaultCase") or [])
                self._finish_task(task, "COMPLETED", {"evaluationResult": [case]})
            elif task_type == "FORK_JOIN":
                self._finish_task(task, "COMPLETED")
            elif task_type == "FORK_JOIN_DYNAMIC":
                self._dynamic_fork(workflow, task)
            elif task_type == "JOIN":
                task["inputData"] = {**data, "joinOn": self._join_on(workflow, task)}
                self._start_task(task)
            elif task_type == "DO_WHILE":
                self._start_task(task)
                task["iteration"] = 1
                task["outputData"] = {"iteration": 1}
                self._schedule(workflow, workflow_task["loopOver"][0], 1)
            elif task_type == "SUB_WORKFLOW":
                self._start_sub_workflow(workflow, task)
            elif task_type == "TERMINATE":
                output = data.get("workflowOutput")
                self._finish_task(task, "COMPLETED", output if isinstance(output, dict) else {})
            elif task_type == "SET_VARIABLE":
                workflow.variables.update(copy.deepcopy(data))
                self._finish_task(task, "COMPLETED")
            elif task_type == "WAIT":
                self._start_wait(workflow, task)
            elif task_type == "HUMAN":
                self._start_task(task)
            elif task_type == "INLINE":
                evaluator = data.get("evaluatorType", "javascript")
                result = evaluate(evaluator, str(data.get("expression", "")), data)
                self._finish_task(task, "COMPLETED", {"result": result})
            elif task_type == "JSON_JQ_TRANSFORM":
                results = evaluate_jq(str(data.get("queryExpression", "")), data)
                self._finish_task(task, "COMPLETED", {"result": results[0] if results else None,
                                                      "resultList": results})
            elif task_type == "HTTP":
                self._start_http(workflow, task)
            else:  # refused at registration; kept as a clear failure should a definition slip through
                self._finish_task(task, "FAILED_WITH_TERMINAL_ERROR",
                                  reason=f"task type {task_type} is not supported by the dev server")
        except EvaluationError as exc:
            output = {"error": str(exc)} if task_type == "JSON_JQ_TRANSFORM" else None
            self._finish_task(task, "FAILED", output, reason=f"{task_type} task failed: {exc}")

    def _choose_case(self, workflow_task: dict[str, Any], data: dict[str, Any]) -> str:
        if workflow_task["type"] == "DECISION":
            if workflow_task.get("caseExpression"):
                value = evaluate_javascript(workflow_task["caseExpression"], data)
            else:
                value = data.get(workflow_task.get("caseValueParam") or "")
        else:
            evaluator = workflow_task.get("evaluatorType") or "value-param"
            value = evaluate(evaluator, workflow_task.get("expression") or "", data)
        return to_java_string(value)

    def _dynamic_fork(self, workflow: WorkflowRecord, task: dict[str, Any]) -> None:
        workflow_task = task["workflowTask"]
        data = task["inputData"]
        tasks_param = workflow_task.get("dynamicForkTasksParam") or "dynamicTasks"
        inputs_param = workflow_task.get("dynamicForkTasksInputParamName") or "dynamicTasksInput"
        forked = data.get(tasks_param)
        inputs = data.get(inputs_param) or {}
        if not isinstance(forked, list) or not all(
                isinstance(t, dict) and isinstance(t.get("name"), str) and isinstance(t.get("taskReferenceName"), str)
                for t in forked) or not isinstance(inputs, dict):
            self._finish_task(task, "FAILED_WITH_TERMINAL_ERROR", reason=(
                f"Input '{tasks_param}' must be a list of tasks with name and taskReferenceName, and "
                f"'{inputs_param}' a map of reference name to input; got {to_java_string(forked)}"))
            return
        refused = sorted({str(t.get("type")) for t in forked if t.get("type", "SIMPLE") not in DYNAMIC_FORK_TYPES})
        if refused:
            # Never silently turned into worker tasks that no worker would ever poll.
            self._finish_task(task, "FAILED_WITH_TERMINAL_ERROR", reason=(
                f"Input '{tasks_param}' lists task type(s) {', '.join(refused)} that the dev server cannot fork; "
                f"it forks {', '.join(sorted(DYNAMIC_FORK_TYPES))}"))
            return
        node = self._node(workflow, task)
        iteration = task["iteration"] if task["loopOverTask"] else 0
        refs = []
        self._finish_task(task, "COMPLETED", {"forkedTasks": [t["taskReferenceName"] for t in forked]})
        task["inputData"] = {**data, "forkedTasks": [t["taskReferenceName"] for t in forked],
                             "forkedTaskDefs": forked}
        for entry in forked:
            wt = {"type": "SIMPLE", "inputParameters": {}, "optional": False, "startDelay": 0, **copy.deepcopy(entry)}
            reference = wt["taskReferenceName"]
            refs.append(reference)
            workflow.nodes[reference] = _Node(wt, [wt], 0, node, "dynamic")
            given = inputs.get(reference)
            input_data = copy.deepcopy(given) if isinstance(given, dict) else {}
            if wt["type"] not in WORKER_TASK_TYPES and isinstance(wt["inputParameters"], dict):
                # A system task's own settings (expression, http_request...) sit in its inputParameters.
                input_data = {**resolve(wt["inputParameters"], self._lookup(workflow)), **input_data}
            self._schedule(workflow, wt, iteration, input_data=input_data)

    def _join_on(self, workflow: WorkflowRecord, join: dict[str, Any]) -> list[str]:
        node = self._node(workflow, join)
        if node.index > 0:
            previous = node.siblings[node.index - 1]
            if previous["type"] == "FORK_JOIN_DYNAMIC":
                fork = self._latest(workflow, self._iterated(previous["taskReferenceName"], join))
                if fork is not None:
                    return list(fork["outputData"].get("forkedTasks") or [])
        return [self._iterated(ref, join) for ref in join["workflowTask"].get("joinOn") or []]

    @staticmethod
    def _iterated(reference: str, beside: dict[str, Any]) -> str:
        return f"{reference}__{beside['iteration']}" if beside["loopOverTask"] else reference

    def _join_ready(self, workflow: WorkflowRecord, join: dict[str, Any]) -> bool:
        """Complete the JOIN when every task it joins on has finished; True when it did."""
        output: dict[str, Any] = {}
        for reference in join["inputData"].get("joinOn") or []:
            task = self._latest(workflow, reference)
            if task is None or task["status"] not in TERMINAL_TASK_STATUSES or not task["executed"] or task["retried"]:
                return False
            output[base_reference(reference) if task["loopOverTask"] else reference] = task["outputData"]
        self._finish_task(join, "COMPLETED", output)
        return True

    def _loop_iteration_done(self, workflow: WorkflowRecord, loop_task: dict[str, Any]) -> None:
        """The body of ``loop_task`` finished an iteration: record it and loop again or finish."""
        workflow_task = loop_task["workflowTask"]
        iteration = loop_task["iteration"]
        loop_ref = workflow_task["taskReferenceName"]
        body: dict[str, Any] = {}
        for task in workflow.tasks:
            if task["loopOverTask"] and task["iteration"] == iteration and not task["retried"]:
                node = self._node(workflow, task)
                if node.loop is not None and node.loop.task["taskReferenceName"] == loop_ref:
                    body[base_reference(task["referenceTaskName"])] = task["outputData"]
        output = dict(loop_task["outputData"])
        output[str(iteration)] = body
        output["iteration"] = iteration
        loop_task["outputData"] = output
        bindings = resolve(workflow_task.get("inputParameters") or {}, self._lookup(workflow))
        bindings[loop_ref] = output
        bindings.update(body)
        try:
            again = evaluate_javascript(workflow_task.get("loopCondition") or "false", bindings)
        except EvaluationError as exc:
            self._finish_task(loop_task, "FAILED", reason=f"DO_WHILE loopCondition failed: {exc}")
            return
        if again is True or (isinstance(again, str) and again.lower() == "true"):
            loop_task["iteration"] = iteration + 1
            loop_task["outputData"] = {**output, "iteration": iteration + 1}
            loop_task["updateTime"] = self._clock.now_ms()
            self._schedule(workflow, workflow_task["loopOver"][0], iteration + 1)
            return
        self._finish_task(loop_task, "COMPLETED")

    def _start_wait(self, workflow: WorkflowRecord, task: dict[str, Any]) -> None:
        data = task["inputData"]
        self._start_task(task)
        try:
            if data.get("duration") not in (None, ""):
                seconds = parse_wait_duration(str(data["duration"]))
            elif data.get("until") not in (None, ""):
                seconds = parse_wait_until(str(data["until"])) - self._clock.time()
            else:
                return  # waits until it is updated through the API
        except ValueError as exc:
            self._finish_task(task, "FAILED_WITH_TERMINAL_ERROR", reason=str(exc))
            return
        task["callbackAfterSeconds"] = _whole(max(0.0, round(seconds, 3)))
        self._clock.call_later(seconds, self._wait_over, workflow.workflow_id, task["taskId"])

    def _wait_over(self, workflow_id: str, task_id: str) -> None:
        workflow = self._store.workflows.get(workflow_id)
        task = self._store.tasks.get(task_id)
        if workflow is None or task is None or task["status"] != "IN_PROGRESS" or workflow.terminal:
            return
        self._finish_task(task, "COMPLETED")
        self.task_terminal(workflow, task)

    def _start_sub_workflow(self, workflow: WorkflowRecord, task: dict[str, Any]) -> None:
        param = task["workflowTask"].get("subWorkflowParam") or {}
        name, version = str(param.get("name")), param.get("version")
        definition = self._metadata.find_workflow_def(name, version if isinstance(version, int) else None)
        if definition is None:
            self._finish_task(task, "FAILED_WITH_TERMINAL_ERROR",
                              reason=f"No such workflow defined. name={name}, version={version}")
            return
        self._start_task(task)
        domains = param.get("taskToDomain") if isinstance(param.get("taskToDomain"), dict) else None
        child = self.start(definition, copy.deepcopy(task["inputData"]), workflow.correlation_id, workflow.priority,
                           dict(domains if domains is not None else workflow.task_to_domain),
                           parent=(workflow.workflow_id, task["taskId"]))
        task["subWorkflowId"] = child.workflow_id
        task["outputData"] = {**task["outputData"], "subWorkflowId": child.workflow_id}
        if child.terminal:
            self._child_ended(child)

    def _child_ended(self, child: WorkflowRecord) -> None:
        """A sub-workflow ended: finish its task in the parent the way the child ended."""
        if child.parent_task_id is None or child.parent_workflow_id is None:
            return
        task = self._store.tasks.get(child.parent_task_id)
        parent = self._store.workflows.get(child.parent_workflow_id)
        if task is None or parent is None or task["status"] in TERMINAL_TASK_STATUSES:
            return
        output = {**child.output, "subWorkflowId": child.workflow_id}
        if child.status == "COMPLETED":
            self._finish_task(task, "COMPLETED", output)
        else:
            reason = child.reason or f"Sub workflow {child.workflow_id} ended as {child.status}"
            self._finish_task(task, "FAILED", output, reason=reason)
        self.task_terminal(parent, task)

    def _start_http(self, workflow: WorkflowRecord, task: dict[str, Any]) -> None:
        try:
            call = http_call_from_input(task["inputData"])
        except ValueError as exc:
            self._finish_task(task, "FAILED_WITH_TERMINAL_ERROR", reason=str(exc))
            return
        self._start_task(task)
        pending = self._loop.run_in_executor(None, perform_http_call, call)
        pending.add_done_callback(lambda done: self._http_done(workflow.workflow_id, task["taskId"], call, done))

    def _http_done(self, workflow_id: str, task_id: str, call: HttpCall, done: asyncio.Future[Any]) -> None:
        workflow = self._store.workflows.get(workflow_id)
        task = self._store.tasks.get(task_id)
        if workflow is None or task is None or task["status"] != "IN_PROGRESS" or workflow.terminal:
            return
        if done.cancelled():
            return
        error = done.exception()
        if error is not None:
            self._finish_task(task, "FAILED", reason=f"Failed to invoke HTTP task due to: {error}")
        else:
            response = done.result()
            ok = 200 <= response["statusCode"] < 300
            reason = None if ok else (to_java_string(response.get("body"))
                                      if response.get("body") not in (None, "") else
                                      f"HTTP {response['statusCode']} from {call.method} {call.uri}")
            self._finish_task(task, "COMPLETED" if ok else "FAILED", {"response": response}, reason=reason)
        self.task_terminal(workflow, task)

    # -- outcomes --------------------------------------------------------------------------
    def _lookup(self, workflow: WorkflowRecord) -> Lookup:
        def lookup(head: str) -> Any:
            if head == "workflow":
                return workflow.expression_document()
            task = workflow.by_ref.get(head)
            return task_expression_document(task) if task is not None else None

        return lookup

    def _output(self, workflow: WorkflowRecord, last_task: dict[str, Any] | None) -> dict[str, Any]:
        parameters = workflow.definition.get("outputParameters")
        if parameters:
            resolved = resolve(parameters, self._lookup(workflow))
            return resolved if isinstance(resolved, dict) else {}
        if last_task is None:
            return {}
        return dict(last_task["outputData"])

    def _complete(self, workflow: WorkflowRecord, terminate_task: dict[str, Any] | None) -> None:
        if terminate_task is None:
            workflow.status = "COMPLETED"
            workflow.output = self._output(workflow, workflow.tasks[-1] if workflow.tasks else None)
            self._finish(workflow)
            return
        data = terminate_task["inputData"]
        status = data.get("terminationStatus", "COMPLETED")
        reason = data.get("terminationReason")
        if not isinstance(reason, str) or not reason.strip():
            reason = f"Workflow is {status} by TERMINATE task: {terminate_task['taskId']}"
        workflow.status = status if status in ("COMPLETED", "FAILED", "TERMINATED") else "COMPLETED"
        workflow.reason = reason
        output = data.get("workflowOutput")
        workflow.output = output if isinstance(output, dict) else self._output(workflow, terminate_task)
        self._finish(workflow)

    def _fail(self, workflow: WorkflowRecord, task: dict[str, Any], status: str) -> None:
        reason = to_java_string(task.get("reasonForIncompletion"))
        if task["referenceTaskName"] not in workflow.failed_refs:
            workflow.failed_refs.append(task["referenceTaskName"])
        if task["taskDefName"] not in workflow.failed_names:
            workflow.failed_names.append(task["taskDefName"])
        workflow.status = status
        workflow.reason = f"Task {task['taskId']} failed with status: {status} and reason: '{reason}'"
        workflow.output = self._output(workflow, task)
        self._finish(workflow)

    def _fail_workflow(self, workflow: WorkflowRecord, reason: str) -> None:
        workflow.status = "FAILED"
        workflow.reason = reason
        self._finish(workflow)

    def _finish(self, workflow: WorkflowRecord) -> None:
        """Cancel what is unfinished (sub-workflows are terminated), stamp the end, tell watchers."""
        now = self._clock.now_ms()
        for task in workflow.tasks:
            if task["status"] not in TERMINAL_TASK_STATUSES:
                self._queues.remove(task["taskId"])
                task["status"] = "CANCELED"
                task["endTime"] = now
                task["updateTime"] = now
                child = self._store.workflows.get(task.get("subWorkflowId") or "")
                if child is not None and not child.terminal:
                    self.terminate(child, f"Parent workflow has been terminated with status {workflow.status}")
        workflow.end_time = now
        workflow.update_time = now
        _log.info("Workflow %s (%s v%s) %s after %s", workflow.workflow_id, workflow.definition["name"],
                  workflow.definition["version"], workflow.status, _duration(now - workflow.create_time))
        self._on_terminal(workflow)
        self._child_ended(workflow)
        for listener in list(self.change_listeners):
            listener(workflow)

    # -- management ------------------------------------------------------------------------
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
            workflow.update_time = self._clock.now_ms()
            return
        workflow.output = self._output(workflow, workflow.tasks[-1] if workflow.tasks else None)
        self._finish(workflow)

    def remove(self, workflow: WorkflowRecord) -> None:
        """Forget a workflow and its tasks (unfinished tasks leave their queues first)."""
        for task in workflow.tasks:
            self._drop_task(task)
        del self._store.workflows[workflow.workflow_id]

    def _drop_task(self, task: dict[str, Any]) -> None:
        self._queues.remove(task["taskId"])
        self._store.tasks.pop(task["taskId"], None)
        self._store.logs.pop(task["taskId"], None)

    def pause(self, workflow: WorkflowRecord) -> None:
        """PAUSED: tasks already scheduled still run, nothing new is scheduled. 409 when it ended."""
        if workflow.terminal:
            raise ApiError(409, f"Workflow {workflow.workflow_id} has ended, status cannot be updated.")
        workflow.status = "PAUSED"
        workflow.update_time = self._clock.now_ms()

    def resume(self, workflow: WorkflowRecord) -> None:
        """Back to RUNNING and decided at once. 409 when it is not PAUSED."""
        if workflow.status != "PAUSED":
            raise ApiError(409, f"The workflow {workflow.workflow_id} is not PAUSED so cannot resume. "
                                f"Current status is {workflow.status}.")
        workflow.status = "RUNNING"
        workflow.update_time = self._clock.now_ms()
        self.decide(workflow)

    def _reopen(self, workflow: WorkflowRecord) -> None:
        workflow.status = "RUNNING"
        workflow.reason = None
        workflow.end_time = 0
        workflow.update_time = self._clock.now_ms()

    def restart(self, workflow: WorkflowRecord, use_latest_definition: bool) -> None:
        """Run an ended workflow again from its first task, same id. 409 while it runs."""
        if not workflow.terminal:
            raise ApiError(409, f"Workflow: {workflow.workflow_id} is not in terminal state, unable to restart.")
        definition = workflow.definition
        if use_latest_definition:
            latest = self._metadata.find_workflow_def(definition["name"], None)
            if latest is None:
                raise ApiError(404, f"Unable to find latest definition for {workflow.workflow_id}")
            definition = latest
        if not definition.get("restartable", True) and workflow.status == "COMPLETED":
            raise ApiError(404, f"Workflow: {workflow.workflow_id} is non-restartable")
        self._reset(workflow, definition)
        workflow.create_time = self._clock.now_ms()
        _log_begin(workflow, "restarted")
        self._begin(workflow)

    def _reset(self, workflow: WorkflowRecord, definition: dict[str, Any]) -> None:
        for task in workflow.tasks:
            self._drop_task(task)
        workflow.definition = definition
        workflow.nodes.clear()
        _index(definition["tasks"], None, "root", workflow.nodes)
        workflow.tasks.clear()
        workflow.by_ref.clear()
        workflow.chosen.clear()
        workflow.skipped_refs.clear()
        workflow.failed_refs.clear()
        workflow.failed_names.clear()
        workflow.reached_end = False
        workflow.output = {}
        workflow.last_retried_time = 0
        self._reopen(workflow)

    def retry(self, workflow: WorkflowRecord) -> None:
        """Reschedule the last failed (or canceled) instance of each task of an ended workflow.

        404 while it runs and 409 when nothing can be retried, with the server's messages.
        """
        if not workflow.terminal:
            raise ApiError(404, f"Workflow is still running.  status={workflow.status}")
        if not workflow.tasks:
            raise ApiError(409, "Workflow has not started yet")
        retriable: dict[str, dict[str, Any]] = {}
        reopened: list[dict[str, Any]] = []
        for task in workflow.tasks:
            status, task_type = task["status"], task["workflowTask"]["type"]
            if status == "CANCELED" and task_type in ("JOIN", "DO_WHILE"):
                reopened.append(task)
            elif status in ("FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT", "CANCELED"):
                retriable[task["referenceTaskName"]] = task
            else:
                retriable.pop(task["referenceTaskName"], None)
        if not retriable and workflow.status != "TIMED_OUT":
            raise ApiError(409, "There are no retryable tasks! Use restart if you want to attempt entire "
                                "workflow execution again.")
        self._reopen(workflow)
        workflow.last_retried_time = self._clock.now_ms()
        _log_begin(workflow, "retried")
        for task in reopened:
            task["status"] = "IN_PROGRESS"
            task["endTime"] = 0
        self._deciding.add(workflow.workflow_id)
        try:
            for task in sorted(retriable.values(), key=lambda t: t["seq"]):
                task["retried"] = True
                node = self._node(workflow, task)
                self._schedule(workflow, node.task, task["iteration"], retry_count=task["retryCount"] + 1,
                               retried_task_id=task["taskId"],
                               input_data=copy.deepcopy(task["inputData"]) if node.kind == "dynamic" else None)
        finally:
            self._deciding.discard(workflow.workflow_id)
        self.decide(workflow)

    def rerun(self, workflow: WorkflowRecord, request: dict[str, Any]) -> None:
        """Run again from ``reRunFromTaskId`` (tasks after it are dropped), or from the start when
        none is given; ``workflowInput``, ``taskInput`` and ``correlationId`` replace the old ones.
        400 when the task is not in the workflow."""
        task_id = request.get("reRunFromTaskId")
        workflow_input = request.get("workflowInput")
        task_input = request.get("taskInput")
        if request.get("correlationId") is not None:
            workflow.correlation_id = request["correlationId"]
        if workflow_input is not None:
            workflow.input = workflow_input
        if task_id is None:
            self._reset(workflow, workflow.definition)
            _log_begin(workflow, "rerun from the start")
            self._begin(workflow)
            return
        found = next((t for t in workflow.tasks if t["taskId"] == task_id), None)
        if found is None:
            raise ApiError(400, f"Task {task_id} not found")
        kept = [t for t in workflow.tasks if t["seq"] < found["seq"]]
        for task in workflow.tasks[len(kept):]:
            self._drop_task(task)
        workflow.tasks[:] = kept
        workflow.by_ref.clear()
        for task in kept:
            workflow.by_ref[task["referenceTaskName"]] = task
            if task["loopOverTask"]:
                workflow.by_ref[base_reference(task["referenceTaskName"])] = task
        workflow.reached_end = False
        workflow.output = {}
        self._reopen(workflow)
        _log_begin(workflow, f"rerun from task {found['referenceTaskName']}")
        node = self._node(workflow, found)
        self._deciding.add(workflow.workflow_id)
        try:
            self._schedule(workflow, node.task, found["iteration"],
                           input_data=copy.deepcopy(task_input) if isinstance(task_input, dict) else None)
        finally:
            self._deciding.discard(workflow.workflow_id)
        self.decide(workflow)

    def skip(self, workflow: WorkflowRecord, reference: str, request: dict[str, Any]) -> None:
        """Mark a task that has not been scheduled yet as SKIPPED (with the given input and output);
        scheduling passes over it. 409 when the workflow is not RUNNING or the task was scheduled,
        404 when the definition has no such reference."""
        if workflow.status != "RUNNING":
            raise ApiError(409, f"The workflow {workflow.workflow_id} is not running so the task referenced by "
                                f"{reference} cannot be skipped")
        node = workflow.nodes.get(reference)
        if node is None:
            raise ApiError(404, f"The task referenced by {reference} does not exist in the WorkflowDefinition "
                                f"{workflow.definition['name']}")
        if reference in workflow.by_ref or reference in workflow.skipped_refs:
            raise ApiError(409, f"The task referenced {reference} has already been processed, cannot be skipped")
        task_input = request.get("taskInput")
        task_output = request.get("taskOutput")
        task = self._new_task(workflow, node.task, node.task["name"],
                              task_input if isinstance(task_input, dict) else {}, 0, False, 0, None)
        task["taskType"] = node.task["type"] if node.task["type"] not in WORKER_TASK_TYPES else node.task["name"]
        self._finish_task(task, "SKIPPED", task_output if isinstance(task_output, dict) else {})
        task["executed"] = True
        self._add(workflow, task)
        workflow.skipped_refs.add(reference)

    def reset_callbacks(self, workflow: WorkflowRecord) -> None:
        """Worker tasks waiting out a ``callbackAfterSeconds`` (or retry delay) become pollable now."""
        for task in workflow.tasks:
            if (task["status"] == "SCHEDULED" and task["workflowTask"]["type"] in WORKER_TASK_TYPES
                    and task["callbackAfterSeconds"] > 0):
                task["callbackAfterSeconds"] = 0
                self._queues.push((task["taskType"], task.get("domain")), task["taskId"], 0)

    def set_variables(self, workflow: WorkflowRecord, variables: dict[str, Any]) -> None:
        """Merge ``variables`` into the workflow's variables."""
        workflow.variables.update(copy.deepcopy(variables))
        workflow.update_time = self._clock.now_ms()


def _log_begin(workflow: WorkflowRecord, how: str) -> None:
    """The INFO line of a workflow that starts running (again); a child names its parent."""
    parent = f", child of {workflow.parent_workflow_id}" if workflow.parent_workflow_id else ""
    _log.info("Workflow %s (%s v%s) %s%s", workflow.workflow_id, workflow.definition["name"],
              workflow.definition["version"], how, parent)


def _duration(millis: int) -> str:
    """A duration for people: tenths of a second below a minute, then whole seconds or minutes."""
    seconds = max(millis, 0) / 1000.0
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        whole = round(seconds)
        return f"{whole // 60} min {whole % 60} s"
    return f"{seconds / 3600:.1f} h"
