"""Task definitions, workflow definitions and schemas."""

from __future__ import annotations

import pytest
from devserver._support import Api

from conductor_actors.devserver import DevServer

SIMPLE_WF = {"name": "wf", "version": 1, "tasks": [{"name": "a", "taskReferenceName": "a_ref"}]}


def test_task_defs_are_upserted_and_read_with_server_defaults(api: Api) -> None:
    reply = api.post("/api/metadata/taskdefs", [{"name": "a", "retryCount": 1, "ownerEmail": "x@y.z"},
                                                {"name": "b"}])
    assert (reply.status, reply.body) == (200, b"")
    a = api.get("/api/metadata/taskdefs/a").json()
    assert a["retryCount"] == 1 and a["ownerEmail"] == "x@y.z" and a["createTime"] > 0
    b = api.get("/api/metadata/taskdefs/b").json()
    assert {k: b[k] for k in ("retryCount", "retryLogic", "retryDelaySeconds", "responseTimeoutSeconds",
                              "timeoutSeconds", "timeoutPolicy", "backoffScaleFactor")} == {
        "retryCount": 3, "retryLogic": "FIXED", "retryDelaySeconds": 60, "responseTimeoutSeconds": 3600,
        "timeoutSeconds": 0, "timeoutPolicy": "TIME_OUT_WF", "backoffScaleFactor": 1}
    api.post("/api/metadata/taskdefs", [{"name": "a", "retryCount": 5}])  # upsert, no conflict
    assert api.get("/api/metadata/taskdefs/a").json()["retryCount"] == 5
    names = [d["name"] for d in api.get("/api/metadata/taskdefs").json()]
    assert names == ["a", "b"]


def test_put_updates_an_existing_def_and_404s_a_missing_one(api: Api) -> None:
    missing = api.put("/api/metadata/taskdefs", {"name": "ghost"})
    assert missing.status == 404 and missing.json()["message"] == "No such task by name ghost"
    api.post("/api/metadata/taskdefs", [{"name": "a"}])
    created = api.get("/api/metadata/taskdefs/a").json()
    assert "updateTime" not in created
    assert api.put("/api/metadata/taskdefs", {"name": "a", "description": "changed"}).status == 200
    updated = api.get("/api/metadata/taskdefs/a").json()
    assert updated["description"] == "changed"
    assert updated["createTime"] == created["createTime"] and updated["updateTime"] >= created["createTime"]


def test_get_and_delete_unknown_task_defs(api: Api) -> None:
    missing = api.get("/api/metadata/taskdefs/ghost")
    assert missing.status == 404 and missing.json()["message"] == "No such taskType found by name: ghost"
    api.post("/api/metadata/taskdefs", [{"name": "a"}])
    assert api.delete("/api/metadata/taskdefs/a").status == 200
    assert api.get("/api/metadata/taskdefs/a").status == 404
    assert api.delete("/api/metadata/taskdefs/a").status == 404


@pytest.mark.parametrize("body", [[], {"name": "not a list"}, [{"retryCount": 1}], [{"name": "a", "retryCount": -1}],
                                  [{"name": "a", "retryLogic": "SOMETIMES"}],
                                  [{"name": "a", "timeoutSeconds": 10, "responseTimeoutSeconds": 20}]])
def test_invalid_task_defs_are_400_and_nothing_is_stored(api: Api, body: object) -> None:
    reply = api.post("/api/metadata/taskdefs", body)
    assert reply.status == 400
    detail = reply.json()
    assert detail["message"] == "Validation failed, check below errors for detail."
    assert detail["validationErrors"] and all(e["message"] for e in detail["validationErrors"])
    assert api.get("/api/metadata/taskdefs").json() == []


def test_helper_registration_reports_invalid_defs(dev_server: DevServer) -> None:
    with pytest.raises(ValueError, match="retryCount"):
        dev_server.register_task_def({"name": "a", "retryCount": "many"})
    with pytest.raises(ValueError, match="FORK_JOIN"):
        dev_server.register_workflow({"name": "w", "tasks": [{"name": "f", "taskReferenceName": "f",
                                                              "type": "FORK_JOIN"}]})


def test_schemas_single_or_list(api: Api) -> None:
    schema = {"name": "a_input", "version": 1, "type": "JSON", "data": {"type": "object"}}
    assert (api.post("/api/schema", schema).status, api.post("/api/schema", [schema]).status) == (200, 200)
    assert api.post("/api/schema", [{"version": 1}]).status == 400
    assert api.post("/api/schema", "text").status == 400


def test_workflow_def_register_conflict_and_overwrite(api: Api) -> None:
    assert api.post("/api/metadata/workflow", SIMPLE_WF).status == 200
    conflict = api.post("/api/metadata/workflow", SIMPLE_WF)
    assert conflict.status == 409 and conflict.json()["message"] == "Workflow with wf.1 already exists!"
    changed = {**SIMPLE_WF, "description": "new"}
    assert api.post("/api/metadata/workflow?overwrite=true", changed).status == 200
    stored = api.get("/api/metadata/workflow/wf").json()
    assert stored["description"] == "new" and stored["tasks"][0]["type"] == "SIMPLE"
    assert stored["schemaVersion"] == 2 and stored["timeoutPolicy"] == "ALERT_ONLY"


def test_workflow_def_bulk_put_and_versions(api: Api) -> None:
    reply = api.put("/api/metadata/workflow", [SIMPLE_WF, {**SIMPLE_WF, "version": 2}])
    assert reply.status == 200
    assert reply.json() == {"bulkSuccessfulResults": ["wf", "wf"], "bulkErrorResults": {},
                            "message": "Bulk Request has been processed."}
    assert api.get("/api/metadata/workflow/wf").json()["version"] == 2
    assert api.get("/api/metadata/workflow/wf?version=1").json()["version"] == 1
    missing = api.get("/api/metadata/workflow/wf?version=7")
    assert missing.status == 404 and missing.json()["message"] == "No such workflow found by name: wf, version: 7"
    assert api.put("/api/metadata/workflow", []).status == 400


@pytest.mark.parametrize(("definition", "fragment"), [
    ({"name": "w", "tasks": [{"name": "s", "taskReferenceName": "s", "type": "SUB_WORKFLOW"}]}, "SUB_WORKFLOW"),
    ({"name": "w", "tasks": []}, "tasks"),
    ({"name": "w", "tasks": [{"name": "a", "taskReferenceName": "r"}, {"name": "b", "taskReferenceName": "r"}]},
     "unique"),
    ({"name": "w", "schemaVersion": 1, "tasks": [{"name": "a", "taskReferenceName": "r"}]}, "schemaVersion"),
    ({"tasks": [{"name": "a", "taskReferenceName": "r"}]}, "name"),
    ({"name": "w", "tasks": [{"name": "a"}]}, "taskReferenceName"),
])
def test_invalid_workflow_defs_are_400_naming_the_problem(api: Api, definition: dict, fragment: str) -> None:
    reply = api.post("/api/metadata/workflow", definition)
    assert reply.status == 400
    assert fragment in str(reply.json()["validationErrors"])
