"""Handlers of the workflow endpoints: start, read, manage (terminate, remove, ...) and search.

``WorkflowApi.start`` is also what ``DevServer.start_workflow`` calls, so the helper and HTTP
validate identically. Raises ``ApiError`` for error answers. Runs on the loop thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ._errors import ApiError, ValidationFailure
from ._http import Outcome, Request
from ._metadata import Metadata
from ._payloads import EMPTY_OK, json_body, json_response, query_bool, query_int, query_str, text_response
from ._search import iso_time, parse_query, search_page, text_matches
from ._store import Store, WorkflowRecord
from ._workflows import Decider

__all__ = ["WorkflowApi"]

Handler = Callable[[Request, "tuple[str, ...]"], Outcome]


class WorkflowApi:
    """The ``/api/workflow`` endpoints."""

    def __init__(self, store: Store, metadata: Metadata, decider: Decider) -> None:
        self._store = store
        self._metadata = metadata
        self._decider = decider

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
        }

    def start(self, name: Any, version: Any, workflow_input: Any, correlation_id: Any, priority: Any,
              task_to_domain: Any) -> WorkflowRecord:
        """Validate, find the definition (latest when ``version`` is None) and start the workflow."""
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
        if body.get("workflowDef") is not None:
            raise ApiError(400, "StartWorkflowRequest.workflowDef is not supported by the dev server; "
                                "register the definition and start it by name")
        workflow = self.start(body.get("name"), body.get("version"), body.get("input"), body.get("correlationId"),
                              body.get("priority"), body.get("taskToDomain"))
        return text_response(workflow.workflow_id)

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
