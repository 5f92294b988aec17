"""Workflow management over HTTP: terminate, remove, running lists, correlated lookups, search,
updates by reference name, and listing/deleting workflow definitions."""

from __future__ import annotations

from urllib.parse import quote

from devserver._support import Api, one_task_workflow

from conductor_actors.devserver import DevServer


def test_terminate_cancels_the_running_task_and_keeps_the_reason(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    task = api.poll_one("echo")
    reply = api.delete(f"/api/workflow/{workflow_id}?reason={quote('no longer needed')}")
    assert reply.status == 200 and reply.body == b""
    workflow = api.get(f"/api/workflow/{workflow_id}").json()
    assert workflow["status"] == "TERMINATED" and workflow["reasonForIncompletion"] == "no longer needed"
    assert workflow["tasks"][0]["status"] == "CANCELED" and workflow["endTime"] > 0
    assert dev_server.queue_size("echo") == 0
    # A result arriving afterwards changes nothing, and terminating again is a no-op.
    assert api.update(task).status == 200
    assert api.get(f"/api/workflow/{workflow_id}").json()["tasks"][0]["status"] == "CANCELED"
    assert api.delete(f"/api/workflow/{workflow_id}").status == 200


def test_terminate_answers_409_for_a_completed_workflow_and_404_for_an_unknown_one(
        dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    api.update(api.poll_one("echo"))
    reply = api.delete(f"/api/workflow/{workflow_id}")
    assert reply.status == 409 and reply.json()["message"] == "Cannot terminate a COMPLETED workflow."
    missing = api.delete("/api/workflow/nope")
    assert missing.status == 404 and missing.json()["message"] == "No such workflow found by id: nope"


def test_terminate_wakes_a_waiter(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    api.delete(f"/api/workflow/{workflow_id}")
    assert dev_server.wait_for_workflows([workflow_id], 5.0) == {workflow_id: "TERMINATED"}


def test_remove_forgets_the_workflow_and_its_tasks(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    task_id = dev_server.tasks()[0]["taskId"]
    assert api.delete(f"/api/workflow/{workflow_id}/remove").status == 200
    assert api.get(f"/api/workflow/{workflow_id}").status == 404
    assert api.get(f"/api/tasks/{task_id}").status == 404
    assert dev_server.queue_size("echo") == 0
    assert api.delete(f"/api/workflow/{workflow_id}/remove").status == 404


def test_running_list_and_time_range(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    first = dev_server.start_workflow("wf", {"x": 1})
    second = dev_server.start_workflow("wf", {"x": 2})
    api.delete(f"/api/workflow/{first}")
    assert api.get("/api/workflow/running/wf").json() == [second]
    assert api.get("/api/workflow/running/wf?version=2").json() == []
    created = dev_server.get_workflow(first)["createTime"]
    in_range = api.get(f"/api/workflow/running/wf?version=1&startTime={created}&endTime={created + 60_000}").json()
    assert set(in_range) == {first, second}


def test_correlated_lookups(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    a = dev_server.start_workflow("wf", {"x": 1}, correlation_id="order-1")
    b = dev_server.start_workflow("wf", {"x": 2}, correlation_id="order-1")
    dev_server.start_workflow("wf", {"x": 3}, correlation_id="order-2")
    api.delete(f"/api/workflow/{b}")
    open_only = api.get("/api/workflow/wf/correlated/order-1").json()
    assert [w["workflowId"] for w in open_only] == [a] and open_only[0]["tasks"] == []
    everything = api.get("/api/workflow/wf/correlated/order-1?includeClosed=true&includeTasks=true").json()
    assert {w["workflowId"] for w in everything} == {a, b} and all(w["tasks"] for w in everything)
    batch = api.post("/api/workflow/wf/correlated?includeClosed=true", ["order-1", "order-2", "none"]).json()
    assert {k: len(v) for k, v in batch.items()} == {"order-1": 2, "order-2": 1, "none": 0}
    assert api.post("/api/workflow/wf/correlated", {"not": "a list"}).status == 400


def test_workflow_search_by_query_and_free_text(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    one_task_workflow(dev_server, name="other", task="other_task")
    a = dev_server.start_workflow("wf", {"x": "apple"}, correlation_id="c-1")
    b = dev_server.start_workflow("wf", {"x": "banana"})
    c = dev_server.start_workflow("other", {"x": "cherry"})
    api.delete(f"/api/workflow/{b}")

    def ids(params: str) -> list[str]:
        reply = api.get(f"/api/workflow/search?{params}")
        assert reply.status == 200, reply
        body = reply.json()
        assert body["totalHits"] == len(body["results"]) or "size" in params
        return [summary["workflowId"] for summary in body["results"]]

    assert ids("") == [c, b, a]
    assert ids("query=" + quote("status IN (RUNNING)")) == [c, a]
    assert ids("query=" + quote("workflowType = 'wf' AND status = TERMINATED")) == [b]
    assert ids("query=" + quote("correlationId = c-1")) == [a]
    assert ids("freeText=banana") == [b]
    started = dev_server.get_workflow(a)["startTime"]
    assert set(ids("query=" + quote(f"startTime >= {started}"))) == {a, b, c}
    assert ids("query=" + quote(f"startTime < {started}")) == []
    assert ids("size=1&start=1") == [b]
    summary = api.get("/api/workflow/search?query=" + quote("correlationId = c-1")).json()["results"][0]
    assert summary["workflowType"] == "wf" and summary["status"] == "RUNNING" and summary["version"] == 1
    assert summary["input"] == '{"x":"apple"}' and summary["startTime"].endswith("Z")
    bad = api.get("/api/workflow/search?query=" + quote("colour = red"))
    assert bad.status == 400 and "colour" in bad.json()["message"]


def test_task_search(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    dev_server.start_workflow("wf", {"x": 2})
    api.update(api.poll_one("echo"))
    reply = api.get("/api/tasks/search?query=" + quote("status = COMPLETED AND taskType = echo"))
    assert reply.status == 200
    body = reply.json()
    assert body["totalHits"] == 1 and body["results"][0]["workflowId"] == workflow_id
    assert body["results"][0]["taskDefName"] == "echo" and body["results"][0]["output"] == "{}"
    assert api.get("/api/tasks/search?query=" + quote("status = SCHEDULED")).json()["totalHits"] == 1


def test_update_by_reference_name(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    reply = api.post(f"/api/tasks/{workflow_id}/echo_ref/COMPLETED?workerid=tester", {"y": 2})
    task = dev_server.tasks()[0]
    assert reply.status == 200 and reply.text == task["taskId"]
    assert task["status"] == "COMPLETED" and task["outputData"] == {"y": 2} and task["workerId"] == "tester"
    assert dev_server.get_workflow(workflow_id)["status"] == "COMPLETED"
    # Nothing pending any more: an empty answer, like the server.
    again = api.post(f"/api/tasks/{workflow_id}/echo_ref/COMPLETED", {})
    assert again.status == 200 and again.body == b""
    assert api.post("/api/tasks/nope/echo_ref/COMPLETED", {}).status == 404


def test_update_by_reference_name_can_fail_a_task(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server, retryCount=0)
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    assert api.post(f"/api/tasks/{workflow_id}/echo_ref/FAILED_WITH_TERMINAL_ERROR", {}).status == 200
    assert dev_server.get_workflow(workflow_id)["status"] == "FAILED"
    bad = api.post(f"/api/tasks/{workflow_id}/echo_ref/DONE", {})
    assert bad.status in (200, 400)  # nothing pending: the status is never looked at


def test_list_and_delete_workflow_definitions(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    dev_server.register_workflow({"name": "wf", "version": 2, "tasks": [{"name": "t", "taskReferenceName": "t"}]})
    one_task_workflow(dev_server, name="another")
    listed = api.get("/api/metadata/workflow").json()
    assert [(d["name"], d["version"]) for d in listed] == [("another", 1), ("wf", 1), ("wf", 2)]
    assert api.delete("/api/metadata/workflow/wf/2").status == 200
    assert api.get("/api/metadata/workflow/wf").json()["version"] == 1
    missing = api.delete("/api/metadata/workflow/wf/2")
    assert missing.status == 404 and "wf" in missing.json()["message"]
    assert api.delete("/api/metadata/workflow/wf/two").status == 400
