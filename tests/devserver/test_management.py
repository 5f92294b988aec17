"""Workflow management over HTTP: terminate, remove, running lists, correlated lookups, search,
updates by reference name, and listing/deleting workflow definitions."""

from __future__ import annotations

import threading
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
    pending = dev_server.start_workflow("wf", {"x": 2})
    bad = api.post(f"/api/tasks/{pending}/echo_ref/DONE", {})
    assert bad.status == 400 and "DONE" in bad.json()["message"]
    assert dev_server.get_workflow(pending)["tasks"][0]["status"] == "SCHEDULED"
    # The status is checked before the task is looked for: a typo is an error even when nothing
    # (or no workflow) is pending, not an empty 200 that looks like success.
    for target in (workflow_id, "nope"):
        typo = api.post(f"/api/tasks/{target}/echo_ref/COMPLETE", {})
        assert typo.status == 400 and "COMPLETE" in typo.json()["message"]


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


def _two_task_workflow(server: DevServer) -> None:
    server.register_workflow({"name": "two", "version": 1, "tasks": [
        {"name": "first", "taskReferenceName": "first_ref", "retryCount": 0},
        {"name": "second", "taskReferenceName": "second_ref", "retryCount": 0,
         "inputParameters": {"from_first": "${first_ref.output.v}"}},
    ]})


def test_pause_holds_back_the_next_task_until_resume(dev_server: DevServer, api: Api) -> None:
    _two_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("two")
    first = api.poll_one("first")
    assert api.put(f"/api/workflow/{workflow_id}/pause").status == 200
    assert api.get(f"/api/workflow/{workflow_id}/status").json()["status"] == "PAUSED"
    # The task already handed out can still finish, but nothing new is scheduled while paused.
    assert api.update(first, outputData={"v": 1}).status == 200
    assert api.poll("second") == []
    assert api.put(f"/api/workflow/{workflow_id}/pause").status == 200  # pausing again is harmless
    assert api.put(f"/api/workflow/{workflow_id}/resume").status == 200
    assert api.poll_one("second")["inputData"] == {"from_first": 1}
    not_paused = api.put(f"/api/workflow/{workflow_id}/resume")
    assert not_paused.status == 409 and "not PAUSED" in not_paused.json()["message"]


def test_pause_of_an_ended_workflow_is_409(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    api.delete(f"/api/workflow/{workflow_id}")
    assert api.put(f"/api/workflow/{workflow_id}/pause").status == 409


def test_retry_reschedules_the_failed_task_only(dev_server: DevServer, api: Api) -> None:
    _two_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("two")
    api.update(api.poll_one("first"), outputData={"v": 5})
    failed = api.poll_one("second")
    api.update(failed, "FAILED", reasonForIncompletion="flaky")
    assert dev_server.get_workflow(workflow_id)["status"] == "FAILED"
    reply = api.post(f"/api/workflow/{workflow_id}/retry")
    assert reply.status == 204
    again = api.poll_one("second")
    assert again["retryCount"] == 1 and again["retriedTaskId"] == failed["taskId"]
    assert again["inputData"] == {"from_first": 5}
    body = dev_server.get_workflow(workflow_id)
    assert body["status"] == "RUNNING" and "reasonForIncompletion" not in body and body["lastRetriedTime"] > 0
    api.update(again)
    assert dev_server.get_workflow(workflow_id)["status"] == "COMPLETED"
    running = api.post(f"/api/workflow/{workflow_id}/retry")
    assert running.status == 409 and "no retryable tasks" in running.json()["message"]


def test_retry_of_a_running_workflow_is_404_like_the_server(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    reply = api.post(f"/api/workflow/{workflow_id}/retry")
    assert reply.status == 404 and "still running" in reply.json()["message"]


def test_restart_runs_an_ended_workflow_again_from_the_start(dev_server: DevServer, api: Api) -> None:
    _two_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("two")
    old_first = api.poll_one("first")
    assert api.post(f"/api/workflow/{workflow_id}/restart").status == 409  # still running
    api.delete(f"/api/workflow/{workflow_id}")
    assert api.post(f"/api/workflow/{workflow_id}/restart?useLatestDefinitions=true").status == 204
    body = dev_server.get_workflow(workflow_id)
    assert body["status"] == "RUNNING" and [t["referenceTaskName"] for t in body["tasks"]] == ["first_ref"]
    assert api.get(f"/api/tasks/{old_first['taskId']}").status == 404
    assert api.poll_one("first")["taskId"] != old_first["taskId"]


def test_rerun_from_a_task_with_new_input(dev_server: DevServer, api: Api) -> None:
    _two_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("two")
    first = api.poll_one("first")
    api.update(first, outputData={"v": 1})
    api.update(api.poll_one("second"))
    assert dev_server.get_workflow(workflow_id)["status"] == "COMPLETED"
    reply = api.post(f"/api/workflow/{workflow_id}/rerun",
                     {"reRunFromWorkflowId": workflow_id, "reRunFromTaskId": first["taskId"],
                      "taskInput": {"forced": True}})
    assert reply.status == 200 and reply.text == workflow_id
    rerun = api.poll_one("first")
    assert rerun["inputData"] == {"forced": True}
    assert [t["referenceTaskName"] for t in dev_server.get_workflow(workflow_id)["tasks"]] == ["first_ref"]
    missing = api.post(f"/api/workflow/{workflow_id}/rerun", {"reRunFromTaskId": "nope"})
    assert missing.status == 400 and missing.json()["message"] == "Task nope not found"


def test_rerun_from_the_start_with_new_workflow_input(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    api.update(api.poll_one("echo"))
    assert api.post(f"/api/workflow/{workflow_id}/rerun", {"workflowInput": {"x": 2}}).status == 200
    assert api.poll_one("echo")["inputData"] == {"x": 2}


def test_skip_a_task_that_has_not_been_scheduled_yet(dev_server: DevServer, api: Api) -> None:
    _two_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("two")
    reply = api.put(f"/api/workflow/{workflow_id}/skiptask/second_ref", {"taskOutput": {"skipped": True}})
    assert reply.status == 200
    assert api.put(f"/api/workflow/{workflow_id}/skiptask/first_ref").status == 409  # already scheduled
    unknown = api.put(f"/api/workflow/{workflow_id}/skiptask/nope")
    assert unknown.status == 404 and "does not exist" in unknown.json()["message"]
    api.update(api.poll_one("first"))
    assert api.poll("second") == []
    body = dev_server.get_workflow(workflow_id)
    assert body["status"] == "COMPLETED"
    assert sorted((t["referenceTaskName"], t["status"]) for t in body["tasks"]) == [
        ("first_ref", "COMPLETED"), ("second_ref", "SKIPPED")]
    assert body["output"] == {"skipped": True}


def test_update_variables(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    reply = api.post(f"/api/workflow/{workflow_id}/variables", {"a": 1, "b": [2]})
    assert reply.status == 200 and reply.json()["variables"] == {"a": 1, "b": [2]}
    api.post(f"/api/workflow/{workflow_id}/variables", {"a": 3})
    status = api.get(f"/api/workflow/{workflow_id}/status?includeVariables=true").json()
    assert status["variables"] == {"a": 3, "b": [2]}
    assert api.post(f"/api/workflow/{workflow_id}/variables", [1]).status == 400


def test_reset_callbacks_makes_a_postponed_task_pollable_now(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    api.update(api.poll_one("echo"), "IN_PROGRESS", callbackAfterSeconds=3600)
    assert api.poll("echo") == []
    assert api.post(f"/api/workflow/{workflow_id}/resetcallbacks").status == 204
    assert len(api.poll("echo")) == 1


def test_execute_waits_for_the_workflow_to_end(dev_server: DevServer, api: Api) -> None:
    dev_server.register_workflow({"name": "quick", "version": 1, "tasks": [
        {"name": "set", "taskReferenceName": "set", "type": "SET_VARIABLE", "inputParameters": {"k": "v"}}],
        "outputParameters": {"k": "${workflow.variables.k}"}})
    reply = api.post("/api/workflow/execute/quick/1?requestId=r-1", {"name": "quick", "version": 1, "input": {}})
    assert reply.status == 200
    run = reply.json()
    assert run["status"] == "COMPLETED" and run["output"] == {"k": "v"} and run["requestId"] == "r-1"


def test_execute_answers_when_the_awaited_task_is_scheduled(dev_server: DevServer, api: Api) -> None:
    _two_task_workflow(dev_server)
    worker = Api(dev_server)
    try:
        def finish_first() -> None:
            worker.update(worker.poll_one("first", timeout=5000), outputData={"v": 9})

        thread = threading.Thread(target=finish_first)
        thread.start()
        reply = api.post("/api/workflow/execute/two/1?waitUntilTaskRef=second_ref&waitForSeconds=10",
                         {"name": "two", "version": 1})
        thread.join()
    finally:
        worker.close()
    run = reply.json()
    assert run["status"] == "RUNNING"
    assert [t["referenceTaskName"] for t in run["tasks"]] == ["first_ref", "second_ref"]
    assert run["tasks"][1]["inputData"] == {"from_first": 9}
