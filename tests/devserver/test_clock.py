"""The server clock: WAIT durations and until, retry delays, callbackAfterSeconds, startDelay and
response timeouts all run on it, and advancing it runs what became due at once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from devserver._support import Api, one_task_workflow

from conductor_actors.devserver import DevServer
from conductor_actors.testing import InProcessWorkers


def _status(server: DevServer, workflow_id: str) -> str:
    return server.get_workflow(workflow_id)["status"]


def test_an_hour_long_wait_ends_when_the_clock_is_advanced(dev_server: DevServer, api: Api) -> None:
    dev_server.register_workflow({"name": "sleepy", "version": 1, "tasks": [
        {"name": "nap", "taskReferenceName": "nap", "type": "WAIT", "inputParameters": {"duration": "1 hour"}},
        {"name": "after", "taskReferenceName": "after_ref"}]})
    workflow_id = dev_server.start_workflow("sleepy")
    wait = dev_server.get_workflow(workflow_id)["tasks"][0]
    assert wait["status"] == "IN_PROGRESS" and wait["callbackAfterSeconds"] == 3600
    dev_server.advance_clock(3599)
    assert dev_server.get_workflow(workflow_id)["tasks"][0]["status"] == "IN_PROGRESS"
    dev_server.advance_clock(1)
    assert dev_server.get_workflow(workflow_id)["tasks"][0]["status"] == "COMPLETED"
    api.update(api.poll_one("after"))
    assert _status(dev_server, workflow_id) == "COMPLETED"


def test_the_clock_advances_over_http_for_a_server_in_another_process(dev_server: DevServer, api: Api) -> None:
    """``POST /__devserver__/clock/advance`` does what ``advance_clock`` does, for curl and for tests
    of a server they did not start; ``GET /__devserver__/clock`` reads it. Bad bodies are 400."""
    dev_server.register_workflow({"name": "sleepy", "version": 1, "tasks": [
        {"name": "nap", "taskReferenceName": "nap", "type": "WAIT", "inputParameters": {"duration": "1 hour"}}]})
    workflow_id = dev_server.start_workflow("sleepy")
    before = api.get("/__devserver__/clock").json()
    assert before["timeMillis"] == int(before["time"] * 1000)
    reply = api.post("/__devserver__/clock/advance", {"seconds": 3600})
    assert reply.status == 200 and reply.json()["time"] >= before["time"] + 3600
    assert _status(dev_server, workflow_id) == "COMPLETED"
    for bad in ({"seconds": -1}, {"seconds": "1h"}, {"seconds": True}, {}, [3600]):
        refused = api.post("/__devserver__/clock/advance", bad)
        assert refused.status == 400 and "seconds" in refused.json()["message"], (bad, refused)
    assert api.get("/__devserver__/clock/advance").status == 405


def test_wait_until_a_time_on_the_server_clock(dev_server: DevServer) -> None:
    moment = datetime.fromtimestamp(dev_server.clock_time(), tz=timezone.utc) + timedelta(days=2)
    dev_server.register_workflow({"name": "until", "version": 1, "tasks": [
        {"name": "w", "taskReferenceName": "w", "type": "WAIT",
         "inputParameters": {"until": moment.strftime("%Y-%m-%d %H:%M") + " UTC"}}]})
    workflow_id = dev_server.start_workflow("until")
    dev_server.advance_clock(86400)
    assert _status(dev_server, workflow_id) == "RUNNING"
    dev_server.advance_clock(86400)
    assert _status(dev_server, workflow_id) == "COMPLETED"


def test_a_bad_wait_duration_fails_the_task_with_a_clear_reason(dev_server: DevServer) -> None:
    dev_server.register_workflow({"name": "bad_wait", "version": 1, "tasks": [
        {"name": "w", "taskReferenceName": "w", "type": "WAIT", "inputParameters": {"duration": "soon"}}]})
    workflow_id = dev_server.start_workflow("bad_wait")
    workflow = dev_server.get_workflow(workflow_id)
    assert workflow["status"] == "FAILED" and "invalid WAIT duration" in workflow["tasks"][0]["reasonForIncompletion"]


def test_retry_delay_and_callback_after_seconds_run_on_the_clock(dev_server: DevServer, api: Api) -> None:
    dev_server.register_task_def({"name": "echo", "retryCount": 1, "retryDelaySeconds": 600})
    one_task_workflow(dev_server)
    dev_server.start_workflow("wf", {"x": 1})
    api.update(api.poll_one("echo"), "FAILED")
    assert api.poll("echo") == []
    dev_server.advance_clock(600)
    retried = api.poll_one("echo")
    assert retried["retryCount"] == 1
    api.update(retried, "IN_PROGRESS", callbackAfterSeconds=300)
    assert api.poll("echo") == []
    dev_server.advance_clock(300)
    assert api.poll_one("echo")["taskId"] == retried["taskId"]


def test_start_delay_runs_on_the_clock(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server, startDelay=120)
    dev_server.start_workflow("wf", {"x": 1})
    assert api.poll("echo") == [] and dev_server.queue_size("echo") == 1
    dev_server.advance_clock(120)
    assert len(api.poll("echo")) == 1


def test_response_timeout_runs_on_the_clock(dev_server: DevServer, api: Api) -> None:
    dev_server.register_task_def({"name": "echo", "retryCount": 0, "responseTimeoutSeconds": 1800})
    one_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    api.poll_one("echo")
    dev_server.advance_clock(1799)
    assert _status(dev_server, workflow_id) == "RUNNING"
    dev_server.advance_clock(1)
    assert _status(dev_server, workflow_id) == "TIMED_OUT"


def test_timestamps_follow_the_clock_and_it_never_goes_back(dev_server: DevServer) -> None:
    one_task_workflow(dev_server)
    before = dev_server.clock_time()
    dev_server.advance_clock(86400 * 365)
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    assert dev_server.get_workflow(workflow_id)["createTime"] >= int((before + 86400 * 365) * 1000)
    with pytest.raises(ValueError, match="seconds"):
        dev_server.advance_clock(-1)


def test_the_testing_kit_advances_the_clock(dev_server: DevServer) -> None:
    dev_server.register_workflow({"name": "nap", "version": 1, "tasks": [
        {"name": "w", "taskReferenceName": "w", "type": "WAIT", "inputParameters": {"duration": "2h"}}]})
    with InProcessWorkers(dev_server) as workers:
        workflow_id = dev_server.start_workflow("nap")
        workers.advance_clock(7200)
        assert workers.wait_for_workflows([workflow_id], 5.0) == {workflow_id: "COMPLETED"}
    with pytest.raises(TypeError, match="no clock"):
        InProcessWorkers(type("Remote", (), {"url": "http://127.0.0.1:1/api"})()).advance_clock(1)
