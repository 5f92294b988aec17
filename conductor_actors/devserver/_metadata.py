"""Task definitions, workflow definitions and schemas held by the dev server.

Validation mirrors the server's bean constraints and answers ``ValidationFailure`` (400) or
``ApiError`` with the server's messages. Stored definitions have the server defaults filled in.
Numbers of seconds may be fractional here (the real server takes whole seconds), so tests can
use short retry delays and response timeouts. Loop thread only.
"""

from __future__ import annotations

import copy
from typing import Any

from ._errors import ApiError, ValidationFailure
from ._store import now_ms

__all__ = ["TASK_DEF_DEFAULTS", "Metadata"]

#: What the server fills into a TaskDef (also the ad-hoc definition of an unregistered SIMPLE task).
TASK_DEF_DEFAULTS: dict[str, Any] = {
    "retryCount": 3,
    "retryLogic": "FIXED",
    "retryDelaySeconds": 60,
    "backoffScaleFactor": 1,
    "maxRetryDelaySeconds": 0,
    "backoffJitterMs": 0,
    "timeoutSeconds": 0,
    "totalTimeoutSeconds": 0,
    "responseTimeoutSeconds": 3600,
    "timeoutPolicy": "TIME_OUT_WF",
    "inputKeys": [],
    "outputKeys": [],
    "inputTemplate": {},
    "rateLimitPerFrequency": 0,
    "rateLimitFrequencyInSeconds": 1,
    "enforceSchema": False,
    "taskStatusListenerEnabled": True,
}

_RETRY_LOGIC = ("FIXED", "EXPONENTIAL_BACKOFF", "LINEAR_BACKOFF")
_TIMEOUT_POLICIES = ("RETRY", "TIME_OUT_WF", "ALERT_ONLY")
_WORKFLOW_TIMEOUT_POLICIES = ("TIME_OUT_WF", "ALERT_ONLY")

Problems = list[tuple[str, str, Any]]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_number(problems: Problems, path: str, value: Any, minimum: float, *, integer: bool = False,
                  strict: bool = False) -> None:
    if value is None:
        return
    kind = "an integer" if integer else "a number"
    if not _is_number(value) or (integer and not isinstance(value, int)):
        problems.append((path, f"must be {kind}", value))
    elif value < minimum or (strict and value == minimum):
        relation = "greater than" if strict else "greater than or equal to"
        problems.append((path, f"must be {relation} {minimum:g}", value))


def _check_type(problems: Problems, path: str, value: Any, kind: type, label: str) -> None:
    if value is not None and not isinstance(value, kind):
        problems.append((path, f"must be {label}", value))


def _check_name(problems: Problems, path: str, value: Any, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        problems.append((path, f"{what} cannot be null or empty", value))


def validate_task_def(task_def: Any, path: str) -> Problems:
    """Everything wrong with one TaskDef JSON (empty when valid)."""
    if not isinstance(task_def, dict):
        return [(path, "must be a JSON object", task_def)]
    problems: Problems = []
    get = task_def.get
    _check_name(problems, f"{path}.name", get("name"), "TaskDef name")
    _check_number(problems, f"{path}.retryCount", get("retryCount"), 0, integer=True)
    if get("retryLogic") is not None and get("retryLogic") not in _RETRY_LOGIC:
        problems.append((f"{path}.retryLogic", f"must be one of {', '.join(_RETRY_LOGIC)}", get("retryLogic")))
    if get("timeoutPolicy") is not None and get("timeoutPolicy") not in _TIMEOUT_POLICIES:
        problems.append((f"{path}.timeoutPolicy", f"must be one of {', '.join(_TIMEOUT_POLICIES)}",
                         get("timeoutPolicy")))
    _check_number(problems, f"{path}.retryDelaySeconds", get("retryDelaySeconds"), 0)
    _check_number(problems, f"{path}.backoffScaleFactor", get("backoffScaleFactor"), 1)
    _check_number(problems, f"{path}.maxRetryDelaySeconds", get("maxRetryDelaySeconds"), 0)
    _check_number(problems, f"{path}.backoffJitterMs", get("backoffJitterMs"), 0)
    _check_number(problems, f"{path}.timeoutSeconds", get("timeoutSeconds"), 0)
    _check_number(problems, f"{path}.totalTimeoutSeconds", get("totalTimeoutSeconds"), 0)
    _check_number(problems, f"{path}.responseTimeoutSeconds", get("responseTimeoutSeconds"), 0, strict=True)
    _check_number(problems, f"{path}.pollTimeoutSeconds", get("pollTimeoutSeconds"), 0)
    _check_number(problems, f"{path}.concurrentExecLimit", get("concurrentExecLimit"), 0, integer=True)
    _check_type(problems, f"{path}.inputTemplate", get("inputTemplate"), dict, "a JSON object")
    _check_type(problems, f"{path}.inputKeys", get("inputKeys"), list, "a list")
    _check_type(problems, f"{path}.outputKeys", get("outputKeys"), list, "a list")
    timeout: Any = get("timeoutSeconds")
    response: Any = get("responseTimeoutSeconds", 3600)
    if _is_number(timeout) and _is_number(response) and 0 < timeout < response:
        problems.append((f"{path}.responseTimeoutSeconds",
                         f"TaskDef: {get('name')} responseTimeoutSeconds: {response} must be less than "
                         f"timeoutSeconds: {timeout}", response))
    return problems


def validate_workflow_def(workflow_def: Any, path: str) -> Problems:
    """Everything wrong with one WorkflowDef JSON for this server (SIMPLE tasks only)."""
    if not isinstance(workflow_def, dict):
        return [(path, "must be a JSON object", workflow_def)]
    problems: Problems = []
    get = workflow_def.get
    _check_name(problems, f"{path}.name", get("name"), "WorkflowDef name")
    _check_number(problems, f"{path}.version", get("version"), 0, integer=True)
    if get("schemaVersion", 2) != 2:
        problems.append((f"{path}.schemaVersion", "workflowDef schemaVersion: 2 is only supported",
                         get("schemaVersion")))
    if get("timeoutPolicy") is not None and get("timeoutPolicy") not in _WORKFLOW_TIMEOUT_POLICIES:
        problems.append((f"{path}.timeoutPolicy", "must be one of TIME_OUT_WF, ALERT_ONLY", get("timeoutPolicy")))
    _check_type(problems, f"{path}.outputParameters", get("outputParameters"), dict, "a JSON object")
    tasks = get("tasks")
    if not isinstance(tasks, list) or not tasks:
        problems.append((f"{path}.tasks", "WorkflowTask list cannot be empty", tasks))
        return problems
    seen: set[str] = set()
    for index, task in enumerate(tasks):
        where = f"{path}.tasks[{index}]"
        if not isinstance(task, dict):
            problems.append((where, "must be a JSON object", task))
            continue
        _check_name(problems, f"{where}.name", task.get("name"), "WorkflowTask name")
        ref = task.get("taskReferenceName")
        _check_name(problems, f"{where}.taskReferenceName", ref, "WorkflowTask taskReferenceName name")
        if isinstance(ref, str):
            if ref in seen:
                message = f"taskReferenceName: {ref} should be unique across tasks for a given workflowDefinition"
                problems.append((f"{where}.taskReferenceName", message, ref))
            seen.add(ref)
        task_type = task.get("type", "SIMPLE")
        if task_type != "SIMPLE":
            problems.append((f"{where}.type", f"task type {task_type!r} is not supported by the dev server "
                             "(it runs SIMPLE tasks in sequence only)", task_type))
        _check_type(problems, f"{where}.inputParameters", task.get("inputParameters"), dict, "a JSON object")
        _check_number(problems, f"{where}.retryCount", task.get("retryCount"), 0, integer=True)
        _check_type(problems, f"{where}.optional", task.get("optional"), bool, "a boolean")
        _check_number(problems, f"{where}.startDelay", task.get("startDelay"), 0)
    return problems


def _normalise_workflow_def(workflow_def: dict[str, Any]) -> dict[str, Any]:
    stored = copy.deepcopy(workflow_def)
    stored.setdefault("version", 1)
    stored.setdefault("schemaVersion", 2)
    stored.setdefault("inputParameters", [])
    stored.setdefault("outputParameters", {})
    stored.setdefault("timeoutPolicy", "ALERT_ONLY")
    stored.setdefault("timeoutSeconds", 0)
    stored.setdefault("restartable", True)
    stored.setdefault("enforceSchema", True)
    for task in stored["tasks"]:
        task.setdefault("type", "SIMPLE")
        task.setdefault("inputParameters", {})
        task.setdefault("optional", False)
        task.setdefault("startDelay", 0)
    return stored


class Metadata:
    """The definition registry (loop thread only)."""

    def __init__(self) -> None:
        self.task_defs: dict[str, dict[str, Any]] = {}
        self.workflow_defs: dict[str, dict[int, dict[str, Any]]] = {}
        self.schemas: dict[tuple[str, Any], dict[str, Any]] = {}

    # -- task definitions -------------------------------------------------------------------
    def register_task_defs(self, task_defs: Any) -> None:
        """POST semantics: validate the whole list, then upsert each (createTime = now)."""
        if not isinstance(task_defs, list) or not task_defs:
            raise ValidationFailure([("taskDefs", "TaskDefList cannot be empty or null", task_defs)])
        problems: Problems = []
        for index, task_def in enumerate(task_defs):
            problems += validate_task_def(task_def, f"taskDefs[{index}]")
        if problems:
            raise ValidationFailure(problems)
        now = now_ms()
        for task_def in task_defs:
            stored = {**copy.deepcopy(TASK_DEF_DEFAULTS), **copy.deepcopy(task_def)}
            stored["createTime"] = now
            stored.pop("updateTime", None)
            stored.pop("updatedBy", None)
            self.task_defs[stored["name"]] = stored

    def update_task_def(self, task_def: Any) -> None:
        """PUT semantics: the definition must exist (404); keeps createTime, sets updateTime."""
        problems = validate_task_def(task_def, "taskDef")
        if problems:
            raise ValidationFailure(problems)
        existing = self.task_defs.get(task_def["name"])
        if existing is None:
            raise ApiError(404, f"No such task by name {task_def['name']}")
        stored = {**copy.deepcopy(TASK_DEF_DEFAULTS), **copy.deepcopy(task_def)}
        for key in ("createTime", "createdBy"):
            if key in existing:
                stored[key] = existing[key]
        stored["updateTime"] = now_ms()
        self.task_defs[stored["name"]] = stored

    def get_task_def(self, name: str) -> dict[str, Any]:
        """The stored definition; 404 ``No such taskType found by name: X``."""
        found = self.task_defs.get(name)
        if found is None:
            raise ApiError(404, f"No such taskType found by name: {name}")
        return found

    def delete_task_def(self, name: str) -> None:
        """Remove a definition; 404 if there is none."""
        if self.task_defs.pop(name, None) is None:
            raise ApiError(404, f"No such taskType found by name: {name}")

    def effective_task_def(self, name: str) -> dict[str, Any]:
        """The registered definition, or the server's ad-hoc one (all defaults) for SIMPLE tasks."""
        return self.task_defs.get(name) or TASK_DEF_DEFAULTS

    # -- workflow definitions ---------------------------------------------------------------
    def register_workflow_def(self, workflow_def: Any, *, overwrite: bool) -> None:
        """POST semantics: 409 when the name+version exists and ``overwrite`` is false."""
        problems = validate_workflow_def(workflow_def, "workflowDef")
        if problems:
            raise ValidationFailure(problems)
        stored = _normalise_workflow_def(workflow_def)
        versions = self.workflow_defs.setdefault(stored["name"], {})
        if stored["version"] in versions and not overwrite:
            raise ApiError(409, f"Workflow with {stored['name']}.{stored['version']} already exists!")
        stored["createTime"] = now_ms()
        versions[stored["version"]] = stored

    def update_workflow_defs(self, workflow_defs: Any) -> dict[str, Any]:
        """PUT semantics: validate the whole list, upsert each; the server's bulk response."""
        if not isinstance(workflow_defs, list) or not workflow_defs:
            raise ValidationFailure([("workflowDefs", "WorkflowDef list name cannot be null or empty",
                                      workflow_defs)])
        problems: Problems = []
        for index, workflow_def in enumerate(workflow_defs):
            problems += validate_workflow_def(workflow_def, f"workflowDefs[{index}]")
        if problems:
            raise ValidationFailure(problems)
        names: list[str] = []
        now = now_ms()
        for workflow_def in workflow_defs:
            stored = _normalise_workflow_def(workflow_def)
            versions = self.workflow_defs.setdefault(stored["name"], {})
            previous = versions.get(stored["version"])
            stored["createTime"] = previous.get("createTime", now) if previous else now
            stored["updateTime"] = now
            versions[stored["version"]] = stored
            names.append(stored["name"])
        return {"bulkSuccessfulResults": names, "bulkErrorResults": {}, "message": "Bulk Request has been processed."}

    def find_workflow_def(self, name: str, version: int | None) -> dict[str, Any] | None:
        """The definition with that version, or the latest one when ``version`` is None."""
        versions = self.workflow_defs.get(name)
        if not versions:
            return None
        if version is None:
            return versions[max(versions)]
        return versions.get(version)

    def get_workflow_def(self, name: str, version: int | None) -> dict[str, Any]:
        """Like ``find_workflow_def`` but 404 when missing."""
        found = self.find_workflow_def(name, version)
        if found is None:
            raise ApiError(404, f"No such workflow found by name: {name}, version: {version}")
        return found

    def all_workflow_defs(self) -> list[dict[str, Any]]:
        """Every stored definition, by name then version."""
        return [versions[v] for name, versions in sorted(self.workflow_defs.items()) for v in sorted(versions)]

    def delete_workflow_def(self, name: str, version: int) -> None:
        """Remove one version; 404 naming it when it is not there (running workflows keep their copy)."""
        versions = self.workflow_defs.get(name)
        if not versions or versions.pop(version, None) is None:
            raise ApiError(404, f"No such workflow definition: {name} version: {version}")
        if not versions:
            del self.workflow_defs[name]

    # -- schemas ---------------------------------------------------------------------------
    def save_schemas(self, body: Any) -> None:
        """Store one schema object or a list of them (keyed by name and version)."""
        schemas = body if isinstance(body, list) else [body]
        problems: Problems = []
        for index, schema in enumerate(schemas):
            if not isinstance(schema, dict):
                problems.append((f"schemas[{index}]", "must be a JSON object", schema))
            else:
                _check_name(problems, f"schemas[{index}].name", schema.get("name"), "Schema name")
        if not schemas:
            problems.append(("schemas", "schema list cannot be empty", body))
        if problems:
            raise ValidationFailure(problems)
        for schema in schemas:
            self.schemas[(schema["name"], schema.get("version", 1))] = copy.deepcopy(schema)
