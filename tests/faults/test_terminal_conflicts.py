"""A task updated twice with different results is visible: the dev server records every terminal
update that reaches an already finished task with another status or output (per task, at
``GET /__devserver__/conflicts``) while still leaving the task as it finished, and the fault
suite's result check (``check_results``) fails on such a record. A repeat of the same result (a
retry after a lost answer) or an IN_PROGRESS update is no conflict."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from _support.fault_apps.compute import COMPUTE_TASK, expected_output
from _support.fault_apps.harness import (
    WAIT,
    check_results,
    compute_workflow,
    start_computations,
    terminal_conflicts,
    wait_until,
)

from conductor_actors import ConductorClient, Configuration, TaskResult, TaskResultStatus


@pytest.fixture
def client(dev_server: Any) -> Iterator[ConductorClient]:
    client = ConductorClient(Configuration(server_api_url=dev_server.url))
    yield client
    client.close()


def result(task: Any, status: TaskResultStatus, **output: Any) -> TaskResult:
    return TaskResult(task_id=task.task_id, workflow_instance_id=task.workflow_instance_id, worker_id="w-test",
                      status=status, output_data=output)


def updates_without_times(record: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
    assert all(isinstance(update["receivedTime"], int) for update in record["updates"])
    return [(u["status"], u["outputData"], u["workerId"]) for u in record["updates"]]


@pytest.mark.parametrize("endpoint", ["update_task", "update_task_v2"])
def test_only_terminal_updates_that_differ_from_the_finished_task_are_recorded(dev_server, client, endpoint):
    workflow = compute_workflow(dev_server, COMPUTE_TASK)
    start_computations(dev_server, workflow, range(2))
    first, second = client.batch_poll(COMPUTE_TASK, count=2, timeout_ms=1000)
    send = getattr(client, endpoint)
    send(result(first, TaskResultStatus.COMPLETED, a=1))
    send(result(first, TaskResultStatus.COMPLETED, a=1))  # the same result again: a retry
    send(result(first, TaskResultStatus.IN_PROGRESS, a=1, progress=True))  # not terminal
    send(result(second, TaskResultStatus.COMPLETED, b=1))
    assert terminal_conflicts(dev_server) == []

    send(result(first, TaskResultStatus.FAILED, a=1))
    send(result(first, TaskResultStatus.COMPLETED, a=2))

    [record] = terminal_conflicts(dev_server)
    assert {k: v for k, v in record.items() if k != "updates"} == {
        "taskId": first.task_id, "taskType": COMPUTE_TASK, "workflowInstanceId": first.workflow_instance_id,
        "finished": {"status": "COMPLETED", "outputData": {"a": 1}, "workerId": "w-test"}, "count": 2,
    }
    assert updates_without_times(record) == [("FAILED", {"a": 1}, "w-test"), ("COMPLETED", {"a": 2}, "w-test")]
    task = dev_server.get_task(first.task_id)
    assert (task["status"], task["outputData"]) == ("COMPLETED", {"a": 1}), "a finished task must not change"

    request = urllib.request.Request(f"{dev_server.base_url}/__devserver__/conflicts", method="DELETE")
    with urllib.request.urlopen(request, timeout=WAIT) as answer:
        assert answer.status == 200
    assert terminal_conflicts(dev_server) == []


def test_a_late_result_for_a_timed_out_task_is_a_conflict(dev_server, client):
    """The server timed the task out; the worker's COMPLETED arrives afterwards: recorded."""
    dev_server.register_task_def({"name": "conflict_timeout", "retryCount": 0, "responseTimeoutSeconds": 1})
    dev_server.register_workflow({"name": "conflict_timeout_flow", "version": 1, "schemaVersion": 2,
                                  "tasks": [{"name": "conflict_timeout", "taskReferenceName": "only"}]})
    dev_server.start_workflow("conflict_timeout_flow", {})
    [task] = client.batch_poll("conflict_timeout", count=1, timeout_ms=1000)
    wait_until(lambda: dev_server.get_task(task.task_id)["status"] == "TIMED_OUT", "the task to time out")
    client.update_task(result(task, TaskResultStatus.COMPLETED, late=True))
    [record] = terminal_conflicts(dev_server)
    assert record["finished"]["status"] == "TIMED_OUT"
    assert updates_without_times(record) == [("COMPLETED", {"late": True}, "w-test")]


def test_the_fault_suite_result_check_fails_on_a_conflicting_update(dev_server, client):
    """``check_results`` passes for a workflow completed with the worker's output, and fails once
    the same task is updated again with a different output."""
    workflow = compute_workflow(dev_server, COMPUTE_TASK)
    started = start_computations(dev_server, workflow, range(7, 8))
    [task] = client.batch_poll(COMPUTE_TASK, count=1, timeout_ms=1000)
    client.update_task(result(task, TaskResultStatus.COMPLETED, **expected_output(7, task.task_id)))
    check_results(dev_server, started, COMPUTE_TASK)
    client.update_task(result(task, TaskResultStatus.COMPLETED, **expected_output(8, task.task_id)))
    with pytest.raises(AssertionError, match=r"1 task\(s\) updated again with a different result"):
        check_results(dev_server, started, COMPUTE_TASK)
