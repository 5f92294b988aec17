"""Task updates: v1 and v2 answers, IN_PROGRESS callbacks, extendLease, no-ops and errors, logs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from devserver._support import Api, one_task_workflow, wait_until

from conductor_actors.devserver import DevServer


def test_v1_answers_the_task_id_as_text_and_completes(dev_server: DevServer, api: Api, polled: dict) -> None:
    reply = api.update(polled, outputData={"y": 2})
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain")
    assert reply.text == polled["taskId"]
    task = dev_server.get_task(polled["taskId"])
    assert task["status"] == "COMPLETED" and task["outputData"] == {"y": 2} and task["endTime"] > 0
    workflow = dev_server.get_workflow(polled["workflowInstanceId"])
    assert workflow["status"] == "COMPLETED" and workflow["output"] == {"y": 2}


def test_v2_hands_out_the_next_task_of_the_same_type(dev_server: DevServer, api: Api, polled: dict) -> None:
    second = dev_server.start_workflow("wf", {"x": 2})
    reply = api.update(polled, v2=True, workerId="host-b")
    assert reply.status == 200
    nxt = reply.json()
    assert nxt["workflowInstanceId"] == second
    assert nxt["status"] == "IN_PROGRESS" and nxt["pollCount"] == 1 and nxt["workerId"] == "host-b"
    # Nothing left: 204 after the server's short wait.
    started = time.monotonic()
    empty = api.update(nxt, v2=True)
    assert empty.status == 204 and empty.body == b""
    assert time.monotonic() - started >= 0.09


def test_v2_uses_the_updated_tasks_domain(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    dev_server.start_workflow("wf", task_to_domain={"echo": "d1"})
    plain = dev_server.start_workflow("wf")
    in_d1 = dev_server.start_workflow("wf", task_to_domain={"echo": "d1"})
    first = api.poll_one("echo", domain="d1")
    nxt = api.update(first, v2=True).json()
    assert nxt["workflowInstanceId"] == in_d1
    assert api.poll_one("echo")["workflowInstanceId"] == plain


def test_v2_waits_for_a_next_task_that_arrives_in_time(make_api: Callable[..., Api]) -> None:
    with DevServer(update_v2_poll_timeout_ms=2000) as slow:
        one_task_workflow(slow)
        slow.start_workflow("wf")
        client = make_api(slow)
        task = client.poll_one("echo")
        later = threading.Timer(0.2, lambda: slow.start_workflow("wf", {"x": "late"}))
        later.start()
        started = time.monotonic()
        reply = client.update(task, v2=True)
        later.join()
        assert reply.status == 200 and reply.json()["inputData"] == {"x": "late"}
        assert time.monotonic() - started < 1.9


def test_in_progress_goes_back_to_the_queue_after_the_callback(dev_server: DevServer, api: Api,
                                                               polled: dict) -> None:
    reply = api.update(polled, "IN_PROGRESS", v2=True, callbackAfterSeconds=0.3, outputData={"step": 1},
                       logs=[{"log": "half way", "taskId": "ignored", "createdTime": 5}])
    assert reply.status == 204
    task = dev_server.get_task(polled["taskId"])
    assert task["status"] == "SCHEDULED" and task["callbackAfterSeconds"] == 0.3
    assert task["outputData"] == {"step": 1}
    assert dev_server.queue_size("echo") == 1
    assert api.poll("echo") == []  # delayed, not yet pollable
    again = wait_until(lambda: api.poll("echo"), what="the callback")[0]
    assert again["taskId"] == polled["taskId"]
    assert again["pollCount"] == 2
    assert again["startTime"] == polled["startTime"]
    assert again["callbackAfterSeconds"] == 0
    assert again["outputData"] == {"step": 1}
    logs = api.get(f"/api/tasks/{polled['taskId']}/log").json()
    assert logs == [{"log": "half way", "taskId": polled["taskId"], "createdTime": 5}]


def test_in_progress_with_no_callback_is_pollable_at_once(api: Api, polled: dict) -> None:
    assert api.update(polled, "IN_PROGRESS").text == polled["taskId"]
    assert api.poll_one("echo")["taskId"] == polled["taskId"]


def test_extend_lease_only_touches_update_time(dev_server: DevServer, api: Api, polled: dict) -> None:
    wait_until(lambda: int(time.time() * 1000) > polled["updateTime"], what="the clock to move")
    lease = {"taskId": polled["taskId"], "workflowInstanceId": polled["workflowInstanceId"],
             "status": "COMPLETED", "extendLease": True, "outputData": {"ignored": True}}
    v1 = api.post("/api/tasks", lease)
    assert (v1.status, v1.text) == (200, polled["taskId"])
    task = dev_server.get_task(polled["taskId"])
    assert task["status"] == "IN_PROGRESS" and task["outputData"] == {}
    assert task["updateTime"] > polled["updateTime"]
    v2 = api.post("/api/tasks/update-v2", lease)
    assert v2.status == 204
    unknown = api.post("/api/tasks", {**lease, "taskId": "nope"})
    assert unknown.status == 404 and unknown.json()["message"] == "No such task found by id: nope"
    # The workflow is not looked up for a lease extension.
    assert api.post("/api/tasks", {**lease, "workflowInstanceId": "no-such-workflow"}).status == 200


def test_updates_to_a_terminal_task_change_nothing(dev_server: DevServer, api: Api, polled: dict) -> None:
    api.update(polled, outputData={"final": True})
    for status in ("FAILED", "IN_PROGRESS", "COMPLETED"):
        reply = api.update(polled, status, outputData={"late": status})
        assert (reply.status, reply.text) == (200, polled["taskId"])
    task = dev_server.get_task(polled["taskId"])
    assert task["status"] == "COMPLETED" and task["outputData"] == {"final": True}
    assert dev_server.get_workflow(polled["workflowInstanceId"])["status"] == "COMPLETED"
    # v2 on an already-terminal task still hands out the next task.
    other = dev_server.start_workflow("wf")
    assert api.update(polled, v2=True).json()["workflowInstanceId"] == other


def test_unknown_ids_are_404_with_the_workflow_checked_first(api: Api, polled: dict) -> None:
    both_unknown = api.post("/api/tasks", {"taskId": "t0", "workflowInstanceId": "w0", "status": "COMPLETED"})
    assert both_unknown.status == 404
    assert both_unknown.json()["message"] == "No such workflow found by id: w0"
    task_unknown = api.post("/api/tasks/update-v2", {"taskId": "t0", "workflowInstanceId": polled["workflowInstanceId"],
                                                     "status": "COMPLETED"})
    assert task_unknown.status == 404
    assert task_unknown.json() == {"status": 404, "message": "No such task found by id: t0",
                                   "instance": task_unknown.json()["instance"], "retryable": False}


@pytest.mark.parametrize("path", ["/api/tasks", "/api/tasks/update-v2"])
def test_missing_ids_are_400_and_null_status_is_500(dev_server: DevServer, api: Api, polled: dict,
                                                    path: str) -> None:
    missing = api.post(path, {"status": "COMPLETED", "taskId": ""})
    assert missing.status == 400
    fields = {e["path"] for e in missing.json()["validationErrors"]}
    assert fields == {"taskResult.taskId", "taskResult.workflowInstanceId"}
    no_status = api.post(path, {"taskId": polled["taskId"], "workflowInstanceId": polled["workflowInstanceId"]})
    assert no_status.status == 500 and no_status.json()["retryable"] is False
    bad_status = api.update(polled, "SCHEDULED")
    assert bad_status.status == 400 and "SCHEDULED" in bad_status.json()["message"]
    wrong_kind = api.update(polled, outputData=[1, 2])
    assert wrong_kind.status == 400
    assert api.post(path, [1, 2]).status == 400
    assert dev_server.get_task(polled["taskId"])["status"] == "IN_PROGRESS"


def test_result_fields_are_applied(dev_server: DevServer, api: Api, polled: dict) -> None:
    logs = [{"log": f"line {n}", "createdTime": n} for n in range(12)]
    api.update(polled, "FAILED_WITH_TERMINAL_ERROR", reasonForIncompletion="x" * 600, workerId="host-z",
               outputData={"a": 1}, logs=logs)
    task = dev_server.get_task(polled["taskId"])
    assert task["status"] == "FAILED_WITH_TERMINAL_ERROR"
    assert task["reasonForIncompletion"] == "x" * 500
    assert task["workerId"] == "host-z"
    kept = api.get(f"/api/tasks/{polled['taskId']}/log").json()
    assert [entry["log"] for entry in kept] == [f"line {n}" for n in range(10)]  # 10 per update
