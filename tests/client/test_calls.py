"""Every client call, in both flavours, over real loopback HTTP against the dev server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _support.ports import free_port
from client._driver import Driver, configuration_for

from conductor_actors.client import (
    ConductorHTTPError,
    ConductorTransportError,
    ConfigurationError,
    NotFoundError,
    TaskDef,
    TaskResult,
    TaskResultStatus,
    TaskStatus,
)


def two_step_workflow(name: str, task_type: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": 1,
        "schemaVersion": 2,
        "ownerEmail": "dev@example.com",
        "tasks": [
            {"name": task_type, "taskReferenceName": "first", "type": "SIMPLE",
             "inputParameters": {"x": "${workflow.input.x}"}},
            {"name": task_type, "taskReferenceName": "second", "type": "SIMPLE",
             "inputParameters": {"y": "${first.output.y}"}},
        ],
    }


@pytest.fixture
def client(dev_server: Any, make_driver: Callable[..., Driver]) -> Driver:
    return make_driver(configuration_for(dev_server.url))


def completed(task: Any, output: dict[str, Any], worker_id: str = "w1") -> TaskResult:
    return task.to_result(TaskResultStatus.COMPLETED, output, worker_id=worker_id)


def test_a_workflow_runs_through_poll_update_v2_and_update_v1(client: Driver) -> None:
    task_type = "echo/é x"  # path and query encoding both matter
    client.register_workflow_def(two_step_workflow("wf_calls", task_type))
    workflow_id = client.start_workflow("wf_calls", {"x": 41}, correlation_id="corr-1")
    assert client.get_queue_size(task_type) == 1

    tasks = client.batch_poll(task_type, count=3, timeout_ms=100, worker_id="w1")
    assert len(tasks) == 1
    first = tasks[0]
    assert first.status == TaskStatus.IN_PROGRESS
    assert (first.workflow_instance_id, first.reference_task_name, first.input_data) == (
        workflow_id, "first", {"x": 41}
    )
    assert first.worker_id == "w1" and first.poll_count == 1
    assert client.get_queue_size(task_type) == 0
    assert client.poll(task_type, worker_id="w1") is None

    second = client.update_task_v2(completed(first, {"y": 42}))
    assert second is not None and second.reference_task_name == "second"
    assert second.input_data == {"y": 42}
    assert client.update_task(completed(second, {"z": 1})) == second.task_id

    workflow = client.get_workflow(workflow_id)
    assert workflow["status"] == "COMPLETED"
    assert [t["referenceTaskName"] for t in workflow["tasks"]] == ["first", "second"]
    assert workflow["correlationId"] == "corr-1"
    assert not client.get_workflow(workflow_id, include_tasks=False).get("tasks")
    fetched = client.get_task(first.task_id)
    assert fetched.status == TaskStatus.COMPLETED and fetched.output_data == {"y": 42}


def test_single_poll_and_an_update_v2_that_has_no_next_task(client: Driver) -> None:
    client.register_workflow_def(
        {"name": "wf_single", "version": 1, "schemaVersion": 2,
         "tasks": [{"name": "single", "taskReferenceName": "only", "type": "SIMPLE"}]}
    )
    client.start_workflow("wf_single")
    task = client.poll("single", worker_id="w2")
    assert task is not None and task.reference_task_name == "only" and task.worker_id == "w2"
    assert client.update_task_v2(completed(task, {}, "w2")) is None


def test_domains_separate_queues(client: Driver) -> None:
    client.register_workflow_def(
        {"name": "wf_domain", "version": 1, "schemaVersion": 2,
         "tasks": [{"name": "dom", "taskReferenceName": "d", "type": "SIMPLE"}]}
    )
    client.start_workflow("wf_domain", {}, task_to_domain={"dom": "blue"})
    assert client.get_queue_size("dom", "blue") == 1
    assert client.batch_poll("dom", count=1, timeout_ms=0) == []
    assert client.batch_poll("dom", count=1, timeout_ms=0, domain="") == []
    tasks = client.batch_poll("dom", count=1, timeout_ms=0, domain="blue")
    assert len(tasks) == 1 and tasks[0].domain == "blue"


def test_task_logs_keep_the_text_exactly(client: Driver) -> None:
    client.register_workflow_def(
        {"name": "wf_logs", "version": 1, "schemaVersion": 2,
         "tasks": [{"name": "logged", "taskReferenceName": "l", "type": "SIMPLE"}]}
    )
    client.start_workflow("wf_logs")
    (task,) = client.batch_poll("logged", timeout_ms=0)
    assert client.get_task_logs(task.task_id) == []
    message = 'line one\nline "two" with é and {braces}'
    client.add_task_log(task.task_id, message)
    client.add_task_log(task.task_id, "second")
    logs = client.get_task_logs(task.task_id)
    assert [entry.log for entry in logs] == [message, "second"]
    assert all(isinstance(entry.created_time, int) and entry.created_time > 0 for entry in logs)


def test_task_definitions(client: Driver) -> None:
    client.register_task_defs([TaskDef(name="def_a", retry_count=1), TaskDef(name="def/b")])
    fetched = client.get_task_def("def_a")
    assert fetched.name == "def_a" and fetched.retry_count == 1 and fetched.response_timeout_seconds == 3600
    assert client.get_task_def("def/b").name == "def/b"

    fetched.description = "changed"
    client.update_task_def(fetched)
    assert client.get_task_def("def_a").description == "changed"
    assert {"def_a", "def/b"} <= {d.name for d in client.get_task_defs()}

    with pytest.raises(NotFoundError) as missing:
        client.update_task_def(TaskDef(name="never_registered"))
    assert "never_registered" in missing.value.server_message and not missing.value.retryable
    with pytest.raises(NotFoundError, match="never_registered"):
        client.get_task_def("never_registered")


def test_register_workflow_without_overwrite_conflicts(client: Driver) -> None:
    definition = {"name": "wf_conflict", "version": 1, "schemaVersion": 2,
                  "tasks": [{"name": "t", "taskReferenceName": "t", "type": "SIMPLE"}]}
    client.register_workflow_def(definition, overwrite=False)
    client.register_workflow_def(definition)  # overwrite=True by default
    with pytest.raises(ConductorHTTPError) as conflict:
        client.register_workflow_def(definition, overwrite=False)
    assert conflict.value.status == 409 and not conflict.value.retryable


def test_save_schema(client: Driver) -> None:
    client.save_schema({"name": "echo_input", "version": 1, "type": "JSON", "data": {"type": "object"}})
    with pytest.raises(ConductorHTTPError) as refused:  # the body reaches the server's validation
        client.save_schema({"version": 1, "type": "JSON"})
    assert refused.value.status == 400 and "Schema name" in refused.value.body


def test_starting_an_unknown_workflow_is_not_found(client: Driver) -> None:
    with pytest.raises(NotFoundError, match="no_such_workflow"):
        client.start_workflow("no_such_workflow", {})


def test_every_exchange_is_reported_once_to_on_request(
    dev_server: Any, make_driver: Callable[..., Driver]
) -> None:
    seen: list[tuple[str, str, int, float]] = []
    client = make_driver(configuration_for(dev_server.url), on_request=lambda *exchange: seen.append(exchange))
    assert client.get_task_defs() == []
    with pytest.raises(NotFoundError):
        client.get_task("no-such-task")
    port = free_port()  # a loopback port nobody listens on
    refused = make_driver(
        configuration_for(f"http://127.0.0.1:{port}/api", connect_timeout=1.0),
        on_request=lambda *exchange: seen.append(exchange),
    )
    with pytest.raises(ConductorTransportError):
        refused.get_task_defs()
    assert [exchange[:3] for exchange in seen] == [
        ("GET", "/metadata/taskdefs", 200),
        ("GET", "/tasks/{taskId}", 404),  # the path template, not the task id
        ("GET", "/metadata/taskdefs", 0),  # no answer
    ]
    assert all(0.0 <= exchange[3] < 5.0 for exchange in seen)


def test_get_token_needs_credentials(client: Driver) -> None:
    with pytest.raises(ConfigurationError, match="credentials"):
        client.get_token()
