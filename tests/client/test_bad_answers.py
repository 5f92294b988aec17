"""Bad answers over loopback, both flavours: each raises the right error and the client stays usable."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from _support.ports import free_port
from client._driver import Driver, canned_client_kwargs, configuration_for

from conductor_actors.client import (
    ConductorError,
    ConductorHTTPError,
    ConductorTimeoutError,
    ConductorTransportError,
    InvalidResponseError,
    NotFoundError,
    TaskStatus,
)


@pytest.fixture
def client(dev_server: Any, make_driver: Callable[..., Driver]) -> Driver:
    return make_driver(configuration_for(dev_server.url, read_timeout=0.3))


def start_one(client: Driver, task_type: str, count: int = 1) -> None:
    client.register_workflow_def(
        {"name": f"wf_{task_type}", "version": 1, "schemaVersion": 2,
         "tasks": [{"name": task_type, "taskReferenceName": "only", "type": "SIMPLE"}]}
    )
    for _ in range(count):
        client.start_workflow(f"wf_{task_type}", {"n": 1})


@pytest.mark.parametrize(
    ("fault", "error", "match"),
    [
        ({"garbage": "not_json"}, InvalidResponseError, "not valid JSON"),
        ({"garbage": "truncated_json"}, InvalidResponseError, "ends early"),
        ({"garbage": "html"}, InvalidResponseError, "HTML"),
        ({"status": 500}, ConductorHTTPError, "HTTP 500"),
        ({"status": 503}, ConductorHTTPError, "HTTP 503"),
        ({"drop": True}, ConductorTransportError, "GET /metadata/taskdefs"),
        ({"delay_ms": 2000}, ConductorTimeoutError, "GET /metadata/taskdefs"),
    ],
    ids=["not_json", "truncated", "html", "500", "503", "reset", "timeout"],
)
def test_each_bad_answer_raises_a_retryable_error_of_the_tree_and_the_client_recovers(
    client: Driver, dev_server: Any, fault: dict[str, Any], error: type[ConductorError], match: str
) -> None:
    dev_server.faults.add("taskdefs_list", times=1, **fault)
    with pytest.raises(error, match=match) as caught:
        client.get_task_defs()
    assert caught.value.retryable
    if error is ConductorTransportError:
        assert not isinstance(caught.value, ConductorTimeoutError)
    assert client.get_task_defs() == []  # the same client works again


def test_garbage_in_a_poll_answer(client: Driver, dev_server: Any) -> None:
    start_one(client, "garbled")
    dev_server.faults.add("poll_batch", garbage="truncated_json", times=1)
    with pytest.raises(InvalidResponseError, match="GET /tasks/poll/batch/garbled"):
        client.batch_poll("garbled", timeout_ms=0)
    dev_server.faults.add("poll_batch", garbage="not_json", times=1)
    with pytest.raises(InvalidResponseError):
        client.batch_poll("garbled", timeout_ms=0)


def test_tasks_without_ids_are_returned_for_the_runtime_to_check(client: Driver, dev_server: Any) -> None:
    start_one(client, "idless")
    dev_server.faults.add("poll_batch", garbage="missing_ids", times=1)
    tasks = client.batch_poll("idless", count=1, timeout_ms=0)
    assert tasks and all(t.task_id is None or t.workflow_instance_id is None for t in tasks)


def test_a_bad_request_is_final_and_carries_the_server_message(client: Driver) -> None:
    with pytest.raises(ConductorHTTPError) as caught:
        client.batch_poll("any", timeout_ms=6000)
    err = caught.value
    assert err.status == 400 and not err.retryable
    assert "5 seconds" in err.server_message


def test_not_found_is_final_and_carries_the_server_message(client: Driver) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.get_task("no-such-task-id")
    assert caught.value.status == 404 and not caught.value.retryable
    assert "no-such-task-id" in caught.value.server_message
    assert client.get_task_defs() == []


def test_a_slow_long_poll_is_not_a_timeout(client: Driver) -> None:
    # The poll's own wait (500 ms) is added to the 300 ms read timeout.
    assert client.batch_poll("nothing_here", count=1, timeout_ms=500) == []


def test_a_batch_with_an_unknown_status_keeps_every_task_and_skips_non_objects(
    make_driver: Callable[..., Driver], flavour: str
) -> None:
    seen: list[str] = []
    answer = [
        {"taskId": "t1", "workflowInstanceId": "w", "status": "IN_PROGRESS"},
        {"taskId": "t2", "workflowInstanceId": "w", "status": "A_STATUS_FROM_THE_FUTURE"},
        "not a task",
        {"taskId": "t3", "workflowInstanceId": "w", "status": "IN_PROGRESS"},
    ]

    def handler(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        seen.append(f"{method} {path}")
        return 200, json.dumps(answer).encode()

    client = make_driver(
        configuration_for("http://conductor.invalid/api"), **canned_client_kwargs(flavour, handler)
    )
    tasks = client.batch_poll("echo", count=4, timeout_ms=10, worker_id="w1")
    assert [t.task_id for t in tasks] == ["t1", "t2", "t3"]
    assert tasks[1].status == "A_STATUS_FROM_THE_FUTURE" and tasks[0].status == TaskStatus.IN_PROGRESS
    assert seen == ["GET /api/tasks/poll/batch/echo?workerid=w1&count=4&timeout=10"]


def test_connection_refused_is_a_transport_error(make_driver: Callable[..., Driver]) -> None:
    port = free_port()  # a loopback port nobody listens on
    client = make_driver(configuration_for(f"http://127.0.0.1:{port}/api", connect_timeout=1.0))
    with pytest.raises(ConductorTransportError, match="GET /metadata/taskdefs") as caught:
        client.get_task_defs()
    assert caught.value.retryable and not isinstance(caught.value, ConductorTimeoutError)
