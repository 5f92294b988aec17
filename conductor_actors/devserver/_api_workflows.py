"""Handlers of the workflow endpoints: start, read, manage (terminate, remove, ...) and search.

``WorkflowApi.start`` is also what ``DevServer.start_workflow`` calls, so the helper and HTTP
validate identically. Raises ``ApiError`` for error answers. Runs on the loop thread.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from ._errors import ApiError, ValidationFailure
from ._http import Outcome, Request, Response
from ._metadata import Metadata
from ._payloads import EMPTY_OK, NO_CONTENT, json_body, json_response, query_bool, query_int, query_str, text_response
from ._search import iso_time, parse_query, search_page, text_matches
from ._store import Store, WorkflowRecord
from ._workflows import Decider

__all__ = ["WorkflowApi"]

Handler = Callable[[Request, "tuple[str, ...]"], Outcome]


class WorkflowApi:
    """The ``/api/workflow`` endpoints."""

    def __init__(self, store: Store, metadata: Metadata, decider: Decider, loop: asyncio.AbstractEventLoop) -> None:
        self._store = store
        self._metadata = metadata
        self._decider = decider
        self._loop = loop

    def handlers(self) -> dict[str, Handler]:
        """Endpoint name -> handler."""
        return {
            "workflow_start": self.start_by_name,
            "workflow_start_request": self.start_by_request,
            "workflow_get": self.get,
            "workflow_status": self.status,
            "workflow_terminate": self.terminate,
            "workflow_remove": self.remove,
            "workflow_running": self.running,
            "workflow_correlated": self.correlated,
            "workflow_correlated_batch": self.correlated_batch,
            "workflow_search": self.search,
            "workflow_pause": self.pause,
            "workflow_resume": self.resume,
            "workflow_restart": self.restart,
            "workflow_retry": self.retry,
            "workflow_rerun": self.rerun,
            "workflow_skip_task": self.skip_task,
            "workflow_reset_callbacks": self.reset_callbacks,
            "workflow_variables": self.variables,
            "workflow_execute": self.execute,
        }

    def start(self, name: Any, version: Any, workflow_input: Any, correlation_id: Any, priority: Any,
              task_to_domain: Any, definition: dict[str, Any] | None = None) -> WorkflowRecord:
        """Validate, find the definition (latest when ``version`` is None; ``definition`` when the
        request carried one) and start the workflow."""
        if definition is not None:
            name, version = definition["name"], definition["version"]
        problems = []
        if not isinstance(name, str) or not name:
            problems.append(("name", "Workflow name cannot be null or empty", name))
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            problems.append(("version", "must be an integer", version))
        if priority is None:
            priority = 0
        if isinstance(priority, bool) or not isinstance(priority, int):
            problems.append(("priority", "must be an integer", priority))
        elif priority < 0:
            problems.append(("priority", "0 is the minimum priority value", priority))
        elif priority > 99:
            problems.append(("priority", "99 is the maximum priority value", priority))
        if workflow_input is not None and not isinstance(workflow_input, dict):
            problems.append(("input", "must be a JSON object", workflow_input))
        if correlation_id is not None and not isinstance(correlation_id, str):
            problems.append(("correlationId", "must be a string", correlation_id))
        if task_to_domain is not None and (
                not isinstance(task_to_domain, dict)
                or not all(isinstance(k, str) and isinstance(v, str) for k, v in task_to_domain.items())):
            problems.append(("taskToDomain", "must be a JSON object of strings", task_to_domain))
        if problems:
            raise ValidationFailure(problems)
        if definition is None:
            definition = self._metadata.find_workflow_def(name, version)
        if definition is None:
            shown = "null" if version is None else version
            raise ApiError(404, f"No such workflow defined. name={name}, version={shown}")
        return self._decider.start(definition, workflow_input or {}, correlation_id, priority,
                                   dict(task_to_domain or {}))

    def start_by_name(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``POST /api/workflow/{name}?version&correlationId&priority`` with the input map."""
        query = request.query
        workflow_input = json_body(request, allow_empty=True)
        if workflow_input is not None and not isinstance(workflow_input, dict):
            raise ApiError(400, "Workflow input must be a JSON object")
        workflow = self.start(params[0], query_int(query, "version", None), workflow_input,
                              query_str(query, "correlationId"), query_int(query, "priority", 0), None)
        return text_response(workflow.workflow_id)

    def start_by_request(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``POST /api/workflow`` with a StartWorkflowRequest."""
        body = json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "StartWorkflowRequest must be a JSON object")
        workflow = self.start(body.get("name"), body.get("version"), body.get("input"), body.get("correlationId"),
                              body.get("priority"), body.get("taskToDomain"), self._inline_definition(body))
        return text_response(workflow.workflow_id)

    def _inline_definition(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The request's own ``workflowDef`` (run as sent, not registered, as the server does), or None."""
        if body.get("workflowDef") is None:
            return None
        return self._metadata.inline_workflow_def(body["workflowDef"])

    def _find(self, workflow_id: str) -> WorkflowRecord:
        workflow = self._store.workflows.get(workflow_id)
        if workflow is None:
            raise ApiError(404, f"No such workflow found by id: {workflow_id}")
        return workflow

    def get(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/workflow/{id}?includeTasks=true``: the Workflow JSON, or 404."""
        include_tasks = query_bool(request.query, "includeTasks", True)
        return json_response(self._find(params[0]).to_json(include_tasks))

    def status(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/workflow/{id}/status?includeOutput&includeVariables``."""
        query = request.query
        workflow = self._find(params[0])
        return json_response(workflow.status_json(query_bool(query, "includeOutput", False),
                                                  query_bool(query, "includeVariables", False)))

    # -- management ------------------------------------------------------------------------
    def terminate(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``DELETE /api/workflow/{id}?reason=``: TERMINATED, unfinished tasks CANCELED; 200 empty.

        409 for a COMPLETED workflow; a TERMINATED one is left unchanged (200), like the server.
        """
        self._decider.terminate(self._find(params[0]), query_str(request.query, "reason"))
        return EMPTY_OK

    def remove(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``DELETE /api/workflow/{id}/remove[?archiveWorkflow=]``: forget it and its tasks; 200 empty."""
        query_bool(request.query, "archiveWorkflow", True)  # nothing to archive to: validated only
        self._decider.remove(self._find(params[0]))
        return EMPTY_OK

    def running(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/workflow/running/{name}?version=1&startTime=&endTime=``: ids, oldest first.

        Without a time range: the RUNNING (and PAUSED) ones of that version. With ``startTime`` and
        ``endTime`` (epoch ms): every workflow of that version created in the range, as the server does.
        """
        query = request.query
        version = query_int(query, "version", 1)
        start, end = query_int(query, "startTime", None), query_int(query, "endTime", None)
        found = []
        for workflow in self._store.workflows.values():
            definition = workflow.definition
            if definition["name"] != params[0] or definition["version"] != version:
                continue
            if start is not None and end is not None:
                if start <= workflow.create_time <= end:
                    found.append(workflow.workflow_id)
            elif not workflow.terminal:
                found.append(workflow.workflow_id)
        return json_response(found)

    def _correlated(self, name: str, correlation_id: str, include_closed: bool,
                    include_tasks: bool) -> list[dict[str, Any]]:
        return [workflow.to_json(include_tasks) for workflow in self._store.workflows.values()
                if workflow.definition["name"] == name and workflow.correlation_id == correlation_id
                and (include_closed or not workflow.terminal)]

    def correlated(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/workflow/{name}/correlated/{correlationId}?includeClosed&includeTasks``: a list."""
        query = request.query
        return json_response(self._correlated(params[0], params[1], query_bool(query, "includeClosed", False),
                                              query_bool(query, "includeTasks", False)))

    def correlated_batch(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``POST /api/workflow/{name}/correlated`` with a list of ids: ``{id: [Workflow]}``."""
        query = request.query
        ids = json_body(request)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(400, "The body must be a JSON list of correlation ids (strings)")
        closed, tasks = query_bool(query, "includeClosed", False), query_bool(query, "includeTasks", False)
        return json_response({i: self._correlated(params[0], i, closed, tasks) for i in ids})

    def search(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``GET /api/workflow/search?start&size&sort&freeText&query``: ``{totalHits, results}`` of
        WorkflowSummary, newest first unless ``sort`` says otherwise."""
        query = request.query
        matches = parse_query(query_str(query, "query"), _WORKFLOW_FIELDS)
        free_text = query_str(query, "freeText", "*")
        found = []
        for workflow in reversed(list(self._store.workflows.values())):
            facts = _workflow_facts(workflow)
            if matches(facts) and text_matches(free_text, {**facts, "input": workflow.input,
                                                           "output": workflow.output}):
                found.append(workflow_summary(workflow))
        return json_response(search_page(found, query_int(query, "start", 0), query_int(query, "size", 100),
                                         query_str(query, "sort")))


    def pause(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``PUT /api/workflow/{id}/pause``: PAUSED (nothing new is scheduled); 200 empty; 409 if ended."""
        self._decider.pause(self._find(params[0]))
        return EMPTY_OK

    def resume(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``PUT /api/workflow/{id}/resume``: RUNNING again and decided; 200 empty; 409 if not PAUSED."""
        self._decider.resume(self._find(params[0]))
        return EMPTY_OK

    def restart(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``POST /api/workflow/{id}/restart?useLatestDefinitions=false``: from the start; 204."""
        latest = query_bool(request.query, "useLatestDefinitions", False)
        self._decider.restart(self._find(params[0]), latest)
        return NO_CONTENT

    def retry(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``POST /api/workflow/{id}/retry[?resumeSubworkflowTasks=]``: the failed tasks again; 204."""
        query_bool(request.query, "resumeSubworkflowTasks", False)
        self._decider.retry(self._find(params[0]))
        return NO_CONTENT

    def rerun(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``POST /api/workflow/{id}/rerun`` with a RerunWorkflowRequest: text/plain workflow id."""
        workflow = self._find(params[0])
        body = json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "RerunWorkflowRequest must be a JSON object")
        problems = []
        for key in ("workflowInput", "taskInput"):
            if body.get(key) is not None and not isinstance(body[key], dict):
                problems.append((key, "must be a JSON object", body[key]))
        for key in ("reRunFromTaskId", "correlationId"):
            if body.get(key) is not None and not isinstance(body[key], str):
                problems.append((key, "must be a string", body[key]))
        if problems:
            raise ValidationFailure(problems)
        self._decider.rerun(workflow, body)
        return text_response(workflow.workflow_id)

    def skip_task(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``PUT /api/workflow/{id}/skiptask/{ref}`` with an optional SkipTaskRequest; 200 empty."""
        body = json_body(request, allow_empty=True) or {}
        if not isinstance(body, dict):
            raise ApiError(400, "SkipTaskRequest must be a JSON object")
        self._decider.skip(self._find(params[0]), params[1], body)
        return EMPTY_OK

    def reset_callbacks(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``POST /api/workflow/{id}/resetcallbacks``: queued worker tasks become pollable now; 204."""
        workflow = self._find(params[0])
        if workflow.terminal:
            raise ApiError(409, f"Workflow is in terminal state. Status = {workflow.status}")
        self._decider.reset_callbacks(workflow)
        return NO_CONTENT

    def variables(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``POST /api/workflow/{id}/variables`` with a map (the official Python client's
        ``update_variables``): merged into the variables; answers the Workflow."""
        workflow = self._find(params[0])
        body = json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "Variables must be a JSON object")
        self._decider.set_variables(workflow, body)
        return json_response(workflow.to_json(True))

    def execute(self, request: Request, params: tuple[str, ...]) -> Outcome:
        """``POST /api/workflow/execute/{name}/{version}?requestId&waitUntilTaskRef&waitForSeconds``
        with a StartWorkflowRequest: start it and answer a WorkflowRun once it ends, once the task
        ``waitUntilTaskRef`` is scheduled, or after ``waitForSeconds`` (10) seconds, whichever is first."""
        query = request.query
        body = json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "StartWorkflowRequest must be a JSON object")
        try:
            version = int(params[1])
        except ValueError:
            raise ApiError(400, f"version must be an integer, got {params[1]!r}") from None
        wait_for = query_int(query, "waitForSeconds", 10)
        if wait_for < 0:
            raise ApiError(400, f"waitForSeconds must not be negative, got {wait_for}")
        until_ref = query_str(query, "waitUntilTaskRef") or None
        workflow = self.start(params[0], version, body.get("input"), body.get("correlationId"),
                              body.get("priority"), body.get("taskToDomain"), self._inline_definition(body))
        request_id = query_str(query, "requestId")
        if self._run_ready(workflow, until_ref) or wait_for == 0:
            return json_response(_workflow_run(workflow, request_id))
        return self._execute_later(workflow, until_ref, float(wait_for), request_id)

    @staticmethod
    def _run_ready(workflow: WorkflowRecord, until_ref: str | None) -> bool:
        return workflow.terminal or (until_ref is not None and until_ref in workflow.by_ref)

    async def _execute_later(self, workflow: WorkflowRecord, until_ref: str | None, wait_for: float,
                             request_id: str | None) -> Response:
        ready: asyncio.Future[None] = self._loop.create_future()

        def changed(record: WorkflowRecord) -> None:
            if record is workflow and self._run_ready(workflow, until_ref) and not ready.done():
                ready.set_result(None)

        self._decider.change_listeners.append(changed)
        try:
            await asyncio.wait_for(ready, wait_for)
        except asyncio.TimeoutError:
            pass
        finally:
            self._decider.change_listeners.remove(changed)
        return json_response(_workflow_run(workflow, request_id))


def _workflow_run(workflow: WorkflowRecord, request_id: str | None) -> dict[str, Any]:
    """The WorkflowRun answer of the execute endpoint."""
    run: dict[str, Any] = {
        "workflowId": workflow.workflow_id, "correlationId": workflow.correlation_id,
        "input": workflow.input, "output": workflow.output, "status": workflow.status,
        "tasks": list(workflow.tasks), "variables": workflow.variables, "priority": workflow.priority,
        "createTime": workflow.create_time, "updateTime": workflow.update_time,
    }
    if request_id is not None:
        run["requestId"] = request_id
    return {key: value for key, value in run.items() if value is not None}


#: Fields a workflow search query may name.
_WORKFLOW_FIELDS = ("workflowId", "workflowType", "version", "correlationId", "status", "startTime",
                    "updateTime", "endTime", "priority")


def _workflow_facts(workflow: WorkflowRecord) -> dict[str, Any]:
    definition = workflow.definition
    return {"workflowId": workflow.workflow_id, "workflowType": definition["name"],
            "version": definition["version"], "correlationId": workflow.correlation_id,
            "status": workflow.status, "startTime": workflow.create_time, "updateTime": workflow.update_time,
            "endTime": workflow.end_time or None, "priority": workflow.priority}


def workflow_summary(workflow: WorkflowRecord) -> dict[str, Any]:
    """The server's WorkflowSummary (times as ISO text, input/output as JSON text; nulls omitted)."""
    definition = workflow.definition
    summary: dict[str, Any] = {
        "workflowType": definition["name"],
        "version": definition["version"],
        "workflowId": workflow.workflow_id,
        "correlationId": workflow.correlation_id,
        "startTime": iso_time(workflow.create_time),
        "updateTime": iso_time(workflow.update_time),
        "endTime": iso_time(workflow.end_time),
        "status": workflow.status,
        "input": json.dumps(workflow.input, separators=(",", ":")),
        "output": json.dumps(workflow.output, separators=(",", ":")),
        "reasonForIncompletion": workflow.reason,
        "executionTime": (workflow.end_time - workflow.create_time) if workflow.end_time else 0,
        "failedReferenceTaskNames": ",".join(workflow.failed_refs),
        "failedTaskNames": list(workflow.failed_names),
        "priority": workflow.priority,
    }
    return {key: value for key, value in summary.items() if value is not None}
