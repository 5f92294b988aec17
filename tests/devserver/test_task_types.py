"""System task types driven through the HTTP API: control flow, sub-workflows, variables, WAIT,
HUMAN, TERMINATE, DYNAMIC, INLINE/JavaScript, JSON_JQ_TRANSFORM and HTTP (against a loopback server)."""

from __future__ import annotations

import http.server
import importlib.util
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from devserver._support import Api

from conductor_actors.devserver import DevServer

HAS_JS = importlib.util.find_spec("py_mini_racer") is not None
HAS_JQ = importlib.util.find_spec("jq") is not None
needs_js = pytest.mark.skipif(not HAS_JS, reason="the js extra (mini-racer) is not installed: "
                                                  "pip install 'conductor-actors[js]'")
needs_jq = pytest.mark.skipif(not HAS_JQ, reason="the jq extra is not installed: pip install 'conductor-actors[jq]'")


def simple(name: str, ref: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"name": name, "taskReferenceName": ref or f"{name}_ref", "type": "SIMPLE", **fields}


def register(api: Api, name: str, tasks: list[dict[str, Any]], **fields: Any) -> None:
    reply = api.post("/api/metadata/workflow?overwrite=true",
                     {"name": name, "version": 1, "schemaVersion": 2, "tasks": tasks, **fields})
    assert reply.status == 200, reply


def start(api: Api, name: str, workflow_input: dict[str, Any] | None = None) -> str:
    reply = api.post(f"/api/workflow/{name}", workflow_input or {})
    assert reply.status == 200, reply
    return reply.text


def workflow(api: Api, workflow_id: str) -> dict[str, Any]:
    reply = api.get(f"/api/workflow/{workflow_id}")
    assert reply.status == 200, reply
    return reply.json()  # type: ignore[no-any-return]


def refs(body: dict[str, Any]) -> list[str]:
    return [t["referenceTaskName"] for t in body["tasks"]]


def complete(api: Api, task_type: str, output: dict[str, Any] | None = None) -> dict[str, Any]:
    task = api.poll_one(task_type)
    assert api.update(task, outputData=output or {}).status == 200
    return task


def test_switch_value_param_runs_the_matching_case_then_what_follows(dev_server: DevServer, api: Api) -> None:
    register(api, "sw", [
        {"name": "route", "taskReferenceName": "route", "type": "SWITCH", "evaluatorType": "value-param",
         "expression": "kind", "inputParameters": {"kind": "${workflow.input.kind}"},
         "decisionCases": {"fast": [simple("fast")], "slow": [simple("slow1"), simple("slow2")]},
         "defaultCase": [simple("other")]},
        simple("after"),
    ])
    fast = start(api, "sw", {"kind": "fast"})
    complete(api, "fast")
    complete(api, "after")
    body = workflow(api, fast)
    assert body["status"] == "COMPLETED" and refs(body) == ["route", "fast_ref", "after_ref"]
    assert body["tasks"][0]["outputData"] == {"evaluationResult": ["fast"]}
    fallback = start(api, "sw", {"kind": "unknown"})
    complete(api, "other")
    complete(api, "after")
    assert refs(workflow(api, fallback)) == ["route", "other_ref", "after_ref"]


def test_decision_with_case_value_param_and_an_empty_case(dev_server: DevServer, api: Api) -> None:
    register(api, "dec", [
        {"name": "d", "taskReferenceName": "d", "type": "DECISION", "caseValueParam": "flag",
         "inputParameters": {"flag": "${workflow.input.flag}"},
         "decisionCases": {"true": [simple("yes")], "false": []}},
        simple("end"),
    ])
    skipped = start(api, "dec", {"flag": False})
    complete(api, "end")
    assert refs(workflow(api, skipped)) == ["d", "end_ref"]
    taken = start(api, "dec", {"flag": True})
    complete(api, "yes")
    complete(api, "end")
    assert workflow(api, taken)["status"] == "COMPLETED"


def test_fork_join_waits_for_every_branch_and_joins_their_outputs(dev_server: DevServer, api: Api) -> None:
    register(api, "fork", [
        {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN",
         "forkTasks": [[simple("a"), simple("a2")], [simple("b")]]},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a2_ref", "b_ref"]},
        simple("last", inputParameters={"joined": "${join.output}"}),
    ])
    workflow_id = start(api, "fork")
    assert {t["referenceTaskName"] for t in workflow(api, workflow_id)["tasks"]} == {"fork", "a_ref", "b_ref", "join"}
    complete(api, "b", {"b": 1})
    complete(api, "a", {"a": 1})
    assert workflow(api, workflow_id)["tasks"][-1]["referenceTaskName"] == "a2_ref"
    join = next(t for t in workflow(api, workflow_id)["tasks"] if t["referenceTaskName"] == "join")
    assert join["status"] == "IN_PROGRESS" and join["inputData"]["joinOn"] == ["a2_ref", "b_ref"]
    complete(api, "a2", {"a2": 2})
    last = api.poll_one("last")
    assert last["inputData"] == {"joined": {"a2_ref": {"a2": 2}, "b_ref": {"b": 1}}}
    api.update(last)
    assert workflow(api, workflow_id)["status"] == "COMPLETED"


def test_fork_join_dynamic_forks_the_listed_tasks(dev_server: DevServer, api: Api) -> None:
    register(api, "dyn_fork", [
        {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
         "dynamicForkTasksParam": "tasks", "dynamicForkTasksInputParamName": "inputs",
         "inputParameters": {"tasks": "${workflow.input.tasks}", "inputs": "${workflow.input.inputs}"}},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
    ])
    workflow_id = start(api, "dyn_fork", {
        "tasks": [{"name": "part", "taskReferenceName": "p1"}, {"name": "part", "taskReferenceName": "p2"}],
        "inputs": {"p1": {"n": 1}, "p2": {"n": 2}},
    })
    parts = api.poll("part", count=5)
    assert sorted(t["inputData"]["n"] for t in parts) == [1, 2]
    for task in parts:
        api.update(task, outputData={"double": task["inputData"]["n"] * 2})
    body = workflow(api, workflow_id)
    assert body["status"] == "COMPLETED"
    join = next(t for t in body["tasks"] if t["referenceTaskName"] == "join")
    assert join["outputData"] == {"p1": {"double": 2}, "p2": {"double": 4}}


def test_fork_join_dynamic_runs_system_tasks_and_refuses_what_it_cannot_fork(dev_server: DevServer,
                                                                           api: Api) -> None:
    """A forked SET_VARIABLE or SUB_WORKFLOW runs on the server (its settings from its own
    inputParameters); a type it cannot fork fails the fork, naming it, instead of becoming a worker
    task that nobody polls."""
    register(api, "kid", [{"name": "set", "taskReferenceName": "set", "type": "SET_VARIABLE",
                           "inputParameters": {"k": 1}}], outputParameters={"from_kid": "${workflow.input.v}"})
    register(api, "dyn_system", [
        {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
         "dynamicForkTasksParam": "tasks", "dynamicForkTasksInputParamName": "inputs",
         "inputParameters": {"tasks": "${workflow.input.tasks}", "inputs": "${workflow.input.inputs}"}},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
    ])
    workflow_id = start(api, "dyn_system", {
        "tasks": [{"name": "vars", "taskReferenceName": "vars", "type": "SET_VARIABLE",
                   "inputParameters": {"seen": True}},
                  {"name": "child", "taskReferenceName": "child", "type": "SUB_WORKFLOW",
                   "subWorkflowParam": {"name": "kid", "version": 1}}],
        "inputs": {"child": {"v": 5}},
    })
    body = workflow(api, workflow_id)
    assert body["status"] == "COMPLETED", body
    assert body["variables"] == {"seen": True}
    join = next(t for t in body["tasks"] if t["referenceTaskName"] == "join")
    assert join["outputData"]["child"]["from_kid"] == 5
    refused_id = start(api, "dyn_system", {
        "tasks": [{"name": "e", "taskReferenceName": "e", "type": "EVENT"}], "inputs": {}})
    refused = workflow(api, refused_id)
    assert refused["status"] == "FAILED" and dev_server.queue_size("e") == 0
    assert "EVENT" in refused["tasks"][0]["reasonForIncompletion"]


def test_sub_workflow_completes_its_task_with_the_childs_output(dev_server: DevServer, api: Api) -> None:
    register(api, "child", [simple("inner", inputParameters={"v": "${workflow.input.v}"})],
             outputParameters={"result": "${inner_ref.output.r}"})
    register(api, "parent", [
        {"name": "sub", "taskReferenceName": "sub", "type": "SUB_WORKFLOW",
         "subWorkflowParam": {"name": "child"}, "inputParameters": {"v": "${workflow.input.v}"}},
        simple("after", inputParameters={"got": "${sub.output.result}"}),
    ])
    parent_id = start(api, "parent", {"v": 7})
    inner = api.poll_one("inner")
    assert inner["inputData"] == {"v": 7}
    child = workflow(api, inner["workflowInstanceId"])
    assert child["parentWorkflowId"] == parent_id
    api.update(inner, outputData={"r": 49})
    after = api.poll_one("after")
    assert after["inputData"] == {"got": 49}
    sub = workflow(api, parent_id)["tasks"][0]
    assert sub["status"] == "COMPLETED" and sub["subWorkflowId"] == child["workflowId"]


def test_a_failed_sub_workflow_fails_its_task_and_terminating_the_parent_ends_the_child(
        dev_server: DevServer, api: Api) -> None:
    register(api, "child2", [simple("inner2", retryCount=0)])
    register(api, "parent2", [{"name": "sub", "taskReferenceName": "sub", "type": "SUB_WORKFLOW",
                               "subWorkflowParam": {"name": "child2", "version": 1}}])
    failing = start(api, "parent2")
    api.update(api.poll_one("inner2"), "FAILED", reasonForIncompletion="broken")
    body = workflow(api, failing)
    assert body["status"] == "FAILED" and body["tasks"][0]["status"] == "FAILED"
    terminated = start(api, "parent2")
    child_id = workflow(api, terminated)["tasks"][0]["subWorkflowId"]
    assert api.delete(f"/api/workflow/{terminated}").status == 200
    assert workflow(api, child_id)["status"] == "TERMINATED"


def test_dynamic_runs_the_task_named_in_its_input(dev_server: DevServer, api: Api) -> None:
    register(api, "dynamic", [{"name": "dyn", "taskReferenceName": "dyn", "type": "DYNAMIC",
                               "dynamicTaskNameParam": "which",
                               "inputParameters": {"which": "${workflow.input.which}", "x": 1}}])
    workflow_id = start(api, "dynamic", {"which": "chosen_task"})
    task = api.poll_one("chosen_task")
    assert task["referenceTaskName"] == "dyn" and task["taskDefName"] == "chosen_task"
    api.update(task)
    assert workflow(api, workflow_id)["status"] == "COMPLETED"
    missing = start(api, "dynamic", {})
    body = workflow(api, missing)
    assert body["status"] == "FAILED" and "dynamic task" in body["reasonForIncompletion"]


def test_terminate_task_ends_the_workflow_with_its_status_and_output(dev_server: DevServer, api: Api) -> None:
    register(api, "stop", [
        {"name": "t", "taskReferenceName": "t", "type": "TERMINATE",
         "inputParameters": {"terminationStatus": "FAILED", "terminationReason": "nope",
                             "workflowOutput": {"why": "${workflow.input.why}"}}},
        simple("never"),
    ])
    workflow_id = start(api, "stop", {"why": "testing"})
    body = workflow(api, workflow_id)
    assert body["status"] == "FAILED" and body["reasonForIncompletion"] == "nope"
    assert body["output"] == {"why": "testing"} and refs(body) == ["t"]


def test_set_variable_feeds_later_expressions(dev_server: DevServer, api: Api) -> None:
    register(api, "vars", [
        {"name": "set", "taskReferenceName": "set", "type": "SET_VARIABLE", "inputParameters": {"count": 3}},
        simple("use", inputParameters={"count": "${workflow.variables.count}"}),
    ])
    workflow_id = start(api, "vars")
    assert api.poll_one("use")["inputData"] == {"count": 3}
    assert workflow(api, workflow_id)["variables"] == {"count": 3}


def test_human_and_untimed_wait_stay_in_progress_until_updated(dev_server: DevServer, api: Api) -> None:
    register(api, "approval", [
        {"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"},
        {"name": "hold", "taskReferenceName": "hold", "type": "WAIT"},
    ])
    workflow_id = start(api, "approval")
    assert api.poll("HUMAN") == [] and api.poll("approve") == []
    human = workflow(api, workflow_id)["tasks"][0]
    assert human["status"] == "IN_PROGRESS"
    assert api.update(human, "IN_PROGRESS", outputData={"seen": True}).status == 200
    assert workflow(api, workflow_id)["tasks"][0]["status"] == "IN_PROGRESS"
    assert api.post(f"/api/tasks/{workflow_id}/approve/COMPLETED", {"ok": True}).status == 200
    assert workflow(api, workflow_id)["tasks"][1]["status"] == "IN_PROGRESS"
    assert api.post(f"/api/tasks/{workflow_id}/hold/COMPLETED", {}).status == 200
    body = workflow(api, workflow_id)
    assert body["status"] == "COMPLETED" and body["tasks"][0]["outputData"] == {"ok": True}


def test_inline_value_param_needs_no_engine(dev_server: DevServer, api: Api) -> None:
    register(api, "inline_vp", [{"name": "i", "taskReferenceName": "i", "type": "INLINE",
                                 "inputParameters": {"evaluatorType": "value-param", "expression": "v",
                                                     "v": "${workflow.input.v}"}}])
    workflow_id = start(api, "inline_vp", {"v": [1, 2]})
    body = workflow(api, workflow_id)
    assert body["status"] == "COMPLETED" and body["output"] == {"result": [1, 2]}


@needs_js
def test_inline_javascript_and_switch_javascript(dev_server: DevServer, api: Api) -> None:
    register(api, "js", [
        {"name": "calc", "taskReferenceName": "calc", "type": "INLINE",
         "inputParameters": {"evaluatorType": "graaljs", "a": "${workflow.input.a}",
                             "expression": "(function () { return {sum: $.a.reduce((x, y) => x + y, 0)}; })();"}},
        {"name": "route", "taskReferenceName": "route", "type": "SWITCH", "evaluatorType": "javascript",
         "expression": "$.sum > 5 ? 'big' : 'small'", "inputParameters": {"sum": "${calc.output.result.sum}"},
         "decisionCases": {"big": [simple("big")], "small": [simple("small")]}},
    ])
    workflow_id = start(api, "js", {"a": [1, 2, 3]})
    complete(api, "big")
    body = workflow(api, workflow_id)
    assert body["status"] == "COMPLETED" and body["tasks"][0]["outputData"] == {"result": {"sum": 6}}


@needs_js
def test_a_javascript_error_fails_the_task_with_the_engines_message(dev_server: DevServer, api: Api) -> None:
    register(api, "js_bad", [{"name": "bad", "taskReferenceName": "bad", "type": "INLINE",
                              "inputParameters": {"evaluatorType": "javascript",
                                                  "expression": "throw new Error('no way')"}}])
    body = workflow(api, start(api, "js_bad"))
    assert body["status"] == "FAILED"
    assert "no way" in body["tasks"][0]["reasonForIncompletion"]


@needs_js
def test_do_while_iterates_names_iterations_and_records_outputs(dev_server: DevServer, api: Api) -> None:
    register(api, "loop", [
        {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE",
         "inputParameters": {"times": "${workflow.input.times}"},
         "loopCondition": "$.loop['iteration'] < $.times",
         "loopOver": [simple("step", inputParameters={"i": "${loop.output.iteration}"})]},
        simple("done", inputParameters={"last": "${step_ref.output.n}"}),
    ])
    workflow_id = start(api, "loop", {"times": 3})
    for n in (1, 2, 3):
        task = api.poll_one("step")
        assert task["referenceTaskName"] == f"step_ref__{n}" and task["iteration"] == n
        assert task["inputData"] == {"i": n}
        api.update(task, outputData={"n": n})
    done = api.poll_one("done")
    assert done["inputData"] == {"last": 3}
    api.update(done)
    loop = workflow(api, workflow_id)["tasks"][0]
    assert loop["status"] == "COMPLETED" and loop["iteration"] == 3
    assert loop["outputData"] == {"iteration": 3, "1": {"step_ref": {"n": 1}}, "2": {"step_ref": {"n": 2}},
                                  "3": {"step_ref": {"n": 3}}}


@needs_js
def test_do_while_with_inline_body_runs_without_workers(dev_server: DevServer, api: Api) -> None:
    register(api, "loop_inline", [
        {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE",
         "loopCondition": "$.count['result'] < 5",
         "loopOver": [{"name": "count", "taskReferenceName": "count", "type": "INLINE",
                       "inputParameters": {"evaluatorType": "javascript", "i": "${loop.output.iteration}",
                                           "expression": "$.i * 1"}}]},
    ])
    body = workflow(api, start(api, "loop_inline"))
    assert body["status"] == "COMPLETED" and body["tasks"][0]["iteration"] == 5


@needs_js
def test_a_switch_and_a_fork_inside_a_do_while(dev_server: DevServer, api: Api) -> None:
    register(api, "nested", [
        {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE",
         "loopCondition": "$.loop['iteration'] < 2",
         "loopOver": [
             {"name": "pick", "taskReferenceName": "pick", "type": "SWITCH", "evaluatorType": "javascript",
              "expression": "$.i % 2 == 1 ? 'odd' : 'even'", "inputParameters": {"i": "${loop.output.iteration}"},
              "decisionCases": {"odd": [simple("odd")], "even": [simple("even")]}},
             {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN",
              "forkTasks": [[simple("left")], [simple("right")]]},
             {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["left_ref", "right_ref"]},
         ]},
    ])
    workflow_id = start(api, "nested")
    complete(api, "odd")
    complete(api, "left", {"l": 1})
    complete(api, "right", {"r": 1})
    complete(api, "even")
    left = api.poll_one("left")
    assert left["referenceTaskName"] == "left_ref__2"
    api.update(left, outputData={"l": 2})
    complete(api, "right", {"r": 2})
    body = workflow(api, workflow_id)
    assert body["status"] == "COMPLETED"
    joins = [t for t in body["tasks"] if t["referenceTaskName"].startswith("join")]
    assert [j["referenceTaskName"] for j in joins] == ["join__1", "join__2"]
    assert joins[1]["outputData"] == {"left_ref": {"l": 2}, "right_ref": {"r": 2}}
    assert body["tasks"][0]["outputData"]["2"]["pick"] == {"evaluationResult": ["even"]}


@needs_jq
def test_json_jq_transform(dev_server: DevServer, api: Api) -> None:
    register(api, "jq", [{"name": "jq", "taskReferenceName": "jq", "type": "JSON_JQ_TRANSFORM",
                          "inputParameters": {"items": "${workflow.input.items}",
                                              "queryExpression": ".items | map(. * 10)"}}])
    body = workflow(api, start(api, "jq", {"items": [1, 2]}))
    assert body["status"] == "COMPLETED"
    assert body["tasks"][0]["outputData"] == {"result": [10, 20], "resultList": [[10, 20]]}
    register(api, "jq_bad", [{"name": "jq", "taskReferenceName": "jq", "type": "JSON_JQ_TRANSFORM",
                              "inputParameters": {"queryExpression": ".a |||"}}])
    failed = workflow(api, start(api, "jq_bad"))
    assert failed["status"] == "FAILED" and "error" in failed["tasks"][0]["outputData"]


class _Handler(http.server.BaseHTTPRequestHandler):
    #: Set when the test ends: a /hang request holds its answer until then.
    release = threading.Event()

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        received = json.loads(self.rfile.read(length))
        if self.path.startswith("/hang"):
            self.release.wait(30)
        status = 200 if self.path.startswith("/ok") else 503
        body = json.dumps({"echo": received, "path": self.path}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def loopback() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.release.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _Handler.release.set()
    server.shutdown()
    server.server_close()
    thread.join()


def test_http_task_performs_the_request_and_shapes_the_output(dev_server: DevServer, api: Api,
                                                              loopback: str) -> None:
    register(api, "http", [{"name": "call", "taskReferenceName": "call", "type": "HTTP",
                            "inputParameters": {"http_request": {
                                "uri": "${workflow.input.uri}", "method": "POST",
                                "body": {"n": "${workflow.input.n}"}, "readTimeOut": 2000}}}])
    workflow_id = start(api, "http", {"uri": f"{loopback}/ok?x=1", "n": 5})
    assert dev_server.wait_for_workflows([workflow_id], 10.0) == {workflow_id: "COMPLETED"}
    response = workflow(api, workflow_id)["tasks"][0]["outputData"]["response"]
    assert response["statusCode"] == 200 and response["body"] == {"echo": {"n": 5}, "path": "/ok?x=1"}
    assert response["headers"]["Content-Type"] == ["application/json"]


def test_http_task_fails_on_an_error_status_and_on_a_refused_connection(dev_server: DevServer, api: Api,
                                                                        loopback: str) -> None:
    register(api, "http_bad", [{"name": "call", "taskReferenceName": "call", "type": "HTTP",
                                "inputParameters": {"http_request": {"uri": "${workflow.input.uri}",
                                                                     "method": "POST", "body": {}}}}])
    error_status = start(api, "http_bad", {"uri": f"{loopback}/fail"})
    assert dev_server.wait_for_workflows([error_status], 10.0) == {error_status: "FAILED"}
    task = workflow(api, error_status)["tasks"][0]
    assert task["outputData"]["response"]["statusCode"] == 503
    # A port nothing listens on: the connection is refused, the task fails with that reason.
    probe = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    closed_port = probe.server_address[1]
    probe.server_close()
    refused = start(api, "http_bad", {"uri": f"http://127.0.0.1:{closed_port}/x"})
    assert dev_server.wait_for_workflows([refused], 10.0) == {refused: "FAILED"}
    assert "Failed to invoke HTTP task" in workflow(api, refused)["tasks"][0]["reasonForIncompletion"]


def test_http_task_read_timeout_fails_the_task(dev_server: DevServer, api: Api, loopback: str) -> None:
    register(api, "http_slow", [{"name": "call", "taskReferenceName": "call", "type": "HTTP",
                                 "inputParameters": {"http_request": {"uri": "${workflow.input.uri}",
                                                                      "method": "POST", "body": {},
                                                                      "readTimeOut": 200}}}])
    workflow_id = start(api, "http_slow", {"uri": f"{loopback}/hang"})
    assert dev_server.wait_for_workflows([workflow_id], 10.0) == {workflow_id: "FAILED"}
    reason = workflow(api, workflow_id)["tasks"][0]["reasonForIncompletion"]
    assert reason.startswith("Failed to invoke HTTP task due to:") and "timed out" in reason


def test_unsupported_and_malformed_task_types_are_refused_at_registration(dev_server: DevServer, api: Api) -> None:
    event = api.post("/api/metadata/workflow", {"name": "ev", "tasks": [
        {"name": "e", "taskReferenceName": "e", "type": "EVENT", "sink": "conductor"}]})
    assert event.status == 400 and "EVENT" in event.json()["validationErrors"][0]["message"]
    no_join = api.post("/api/metadata/workflow", {"name": "nj", "tasks": [
        {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN", "forkTasks": [[simple("a")]]}]})
    assert no_join.status == 400 and "JOIN" in no_join.text
    duplicate = api.post("/api/metadata/workflow", {"name": "dup", "tasks": [
        {"name": "s", "taskReferenceName": "s", "type": "SWITCH", "expression": "x",
         "decisionCases": {"a": [simple("t", "same")]}}, simple("u", "same")]})
    assert duplicate.status == 400 and "unique" in duplicate.text


_WITHOUT_EXTRAS = r'''
import json, sys
sys.modules["py_mini_racer"] = None  # as if the js extra were not installed
sys.modules["jq"] = None  # as if the jq extra were not installed
import http.client
from conductor_actors.devserver import DevServer

definitions = {
    "js": {"name": "js", "tasks": [{"name": "i", "taskReferenceName": "i", "type": "INLINE",
            "inputParameters": {"evaluatorType": "javascript", "expression": "1"}}]},
    "loop": {"name": "loop", "tasks": [{"name": "l", "taskReferenceName": "l", "type": "DO_WHILE",
              "loopCondition": "false", "loopOver": [{"name": "s", "taskReferenceName": "s"}]}]},
    "jq": {"name": "jq", "tasks": [{"name": "j", "taskReferenceName": "j", "type": "JSON_JQ_TRANSFORM",
            "inputParameters": {"queryExpression": "."}}]},
    "plain": {"name": "plain", "tasks": [{"name": "i", "taskReferenceName": "i", "type": "INLINE",
               "inputParameters": {"evaluatorType": "value-param", "expression": "x"}}]},
}
answers = {}
with DevServer() as server:
    for key, definition in definitions.items():
        connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
        connection.request("POST", "/api/metadata/workflow", json.dumps(definition),
                           {"Content-Type": "application/json"})
        reply = connection.getresponse()
        answers[key] = [reply.status, reply.read().decode()]
        connection.close()
    # What only shows at run time (a dynamic fork's tasks come from the input) fails the task.
    server.register_workflow({"name": "fan", "tasks": [
        {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN_DYNAMIC", "dynamicForkTasksParam": "t",
         "dynamicForkTasksInputParamName": "i", "inputParameters": {"t": "${workflow.input.t}", "i": {}}},
        {"name": "j", "taskReferenceName": "j", "type": "JOIN"}]})
    for key, forked in (("forked_js", {"type": "INLINE", "inputParameters": {"evaluatorType": "javascript",
                                                                            "expression": "1"}}),
                        ("forked_jq", {"type": "JSON_JQ_TRANSFORM", "inputParameters": {"queryExpression": "."}})):
        connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
        connection.request("POST", "/api/workflow/fan", json.dumps({"t": [{"name": "x", "taskReferenceName": "x",
                                                                          **forked}]}),
                           {"Content-Type": "application/json"})
        reply = connection.getresponse()
        workflow_id = reply.read().decode()
        connection.close()
        workflow = server.get_workflow(workflow_id) if reply.status == 200 else {}
        answers[key] = [reply.status, workflow.get("status"),
                        [task.get("reasonForIncompletion") for task in workflow.get("tasks", [])
                         if task["referenceTaskName"] == "x"]]
print(json.dumps(answers))
'''


def test_without_the_extras_definitions_that_need_them_are_refused_naming_the_extra() -> None:
    done = subprocess.run([sys.executable, "-c", _WITHOUT_EXTRAS], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert answers["js"][0] == 400 and "conductor-actors[js]" in answers["js"][1]
    assert answers["loop"][0] == 400 and "conductor-actors[js]" in answers["loop"][1]
    assert answers["jq"][0] == 400 and "conductor-actors[jq]" in answers["jq"][1]
    assert answers["plain"][0] == 200
    for key, extra in (("forked_js", "conductor-actors[js]"), ("forked_jq", "conductor-actors[jq]")):
        status, workflow_status, reasons = answers[key]
        assert status == 200 and workflow_status == "FAILED", answers[key]
        assert len(reasons) == 1 and extra in reasons[0], answers[key]
