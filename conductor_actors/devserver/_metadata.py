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
from ._evaluators import missing_engine
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
    """Everything wrong with one WorkflowDef JSON for this server (unsupported task types included)."""
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
    _check_task_list(problems, f"{path}.tasks", tasks, set(), in_loop=False)
    return problems


#: Task types the dev server runs (SIMPLE by workers, the others itself).
SUPPORTED_TASK_TYPES = frozenset({
    "SIMPLE", "DYNAMIC", "SWITCH", "DECISION", "FORK_JOIN", "FORK_JOIN_DYNAMIC", "JOIN", "DO_WHILE",
    "SUB_WORKFLOW", "TERMINATE", "SET_VARIABLE", "WAIT", "HUMAN", "INLINE", "HTTP", "JSON_JQ_TRANSFORM",
})
_TERMINATION_STATUSES = ("COMPLETED", "FAILED", "TERMINATED")


def _needs(problems: Problems, where: str, kind: str, value: Any) -> None:
    """A problem naming the optional extra when the engine for ``kind`` is not installed."""
    missing = missing_engine(kind)
    if missing is not None:
        problems.append((where, missing, value))


def _check_task_list(problems: Problems, path: str, tasks: Any, seen: set[str], *, in_loop: bool) -> None:
    if not isinstance(tasks, list):
        problems.append((path, "must be a list of WorkflowTasks", tasks))
        return
    for index, task in enumerate(tasks):
        where = f"{path}[{index}]"
        if not isinstance(task, dict):
            problems.append((where, "must be a JSON object", task))
            continue
        _check_task(problems, where, task, seen, in_loop=in_loop,
                    following=tasks[index + 1] if index + 1 < len(tasks) else None)


def _check_task(problems: Problems, where: str, task: dict[str, Any], seen: set[str], *, in_loop: bool,
                following: Any) -> None:
    _check_name(problems, f"{where}.name", task.get("name"), "WorkflowTask name")
    ref = task.get("taskReferenceName")
    _check_name(problems, f"{where}.taskReferenceName", ref, "WorkflowTask taskReferenceName name")
    if isinstance(ref, str):
        if ref in seen:
            message = f"taskReferenceName: {ref} should be unique across tasks for a given workflowDefinition"
            problems.append((f"{where}.taskReferenceName", message, ref))
        seen.add(ref)
    _check_type(problems, f"{where}.inputParameters", task.get("inputParameters"), dict, "a JSON object")
    _check_number(problems, f"{where}.retryCount", task.get("retryCount"), 0, integer=True)
    _check_type(problems, f"{where}.optional", task.get("optional"), bool, "a boolean")
    _check_number(problems, f"{where}.startDelay", task.get("startDelay"), 0)
    task_type = task.get("type", "SIMPLE")
    if task_type not in SUPPORTED_TASK_TYPES:
        problems.append((f"{where}.type", f"task type {task_type!r} is not supported by the dev server; it runs "
                         f"{', '.join(sorted(SUPPORTED_TASK_TYPES))}", task_type))
        return
    given = task.get("inputParameters")
    inputs: dict[str, Any] = given if isinstance(given, dict) else {}
    if task_type == "SWITCH":
        evaluator = task.get("evaluatorType", "value-param")
        if evaluator not in ("value-param", "javascript", "graaljs"):
            problems.append((f"{where}.evaluatorType", "must be value-param, javascript or graaljs", evaluator))
        elif evaluator != "value-param":
            _needs(problems, f"{where}.evaluatorType", "javascript", evaluator)
        _check_name(problems, f"{where}.expression", task.get("expression"), "SWITCH expression")
    if task_type == "DECISION":
        if task.get("caseExpression"):
            _needs(problems, f"{where}.caseExpression", "javascript", task.get("caseExpression"))
        elif not task.get("caseValueParam"):
            problems.append((f"{where}.caseValueParam", "DECISION needs caseValueParam or caseExpression", None))
    if task_type in ("SWITCH", "DECISION"):
        cases = task.get("decisionCases")
        if not isinstance(cases, dict):
            problems.append((f"{where}.decisionCases", "must be a JSON object of case -> task list", cases))
        else:
            for case, case_tasks in cases.items():
                _check_task_list(problems, f"{where}.decisionCases.{case}", case_tasks, seen, in_loop=in_loop)
        if task.get("defaultCase") is not None:
            _check_task_list(problems, f"{where}.defaultCase", task.get("defaultCase"), seen, in_loop=in_loop)
    if task_type in ("FORK_JOIN", "FORK_JOIN_DYNAMIC") and (
            not isinstance(following, dict) or following.get("type") != "JOIN"):
        problems.append((where, f"{task_type} must be followed by a JOIN task", task_type))
    if task_type == "FORK_JOIN":
        branches = task.get("forkTasks")
        if not isinstance(branches, list) or not branches:
            problems.append((f"{where}.forkTasks", "FORK_JOIN needs a non-empty list of task lists", branches))
        else:
            for number, branch in enumerate(branches):
                _check_task_list(problems, f"{where}.forkTasks[{number}]", branch, seen, in_loop=in_loop)
    if task_type == "JOIN":
        join_on = task.get("joinOn", [])
        if not isinstance(join_on, list) or not all(isinstance(item, str) for item in join_on):
            problems.append((f"{where}.joinOn", "must be a list of task reference names", join_on))
    if task_type == "DO_WHILE":
        if in_loop:
            problems.append((where, "a DO_WHILE inside another DO_WHILE is not supported by the dev server", ref))
        _check_name(problems, f"{where}.loopCondition", task.get("loopCondition"), "DO_WHILE loopCondition")
        _needs(problems, f"{where}.loopCondition", "javascript", task.get("loopCondition"))
        body = task.get("loopOver")
        if not isinstance(body, list) or not body:
            problems.append((f"{where}.loopOver", "DO_WHILE needs a non-empty loopOver task list", body))
        else:
            _check_task_list(problems, f"{where}.loopOver", body, seen, in_loop=True)
    if task_type == "SUB_WORKFLOW":
        param = task.get("subWorkflowParam")
        if not isinstance(param, dict) or not isinstance(param.get("name"), str) or not param["name"]:
            problems.append((f"{where}.subWorkflowParam", "SUB_WORKFLOW needs subWorkflowParam.name", param))
        elif param.get("workflowDefinition") is not None:
            problems.append((f"{where}.subWorkflowParam.workflowDefinition", "an inline sub-workflow definition "
                             "is not supported by the dev server; register it and name it", None))
    if task_type == "DYNAMIC":
        _check_name(problems, f"{where}.dynamicTaskNameParam", task.get("dynamicTaskNameParam"),
                    "DYNAMIC dynamicTaskNameParam")
    if task_type == "FORK_JOIN_DYNAMIC":
        _check_name(problems, f"{where}.dynamicForkTasksParam", task.get("dynamicForkTasksParam"),
                    "FORK_JOIN_DYNAMIC dynamicForkTasksParam")
        _check_name(problems, f"{where}.dynamicForkTasksInputParamName",
                    task.get("dynamicForkTasksInputParamName"), "FORK_JOIN_DYNAMIC dynamicForkTasksInputParamName")
    if task_type == "TERMINATE":
        status = inputs.get("terminationStatus")
        if not (isinstance(status, str) and (status in _TERMINATION_STATUSES or status.startswith("${"))):
            problems.append((f"{where}.inputParameters.terminationStatus",
                             "TERMINATE needs terminationStatus COMPLETED, FAILED or TERMINATED", status))
    if task_type == "INLINE":
        evaluator = inputs.get("evaluatorType")
        if evaluator not in ("value-param", "javascript", "graaljs"):
            problems.append((f"{where}.inputParameters.evaluatorType",
                             "INLINE needs evaluatorType value-param, javascript or graaljs", evaluator))
        elif evaluator != "value-param":
            _needs(problems, f"{where}.inputParameters.evaluatorType", "javascript", evaluator)
        _check_name(problems, f"{where}.inputParameters.expression", inputs.get("expression"), "INLINE expression")
    if task_type == "JSON_JQ_TRANSFORM":
        _check_name(problems, f"{where}.inputParameters.queryExpression", inputs.get("queryExpression"),
                    "JSON_JQ_TRANSFORM queryExpression")
        _needs(problems, f"{where}.inputParameters.queryExpression", "jq", inputs.get("queryExpression"))
    if task_type == "HTTP":
        spec = inputs.get("http_request", inputs)
        if not isinstance(spec, dict) or not spec.get("uri"):
            problems.append((f"{where}.inputParameters.http_request", "HTTP needs http_request.uri", spec))


def _normalise_task_list(tasks: list[dict[str, Any]]) -> None:
    for task in tasks:
        task.setdefault("type", "SIMPLE")
        task.setdefault("inputParameters", {})
        task.setdefault("optional", False)
        task.setdefault("startDelay", 0)
        for case in (task.get("decisionCases") or {}).values():
            _normalise_task_list(case)
        _normalise_task_list(task.get("defaultCase") or [])
        for branch in task.get("forkTasks") or []:
            _normalise_task_list(branch)
        _normalise_task_list(task.get("loopOver") or [])


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
    _normalise_task_list(stored["tasks"])
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

    @staticmethod
    def inline_workflow_def(workflow_def: Any) -> dict[str, Any]:
        """A definition sent with a StartWorkflowRequest (``workflowDef``), as the official SDK's
        ``ConductorWorkflow.start_workflow_with_input``/``execute`` send it: validated like a
        registration (400 naming every problem) and normalised, but not stored."""
        problems = validate_workflow_def(workflow_def, "startWorkflowRequest.workflowDef")
        if problems:
            raise ValidationFailure(problems)
        stored = _normalise_workflow_def(workflow_def)
        stored["createTime"] = now_ms()
        return stored

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
