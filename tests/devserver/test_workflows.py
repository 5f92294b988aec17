"""Workflows: starting, sequencing with expressions, outputs, retries, timeouts, failures."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from devserver._support import WAIT, Api, one_task_workflow, wait_until

from conductor_actors.devserver import DevServer

PIPELINE = {
    "name": "pipeline", "version": 1, "schemaVersion": 2,
    "tasks": [
        {"name": "a", "taskReferenceName": "a_ref",
         "inputParameters": {"n": "${workflow.input.n}", "greeting": "hello ${workflow.input.who}!",
                             "missing": "${workflow.input.nothing}", "wid": "${workflow.workflowId}"}},
        {"name": "b", "taskReferenceName": "b_ref",
         "inputParameters": {"deep": "${a_ref.output.result.deep}", "first": "${a_ref.output.items[0]}",
                             "nested": {"list": ["${a_ref.output.items[1]}", "x-${a_ref.output.items[2]}"]},
                             "literal": "$${a_ref.output.items}", "status": "${a_ref.status}",
                             "previous_input": "${a_ref.input.n}"}},
        {"name": "c", "taskReferenceName": "c_ref", "inputParameters": {"all": "${b_ref.output}"}},
    ],
    "outputParameters": {"total": "${c_ref.output.total}", "summary": "n=${workflow.input.n}",
                         "from_a": "${a_ref.output.items}"},
}


def finish(api: Api, task_type: str, output: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Poll one task of ``task_type`` and complete it with ``output``; returns the polled task."""
    task = api.poll_one(task_type, **kwargs)
    assert api.update(task, outputData=output or {}).status == 200
    return task


def test_a_sequence_resolves_inputs_and_outputs(dev_server: DevServer, api: Api) -> None:
    dev_server.register_workflow(PIPELINE)
    workflow_id = dev_server.start_workflow("pipeline", {"n": 4, "who": "world"}, correlation_id="order-1")
    assert dev_server.get_workflow(workflow_id)["status"] == "RUNNING"
    a = finish(api, "a", {"result": {"deep": [1, 2]}, "items": ["i0", {"k": 1}, 2]})
    assert a["inputData"] == {"n": 4, "greeting": "hello world!", "missing": None, "wid": workflow_id}
    assert a["correlationId"] == "order-1"
    b = finish(api, "b", {"b_out": True})
    assert b["inputData"] == {"deep": [1, 2], "first": "i0", "nested": {"list": [{"k": 1}, "x-2"]},
                              "literal": "${a_ref.output.items}", "status": "COMPLETED", "previous_input": 4}
    c = finish(api, "c", {"total": 10})
    assert c["inputData"] == {"all": {"b_out": True}}
    assert dev_server.wait_for_workflows([workflow_id], WAIT) == {workflow_id: "COMPLETED"}
    workflow = dev_server.get_workflow(workflow_id)
    assert workflow["output"] == {"total": 10, "summary": "n=4", "from_a": ["i0", {"k": 1}, 2]}
    assert [t["referenceTaskName"] for t in workflow["tasks"]] == ["a_ref", "b_ref", "c_ref"]
    assert [t["seq"] for t in workflow["tasks"]] == [1, 2, 3]
    assert workflow["workflowName"] == "pipeline" and workflow["workflowVersion"] == 1
    assert workflow["correlationId"] == "order-1" and workflow["input"] == {"n": 4, "who": "world"}
    assert workflow["endTime"] >= workflow["startTime"] == workflow["createTime"] > 0
    assert workflow["failedReferenceTaskNames"] == [] and "reasonForIncompletion" not in workflow


def test_without_output_parameters_the_output_is_the_last_tasks_output(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    finish(api, "echo", {"echoed": 1})
    assert dev_server.get_workflow(workflow_id)["output"] == {"echoed": 1}


def test_start_by_name_over_http(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    dev_server.register_workflow({"name": "wf", "version": 2, "tasks": [{"name": "v2", "taskReferenceName": "r"}]})
    reply = api.post("/api/workflow/wf?correlationId=c-9&priority=7", {"x": 5})
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/plain")
    latest = api.get(f"/api/workflow/{reply.text}").json()
    assert latest["workflowVersion"] == 2 and latest["priority"] == 7 and latest["correlationId"] == "c-9"
    v1 = api.post("/api/workflow/wf?version=1", {"x": 5}).text
    assert api.get(f"/api/workflow/{v1}").json()["tasks"][0]["inputData"] == {"x": 5}
    no_body = api.post("/api/workflow/wf?version=1", raw=b"")
    assert no_body.status == 200


def test_start_errors(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    missing = api.post("/api/workflow/ghost", {})
    assert missing.status == 404
    assert missing.json()["message"] == "No such workflow defined. name=ghost, version=null"
    assert api.post("/api/workflow/wf?version=3", {}).json()["message"] == \
        "No such workflow defined. name=wf, version=3"
    assert api.post("/api/workflow/wf?priority=100", {}).status == 400
    assert api.post("/api/workflow/wf?priority=-1", {}).status == 400
    assert api.post("/api/workflow/wf", [1]).status == 400
    assert api.post("/api/workflow", {"input": {}}).status == 400
    assert api.post("/api/workflow", {"name": "wf", "taskToDomain": {"echo": 1}}).status == 400
    with pytest.raises(KeyError, match="ghost"):
        dev_server.start_workflow("ghost")
    with pytest.raises(ValueError, match="taskToDomain"):
        dev_server.start_workflow("wf", task_to_domain={"echo": 5})  # type: ignore[dict-item]


def test_start_with_a_request_body(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    reply = api.post("/api/workflow", {"name": "wf", "version": 1, "input": {"x": "in"}, "correlationId": "k",
                                       "priority": 3, "taskToDomain": {"*": "blue"}})
    assert reply.status == 200
    workflow = api.get(f"/api/workflow/{reply.text}").json()
    assert (workflow["priority"], workflow["correlationId"], workflow["taskToDomain"]) == (3, "k", {"*": "blue"})
    assert api.poll_one("echo", domain="blue")["inputData"] == {"x": "in"}
    assert api.post("/api/workflow", {"name": "wf", "workflowDef": {}}).status == 400


def test_start_with_the_definition_in_the_request(dev_server: DevServer, api: Api) -> None:
    """The official SDK's ``ConductorWorkflow.start_workflow_with_input`` and ``execute`` send the
    definition with the request: it runs as sent, without being registered, like the server does."""
    inline = {"name": "adhoc", "version": 3, "tasks": [
        {"name": "echo", "taskReferenceName": "echo_ref", "type": "SIMPLE",
         "inputParameters": {"x": "${workflow.input.x}"}}],
        "outputParameters": {"y": "${echo_ref.output.y}"}}
    reply = api.post("/api/workflow", {"name": "adhoc", "version": 3, "input": {"x": 1}, "workflowDef": inline})
    assert reply.status == 200, reply
    task = api.poll_one("echo")
    assert task["inputData"] == {"x": 1} and task["workflowType"] == "adhoc"
    api.update(task, outputData={"y": 2})
    workflow = api.get(f"/api/workflow/{reply.text}").json()
    assert (workflow["workflowName"], workflow["workflowVersion"]) == ("adhoc", 3)
    assert workflow["status"] == "COMPLETED" and workflow["output"] == {"y": 2}
    assert api.get("/api/metadata/workflow/adhoc").status == 404  # not registered
    # The sync execute endpoint takes it too.
    quick = {"name": "quick", "version": 1, "tasks": [
        {"name": "set", "taskReferenceName": "set", "type": "SET_VARIABLE", "inputParameters": {"k": "v"}}],
        "outputParameters": {"k": "${workflow.variables.k}"}}
    run = api.post("/api/workflow/execute/quick/1", {"name": "quick", "version": 1, "workflowDef": quick})
    assert run.status == 200 and run.json()["status"] == "COMPLETED" and run.json()["output"] == {"k": "v"}
    # A definition that would not register is refused the same way, naming the problem.
    bad = {"name": "bad", "version": 1, "tasks": [{"name": "e", "taskReferenceName": "e", "type": "EVENT"}]}
    refused = api.post("/api/workflow", {"name": "bad", "workflowDef": bad})
    assert refused.status == 400
    assert refused.json()["validationErrors"][0]["path"] == "startWorkflowRequest.workflowDef.tasks[0].type"


def test_get_workflow_status_and_404(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("wf", {"x": 1}, correlation_id="c")
    assert len(api.get(f"/api/workflow/{workflow_id}").json()["tasks"]) == 1
    assert api.get(f"/api/workflow/{workflow_id}?includeTasks=false").json()["tasks"] == []
    assert api.get(f"/api/workflow/{workflow_id}?includeTasks=maybe").status == 400
    status = api.get(f"/api/workflow/{workflow_id}/status").json()
    assert status == {"workflowId": workflow_id, "status": "RUNNING", "correlationId": "c"}
    full = api.get(f"/api/workflow/{workflow_id}/status?includeOutput=true&includeVariables=true").json()
    assert full["output"] == {} and full["variables"] == {}
    missing = api.get("/api/workflow/nope")
    assert missing.status == 404 and missing.json()["message"] == "No such workflow found by id: nope"
    with pytest.raises(KeyError):
        dev_server.get_workflow("nope")
    with pytest.raises(KeyError):
        dev_server.get_task("nope")


def fail_and_collect_retries(dev_server: DevServer, api: Api, attempts: int) -> list[dict[str, Any]]:
    """Fail ``attempts`` polls of ``flaky`` in a row; returns every task as polled."""
    polled = []
    for _ in range(attempts):
        task = wait_until(lambda: api.poll("flaky"), what="the retry to become pollable")[0]
        polled.append(task)
        assert api.update(task, "FAILED", reasonForIncompletion="boom").status == 200
    return polled


@pytest.mark.parametrize(("retry_def", "delays"), [
    ({"retryLogic": "FIXED", "retryDelaySeconds": 0.05}, [0.05, 0.05, 0.05]),
    ({"retryLogic": "EXPONENTIAL_BACKOFF", "retryDelaySeconds": 0.05}, [0.05, 0.1, 0.2]),
    ({"retryLogic": "EXPONENTIAL_BACKOFF", "retryDelaySeconds": 0.05, "maxRetryDelaySeconds": 0.15},
     [0.05, 0.1, 0.15]),
    ({"retryLogic": "LINEAR_BACKOFF", "retryDelaySeconds": 0.05, "backoffScaleFactor": 2}, [0.1, 0.2, 0.3]),
], ids=["fixed", "exponential", "exponential-capped", "linear"])
def test_retries_follow_the_retry_logic_then_fail_the_workflow(dev_server: DevServer, api: Api,
                                                               retry_def: dict[str, Any],
                                                               delays: list[float]) -> None:
    dev_server.register_task_def({"name": "flaky", "retryCount": 3, **retry_def})
    one_task_workflow(dev_server, task="flaky")
    workflow_id = dev_server.start_workflow("wf")
    polled = fail_and_collect_retries(dev_server, api, 4)
    assert [t["retryCount"] for t in polled] == [0, 1, 2, 3]
    assert len({t["taskId"] for t in polled}) == 4
    for previous, retry, delay in zip(polled, polled[1:], delays):
        assert retry["retriedTaskId"] == previous["taskId"]
        assert retry["pollCount"] == 1
        assert retry["inputData"] == previous["inputData"]
        stored = dev_server.get_task(retry["taskId"])
        assert stored["startDelayInSeconds"] == pytest.approx(delay)
        assert retry["startTime"] - retry["scheduledTime"] >= delay * 1000 - 2  # not handed out early
        assert dev_server.get_task(previous["taskId"])["retried"] is True
    assert dev_server.wait_for_workflows([workflow_id], WAIT) == {workflow_id: "FAILED"}
    workflow = dev_server.get_workflow(workflow_id)
    last = polled[-1]["taskId"]
    assert workflow["reasonForIncompletion"] == f"Task {last} failed with status: FAILED and reason: 'boom'"
    assert workflow["failedReferenceTaskNames"] == ["flaky_ref"] and workflow["failedTaskNames"] == ["flaky"]
    assert [t["status"] for t in workflow["tasks"]] == ["FAILED"] * 4


def test_a_retry_waits_its_delay_and_jitter_is_added(dev_server: DevServer, api: Api) -> None:
    dev_server.register_task_def({"name": "flaky", "retryCount": 1, "retryDelaySeconds": 0.3,
                                  "backoffJitterMs": 50})
    one_task_workflow(dev_server, task="flaky")
    dev_server.start_workflow("wf")
    first = api.poll_one("flaky")
    api.update(first, "FAILED")
    retry = dev_server.tasks(status="SCHEDULED")[0]
    assert 0.3 <= retry["callbackAfterSeconds"] <= 0.35
    assert dev_server.queue_size("flaky") == 1
    assert api.poll("flaky") == []  # queued but not ready yet
    assert wait_until(lambda: api.poll("flaky"), what="the retry")[0]["taskId"] == retry["taskId"]


def test_workflow_task_retry_count_overrides_the_task_def(dev_server: DevServer, api: Api) -> None:
    dev_server.register_task_def({"name": "flaky", "retryCount": 3, "retryDelaySeconds": 0})
    one_task_workflow(dev_server, task="flaky", retryCount=0)
    workflow_id = dev_server.start_workflow("wf")
    api.update(api.poll_one("flaky"), "FAILED", reasonForIncompletion="once")
    assert dev_server.get_workflow(workflow_id)["status"] == "FAILED"


def test_an_unregistered_task_uses_the_server_defaults(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server, task="adhoc")
    workflow_id = dev_server.start_workflow("wf")
    task = api.poll_one("adhoc")
    assert task["responseTimeoutSeconds"] == 3600
    api.update(task, "FAILED")
    retry = dev_server.tasks(status="SCHEDULED")[0]
    assert (retry["retryCount"], retry["callbackAfterSeconds"]) == (1, 60)
    assert dev_server.get_workflow(workflow_id)["status"] == "RUNNING"


def test_terminal_error_fails_the_workflow_at_once(dev_server: DevServer, api: Api) -> None:
    dev_server.register_task_def({"name": "flaky", "retryCount": 3, "retryDelaySeconds": 0})
    one_task_workflow(dev_server, task="flaky")
    workflow_id = dev_server.start_workflow("wf")
    task = api.poll_one("flaky")
    api.update(task, "FAILED_WITH_TERMINAL_ERROR", reasonForIncompletion="bad input")
    workflow = dev_server.get_workflow(workflow_id)
    assert workflow["status"] == "FAILED" and len(workflow["tasks"]) == 1
    assert workflow["reasonForIncompletion"] == \
        f"Task {task['taskId']} failed with status: FAILED and reason: 'bad input'"


def test_a_canceled_task_terminates_the_workflow(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("wf")
    task = api.poll_one("echo")
    api.update(task, "CANCELED")
    workflow = dev_server.get_workflow(workflow_id)
    assert workflow["status"] == "TERMINATED"
    assert workflow["reasonForIncompletion"] == \
        f"Task {task['taskId']} failed with status: TERMINATED and reason: 'null'"


def test_an_optional_task_completes_with_errors_and_the_workflow_goes_on(dev_server: DevServer, api: Api) -> None:
    dev_server.register_task_def({"name": "maybe", "retryCount": 1, "retryDelaySeconds": 0})
    dev_server.register_workflow({"name": "opt", "tasks": [
        {"name": "maybe", "taskReferenceName": "maybe_ref", "optional": True},
        {"name": "then", "taskReferenceName": "then_ref", "inputParameters": {"s": "${maybe_ref.status}"}}]})
    workflow_id = dev_server.start_workflow("opt")
    first = api.poll_one("maybe")
    api.update(first, "FAILED")
    retry = api.poll_one("maybe")  # optional tasks are retried first
    api.update(retry, "FAILED")
    assert dev_server.get_task(retry["taskId"])["status"] == "COMPLETED_WITH_ERRORS"
    then = finish(api, "then", {"done": True})
    assert then["inputData"] == {"s": "COMPLETED_WITH_ERRORS"}
    assert dev_server.wait_for_workflows([workflow_id], WAIT) == {workflow_id: "COMPLETED"}


def test_response_timeout_times_out_then_retries(dev_server: DevServer, api: Api) -> None:
    dev_server.register_task_def({"name": "slow", "retryCount": 1, "retryDelaySeconds": 0,
                                  "responseTimeoutSeconds": 0.3})
    one_task_workflow(dev_server, task="slow")
    workflow_id = dev_server.start_workflow("wf")
    task = api.poll_one("slow")
    polled_at = time.monotonic()
    timed_out = wait_until(lambda: dev_server.get_task(task["taskId"])["status"] == "TIMED_OUT",
                           what="the response timeout")
    assert timed_out and time.monotonic() - polled_at >= 0.29
    stored = dev_server.get_task(task["taskId"])
    assert stored["reasonForIncompletion"] == \
        f"responseTimeout: 0.3 exceeded for the taskId: {task['taskId']} with Task Definition: slow"
    # A late result for the timed-out task is accepted and ignored.
    assert api.update(task, outputData={"late": True}).status == 200
    assert dev_server.get_task(task["taskId"])["status"] == "TIMED_OUT"
    retry = api.poll_one("slow")
    assert retry["retriedTaskId"] == task["taskId"] and retry["retryCount"] == 1
    # The retry times out too: no retries left, so the workflow times out.
    assert dev_server.wait_for_workflows([workflow_id], WAIT) == {workflow_id: "TIMED_OUT"}
    reason = dev_server.get_workflow(workflow_id)["reasonForIncompletion"]
    assert reason.startswith(f"Task {retry['taskId']} failed with status: TIMED_OUT and reason: 'responseTimeout")


def test_lease_extensions_keep_a_task_from_timing_out(dev_server: DevServer, api: Api) -> None:
    dev_server.register_task_def({"name": "slow", "retryCount": 0, "responseTimeoutSeconds": 0.4})
    one_task_workflow(dev_server, task="slow")
    workflow_id = dev_server.start_workflow("wf")
    task = api.poll_one("slow")
    lease = {"taskId": task["taskId"], "workflowInstanceId": workflow_id, "status": "IN_PROGRESS",
             "extendLease": True}
    pace = threading.Event()
    until = time.monotonic() + 1.0  # more than twice the timeout
    while time.monotonic() < until:
        assert api.post("/api/tasks", lease).status == 200
        assert dev_server.get_task(task["taskId"])["status"] == "IN_PROGRESS"
        pace.wait(0.1)  # pacing the heartbeats, not waiting for a condition
    assert dev_server.wait_for_workflows([workflow_id], WAIT) == {workflow_id: "TIMED_OUT"}


def test_wait_for_workflows_reports_unfinished_and_unknown_ids(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    done = dev_server.start_workflow("wf")
    finish(api, "echo")
    pending = [dev_server.start_workflow("wf") for _ in range(4)]
    with pytest.raises(TimeoutError) as caught:
        dev_server.wait_for_workflows([done, *pending], 0.05)
    message = str(caught.value)
    assert "4 of 5 workflows still unfinished" in message and pending[0] in message
    with pytest.raises(KeyError, match="nope"):
        dev_server.wait_for_workflows([done, "nope"], 1)
    assert dev_server.wait_for_workflows([done], 0) == {done: "COMPLETED"}


def test_wait_for_workflows_wakes_when_the_last_one_ends(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    ids = [dev_server.start_workflow("wf") for _ in range(3)]
    result: dict[str, Any] = {}
    waiter = threading.Thread(target=lambda: result.update(dev_server.wait_for_workflows(ids, WAIT)))
    waiter.start()
    for _ in ids:
        finish(api, "echo")
    waiter.join(WAIT)
    assert result == dict.fromkeys(ids, "COMPLETED")


def test_workflow_statuses_reads_many_workflows_at_once(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    done = dev_server.start_workflow("wf")
    finish(api, "echo")
    running = dev_server.start_workflow("wf")
    assert dev_server.workflow_statuses([done, running]) == {done: "COMPLETED", running: "RUNNING"}
    with pytest.raises(KeyError):
        dev_server.workflow_statuses(["nope"])
