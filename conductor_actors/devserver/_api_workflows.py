"""Handlers of the workflow endpoints: start (two forms), get and status.

``WorkflowApi.start`` is also what ``DevServer.start_workflow`` calls, so the helper and HTTP
validate identically. Raises ``ApiError`` for error answers. Runs on the loop thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._errors import ApiError, ValidationFailure
from ._http import Outcome, Request
from ._metadata import Metadata
from ._payloads import json_body, json_response, query_bool, query_int, query_str, text_response
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
