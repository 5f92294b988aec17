"""The executor's special results: lease extensions and hand-backs."""

from __future__ import annotations

import pytest

from conductor_actors.client import Task, TaskResultStatus
from conductor_actors.runtime._execute import handback_result, lease_extension_result, lease_interval
from conductor_actors.settings import RuntimeSettings


def _task(**fields: object) -> Task:
    base: dict = {"taskId": "t1", "workflowInstanceId": "w1", "taskType": "echo", "outputData": {"seen": 1}}
    base.update(fields)
    return Task.from_dict(base)


def test_lease_interval_is_a_fraction_of_the_response_timeout() -> None:
    settings = RuntimeSettings()
    assert lease_interval(_task(responseTimeoutSeconds=100), settings) == pytest.approx(80.0)
    assert lease_interval(_task(responseTimeoutSeconds=0), settings) is None
    assert lease_interval(_task(), settings) is None
    assert lease_interval(_task(responseTimeoutSeconds=1), settings) == pytest.approx(0.8)


def test_handback_requeues_now_and_keeps_the_output_the_task_had() -> None:
    result = handback_result(_task(), "host-1")
    assert result.status is TaskResultStatus.IN_PROGRESS
    assert result.callback_after_seconds == 0
    assert result.to_wire()["outputData"] == {"seen": 1}
    assert result.worker_id == "host-1"


def test_lease_extension_result_is_an_in_progress_extend_lease_update() -> None:
    body = lease_extension_result(_task(), "host-1").to_wire()
    assert body["extendLease"] is True and body["status"] == "IN_PROGRESS"
    assert (body["taskId"], body["workflowInstanceId"]) == ("t1", "w1")
