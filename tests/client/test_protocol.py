"""The sans-I/O protocol: what each call sends and how every kind of answer is read."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from conductor_actors.client import (
    AuthenticationSettings,
    AuthorizationError,
    ConductorError,
    ConductorHTTPError,
    ConfigurationError,
    InvalidResponseError,
    NotFoundError,
    Task,
    TaskDef,
    TaskExecLog,
    TaskResult,
    TaskResultStatus,
)
from conductor_actors.client import _calls as protocol
from conductor_actors.client._calls import Call
from conductor_actors.client._config import check_pool_size

TASK = {"taskId": "t1", "workflowInstanceId": "w1", "taskType": "echo", "status": "IN_PROGRESS", "inputData": {"x": 1}}


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def result(**overrides: Any) -> TaskResult:
    values: dict[str, Any] = {
        "task_id": "t1",
        "workflow_instance_id": "w1",
        "worker_id": "host",
        "status": TaskResultStatus.COMPLETED,
        "output_data": {"y": 2},
    }
    values.update(overrides)
    return TaskResult(**values)


# ----------------------------------------------------------------------------------------------
# Requests


def test_batch_poll_request_encodes_path_and_query() -> None:
    call = protocol.batch_poll("a/b c", count=5, timeout_ms=250, worker_id="w 1", domain="d1")
    request = call.request
    assert (request.method, request.path) == ("GET", "/tasks/poll/batch/a%2Fb%20c")
    assert request.query == (("workerid", "w 1"), ("count", "5"), ("timeout", "250"), ("domain", "d1"))
    assert request.target == "/tasks/poll/batch/a%2Fb%20c?workerid=w%201&count=5&timeout=250&domain=d1"
    assert request.long_poll_seconds == 0.25
    assert request.body is None
    assert request.headers(None) == {"Accept": "application/json"}


@pytest.mark.parametrize("domain", [None, ""])
def test_batch_poll_leaves_out_an_empty_domain_and_worker_id(domain: str | None) -> None:
    request = protocol.batch_poll("echo", domain=domain, worker_id=domain).request
    assert request.target == "/tasks/poll/batch/echo?count=1&timeout=100"


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"task_type": ""}, "task_type"),
        ({"task_type": "echo", "count": 0}, "count"),
        ({"task_type": "echo", "count": True}, "count"),
        ({"task_type": "echo", "timeout_ms": -1}, "timeout_ms"),
        ({"task_type": "echo", "domain": 3}, "domain"),
    ],
)
def test_batch_poll_rejects_bad_arguments_naming_them(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        protocol.batch_poll(**kwargs)


def test_poll_request() -> None:
    request = protocol.poll("echo", worker_id="w", domain="d").request
    assert request.target == "/tasks/poll/echo?workerid=w&domain=d"
    assert request.long_poll_seconds > 0


def test_update_task_sends_camel_case_json_and_accepts_text() -> None:
    request = protocol.update_task(result()).request
    assert (request.method, request.path, request.accept) == ("POST", "/tasks", "text/plain")
    assert request.headers("tok") == {
        "Accept": "text/plain",
        "Content-Type": "application/json",
        "X-Authorization": "tok",
    }
    assert json.loads(request.body or b"") == {
        "taskId": "t1",
        "workflowInstanceId": "w1",
        "workerId": "host",
        "status": "COMPLETED",
        "outputData": {"y": 2},
        "extendLease": False,
    }


def test_update_task_v2_request() -> None:
    request = protocol.update_task_v2(result()).request
    assert (request.method, request.path, request.accept) == ("POST", "/tasks/update-v2", "application/json")
    assert json.loads(request.body or b"")["status"] == "COMPLETED"


@pytest.mark.parametrize("missing", ["task_id", "workflow_instance_id", "status"])
def test_a_result_without_ids_or_status_is_refused_before_sending(missing: str) -> None:
    with pytest.raises(ValueError, match=missing):
        protocol.update_task_v2(result(**{missing: None}))


@pytest.mark.parametrize("output", [{"x": float("nan")}, {"x": object()}])
def test_an_output_json_cannot_express_is_a_clear_value_error(output: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="task 't1' cannot be encoded as JSON"):
        protocol.update_task(result(output_data=output))


def test_add_task_log_sends_the_raw_text() -> None:
    request = protocol.add_task_log("t/1", "line one\nline \"two\" é").request
    assert request.path == "/tasks/t%2F1/log"
    assert request.body == "line one\nline \"two\" é".encode()
    assert request.content_type is not None and request.content_type.startswith("text/plain")


def test_metadata_requests() -> None:
    register = protocol.register_task_defs([TaskDef(name="a"), TaskDef(name="b", retry_count=0)]).request
    assert (register.method, register.path) == ("POST", "/metadata/taskdefs")
    sent = json.loads(register.body or b"")
    assert [d["name"] for d in sent] == ["a", "b"] and sent[1]["retryCount"] == 0

    update = protocol.update_task_def(TaskDef(name="a", owner_email="x@y.z")).request
    assert (update.method, update.path) == ("PUT", "/metadata/taskdefs")
    assert json.loads(update.body or b"")["ownerEmail"] == "x@y.z"

    assert protocol.get_task_def("a b").request.path == "/metadata/taskdefs/a%20b"
    assert protocol.get_task_defs().request.path == "/metadata/taskdefs"

    schema = protocol.save_schema({"name": "s", "version": 1, "type": "JSON", "data": {}}).request
    assert (schema.method, schema.path) == ("POST", "/schema")
    assert json.loads(schema.body or b"")["name"] == "s"

    workflow = protocol.register_workflow_def({"name": "wf"}, overwrite=False).request
    assert workflow.target == "/metadata/workflow?overwrite=false"


@pytest.mark.parametrize(
    "build",
    [
        lambda: protocol.register_task_defs(TaskDef(name="a")),  # type: ignore[arg-type]
        lambda: protocol.register_task_defs([TaskDef()]),
        lambda: protocol.update_task_def({"name": "a"}),  # type: ignore[arg-type]
        lambda: protocol.save_schema([1]),  # type: ignore[arg-type]
        lambda: protocol.start_workflow("wf", [1]),  # type: ignore[arg-type]
        lambda: protocol.start_workflow("wf", priority=-1),
        lambda: protocol.get_task(""),
    ],
)
def test_bad_metadata_arguments_raise_value_error(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        build()


def test_start_workflow_sends_a_start_request() -> None:
    request = protocol.start_workflow(
        "wf", {"x": 1}, version=2, correlation_id="c", task_to_domain={"*": "d"}, priority=5
    ).request
    assert (request.method, request.path, request.accept) == ("POST", "/workflow", "text/plain")
    assert json.loads(request.body or b"") == {
        "name": "wf",
        "input": {"x": 1},
        "version": 2,
        "correlationId": "c",
        "taskToDomain": {"*": "d"},
        "priority": 5,
    }
    assert json.loads(protocol.start_workflow("wf").request.body or b"") == {"name": "wf", "input": {}}


def test_workflow_and_queue_requests() -> None:
    assert protocol.get_workflow("w1", include_tasks=False).request.target == "/workflow/w1?includeTasks=false"
    assert protocol.get_queue_size("a b", "d").request.target == "/tasks/queue/size?taskType=a%20b&domain=d"


def test_token_request_carries_the_key_but_never_a_token_header_or_a_repr_of_the_secret() -> None:
    settings = AuthenticationSettings("key-id-1", "very-secret-value")
    request = protocol.get_token(settings).request
    assert (request.method, request.path) == ("POST", "/token")
    assert json.loads(request.body or b"") == {"keyId": "key-id-1", "keySecret": "very-secret-value"}
    assert "X-Authorization" not in request.headers("some-token")
    assert "very-secret-value" not in repr(protocol.get_token(settings))


def test_token_without_credentials_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="CONDUCTOR_AUTH_KEY"):
        protocol.get_token(None)


def test_check_pool_size() -> None:
    assert check_pool_size(3) == 3
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ConfigurationError, match="pool_size"):
            check_pool_size(bad)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# Answers


def test_batch_poll_keeps_a_task_with_an_unknown_status_and_skips_non_objects(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answer = [TASK, dict(TASK, taskId="t2", status="SOMETHING_NEW"), "junk", None, dict(TASK, taskId="t3")]
    with caplog.at_level(logging.WARNING, "conductor_actors.client"):
        tasks = protocol.batch_poll("echo").result(200, body(answer))
    assert [t.task_id for t in tasks] == ["t1", "t2", "t3"]
    assert tasks[1].status == "SOMETHING_NEW"
    assert tasks[0].input_data == {"x": 1}
    skipped = [r.getMessage() for r in caplog.records]
    assert len(skipped) == 2 and "item 2" in skipped[0] and "item 3" in skipped[1]


@pytest.mark.parametrize(("status", "raw"), [(204, b""), (200, b""), (200, b"[]")])
def test_batch_poll_empty_answers(status: int, raw: bytes) -> None:
    assert protocol.batch_poll("echo").result(status, raw) == []


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json at all", "not valid JSON"),
        (b'[{"taskId": "t1", "inputData": {"x"', "ends early"),
        (b"<html><body>Bad gateway</body></html>", "HTML"),
        (b'{"taskId": "t1"}', "expected a list of task objects, got an object"),
        (b"\xff\xfe\xfa", "not readable JSON"),
    ],
)
def test_garbled_2xx_bodies_raise_invalid_response(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidResponseError, match=reason) as caught:
        protocol.batch_poll("echo").result(200, raw)
    err = caught.value
    assert err.retryable
    assert (err.method, err.path) == ("GET", "/tasks/poll/batch/echo")
    assert err.body == raw.decode("utf-8", "replace")


@pytest.mark.parametrize(
    ("status", "payload", "cls", "retryable"),
    [
        (500, {"status": 500, "message": "boom", "retryable": True}, ConductorHTTPError, True),
        (503, "<html>unavailable</html>", ConductorHTTPError, True),
        (429, {"message": "slow down"}, ConductorHTTPError, True),
        (400, {"status": 400, "message": "Long Poll Timeout value cannot be more than 5 seconds"}, ConductorHTTPError,
         False),
        (404, {"status": 404, "message": "No such task found by id: X"}, NotFoundError, False),
        (401, {"message": "Token expired", "error": "EXPIRED_TOKEN"}, AuthorizationError, False),
        (302, "", ConductorHTTPError, False),
    ],
)
def test_non_2xx_answers_raise_the_right_http_error(
    status: int, payload: Any, cls: type[ConductorHTTPError], retryable: bool
) -> None:
    raw = payload.encode() if isinstance(payload, str) else body(payload)
    with pytest.raises(cls) as caught:
        protocol.get_task("t1").result(status, raw)
    err = caught.value
    assert type(err) is cls
    assert err.status == status and err.retryable is retryable
    assert (err.method, err.path) == ("GET", "/tasks/t1")
    if isinstance(payload, dict):
        assert err.server_message == payload["message"]


def test_poll_answers() -> None:
    call = protocol.poll("echo")
    assert call.result(204, b"") is None
    task = call.result(200, body(TASK))
    assert isinstance(task, Task) and task.task_id == "t1"
    with pytest.raises(InvalidResponseError, match="got a list"):
        call.result(200, b"[]")


def test_update_task_answers() -> None:
    call = protocol.update_task(result())
    assert call.result(200, b"t1") == "t1"
    assert call.result(200, b'"t1"\n') == "t1"
    for garbage in (b"", b"<html>oops</html>", b"two words", b'{"taskId":"t1"}'):
        with pytest.raises(InvalidResponseError, match="task id"):
            call.result(200, garbage)


def test_update_task_v2_answers() -> None:
    call = protocol.update_task_v2(result())
    assert call.result(204, b"") is None
    nxt = call.result(200, body(dict(TASK, taskId="t9")))
    assert nxt is not None and nxt.task_id == "t9"


def test_log_answers() -> None:
    assert protocol.add_task_log("t1", "x").result(200, b"") is None
    logs = protocol.get_task_logs("t1")
    assert logs.result(204, b"") == []
    entries = logs.result(200, body([{"log": "a", "taskId": "t1", "createdTime": 5}]))
    assert entries == [TaskExecLog(log="a", task_id="t1", created_time=5)]


def test_get_task_needs_a_task() -> None:
    call = protocol.get_task("t1")
    assert call.result(200, body(TASK)).workflow_instance_id == "w1"
    with pytest.raises(InvalidResponseError, match="empty"):
        call.result(204, b"")


def test_metadata_answers() -> None:
    task_def = protocol.get_task_def("a").result(200, body({"name": "a", "retryCount": 1, "somethingNew": 1}))
    assert task_def.name == "a" and task_def.retry_count == 1 and task_def.extra == {"somethingNew": 1}
    defs = protocol.get_task_defs().result(200, body([{"name": "a"}, {"name": "b"}]))
    assert [d.name for d in defs] == ["a", "b"]
    assert protocol.register_task_defs([TaskDef(name="a")]).result(200, b"") is None


def test_workflow_answers() -> None:
    assert protocol.start_workflow("wf").result(200, b"wf-id-1") == "wf-id-1"
    assert protocol.get_workflow("w").result(200, body({"workflowId": "w"})) == {"workflowId": "w"}
    assert protocol.get_queue_size("echo").result(200, b"7") == 7
    for garbage in (b"true", b'"7"', b"-1", b"{}"):
        with pytest.raises(InvalidResponseError, match="queue size"):
            protocol.get_queue_size("echo").result(200, garbage)


def test_token_answers_never_expose_the_token_or_the_secret() -> None:
    settings = AuthenticationSettings("key-id-1", "very-secret-value")
    call = protocol.get_token(settings)
    assert call.result(200, body({"token": "tok-123"})) == "tok-123"
    for garbage in (b'{"token": "tok-123', b'{"token": ""}', b'{"tok": "tok-123"}', b"tok-123", b"[]"):
        with pytest.raises(InvalidResponseError) as caught:
            call.result(200, garbage)
        assert "tok-123" not in str(caught.value) and "tok-123" not in caught.value.body
    echoed = body({"message": "bad key very-secret-value for key-id-1"})
    with pytest.raises(AuthorizationError) as denied:
        call.result(401, echoed)
    assert "very-secret-value" not in str(denied.value) and "very-secret-value" not in denied.value.body
    with pytest.raises(NotFoundError):
        call.result(404, body({"status": 404, "message": "No static resource api/token."}))


GARBAGE = [
    b"",
    b"null",
    b"true",
    b"0",
    b'"text"',
    b"[1, 2]",
    b"[null, {}]",
    b"{}",
    b'{"taskId": 5, "status": 7, "inputData": [1], "retryCount": "x", "logs": 3}',
    b"{",
    b"<html></html>",
    b"\xff\xfe",
    b"[" * 100_000,
]

CALLS: list[Callable[[], Call[Any]]] = [
    lambda: protocol.batch_poll("echo"),
    lambda: protocol.poll("echo"),
    lambda: protocol.update_task(result()),
    lambda: protocol.update_task_v2(result()),
    lambda: protocol.add_task_log("t1", "x"),
    lambda: protocol.get_task_logs("t1"),
    lambda: protocol.get_task("t1"),
    lambda: protocol.register_task_defs([TaskDef(name="a")]),
    lambda: protocol.update_task_def(TaskDef(name="a")),
    lambda: protocol.get_task_def("a"),
    lambda: protocol.get_task_defs(),
    lambda: protocol.save_schema({"name": "s"}),
    lambda: protocol.register_workflow_def({"name": "wf"}),
    lambda: protocol.start_workflow("wf"),
    lambda: protocol.get_workflow("w"),
    lambda: protocol.get_queue_size("echo"),
    lambda: protocol.get_token(AuthenticationSettings("k", "s")),
]


@pytest.mark.parametrize("build", CALLS)
@pytest.mark.parametrize("status", [200, 204, 500])
def test_no_answer_makes_a_parser_raise_anything_but_a_client_error(
    build: Callable[[], Call[Any]], status: int
) -> None:
    call = build()
    for raw in GARBAGE:
        try:
            call.result(status, raw)
        except ConductorError:
            pass
