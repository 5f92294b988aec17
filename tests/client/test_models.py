"""Wire form of the models: a TaskDef sends only what was set (the server fills in its defaults);
Task keeps what the runtime does not know."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from conductor_actors.client import Task, TaskDef, TaskResult, TaskResultStatus
from conductor_actors.devserver._metadata import TASK_DEF_DEFAULTS

#: The server's TaskDef defaults (TaskDef.java), as the wire protocol reference lists them.
SERVER_TASK_DEF_DEFAULTS: dict[str, Any] = {
    "retryCount": 3,
    "retryLogic": "FIXED",
    "retryDelaySeconds": 60,
    "backoffScaleFactor": 1,
    "maxRetryDelaySeconds": 0,
    "backoffJitterMs": 0,
    "timeoutSeconds": 0,
    "totalTimeoutSeconds": 0,
    "responseTimeoutSeconds": 3600,
    "timeoutPolicy": "TIME_OUT_WF",
    "inputKeys": [],
    "outputKeys": [],
    "inputTemplate": {},
    "enforceSchema": False,
    "taskStatusListenerEnabled": True,
}
#: Left null by the server (its getters give the rate limits 0 and 1): not sent at all.
SERVER_NULLS = ("pollTimeoutSeconds", "concurrentExecLimit", "rateLimitPerFrequency", "rateLimitFrequencyInSeconds",
                "ownerEmail", "description", "isolationGroupId", "executionNameSpace", "baseType")


def test_a_new_task_def_sends_only_what_was_set() -> None:
    sent = TaskDef(name="charge").to_wire()
    assert sent == {"name": "charge", "enforceSchema": False}
    assert not set(SERVER_NULLS) & set(sent)
    plain = TaskDef()
    assert plain.enforce_schema is False
    assert (plain.retry_count, plain.retry_delay_seconds, plain.response_timeout_seconds) == (None, None, None)


def test_the_dev_server_fills_in_its_defaults_for_what_the_model_leaves_out() -> None:
    assert {k: v for k, v in SERVER_TASK_DEF_DEFAULTS.items() if k in TASK_DEF_DEFAULTS} == {
        k: TASK_DEF_DEFAULTS[k] for k in SERVER_TASK_DEF_DEFAULTS if k in TASK_DEF_DEFAULTS
    }
    assert set(TaskDef(name="x").to_wire()) <= {"name", "enforceSchema"}


def test_a_task_def_read_from_the_server_keeps_unknown_fields_when_written_back() -> None:
    read = {"name": "a", "retryCount": 1, "runtimeMetadata": [{"k": "v"}], "somethingNew": {"x": 1}}
    task_def = TaskDef.from_dict(read)
    assert task_def.extra == {"somethingNew": {"x": 1}}
    assert task_def.to_wire()["runtimeMetadata"] == [{"k": "v"}]
    assert task_def.to_wire()["somethingNew"] == {"x": 1}


SERVER_TASK = {
    "taskId": "t1", "workflowInstanceId": "w1", "taskType": "echo", "status": "IN_PROGRESS",
    "inputData": {"x": 1}, "pollCount": 1, "retryCount": 0, "responseTimeoutSeconds": 3600,
    # Fields a newer server may send that the model does not know:
    "parentTaskReference": "ref-7", "executionMetadata": {"serverSendTime": 1700000000000}, "tags": ["a", "b"],
}


def test_a_task_keeps_unknown_fields_instead_of_failing_or_losing_them() -> None:
    task = Task.from_dict(SERVER_TASK)
    assert task.task_id == "t1" and task.input_data == {"x": 1} and task.poll_count == 1
    assert task.extra == {
        "parentTaskReference": "ref-7", "executionMetadata": {"serverSendTime": 1700000000000}, "tags": ["a", "b"],
    }
    # Written out again (e.g. a task handed back or logged), nothing is lost.
    assert task.to_wire() == SERVER_TASK
    # Worker processes receive tasks pickled: the unknown fields travel too.
    assert pickle.loads(pickle.dumps(task)).extra == task.extra


def test_a_task_keeps_values_of_an_unexpected_kind_and_unknown_statuses() -> None:
    task = Task.from_dict({"taskId": "t2", "status": "A_STATUS_FROM_THE_FUTURE", "inputData": [1, 2],
                           "pollCount": "many", "retryCount": 2.0, "seq": "seven"})
    assert task.status == "A_STATUS_FROM_THE_FUTURE"
    assert task.input_data == [1, 2] and task.seq == "seven"  # kept as it arrived
    assert (task.poll_count, task.retry_count) == (0, 2)  # counters the runtime reads are made whole numbers
    assert json.loads(json.dumps(task.to_wire()))["status"] == "A_STATUS_FROM_THE_FUTURE"


class _NoComparison:
    """A value from code, not from JSON, that refuses to be compared (as some array types do)."""

    def __eq__(self, other: object) -> bool:
        raise ValueError("ambiguous comparison")

    __hash__ = object.__hash__


@pytest.mark.parametrize("data", [
    {"taskId": "t3", "inputData": None, "pollCount": 2},  # a null keeps the default
    {"taskId": "t3", "task_id": "t4", "pollCount": 2},  # the server's and the snake_case name: the last wins
    {"taskId": "t3", 7: "a key that is not text", "pollCount": 2},
    {"taskId": "t3", "inputData": _NoComparison(), "pollCount": 2},
])
def test_a_task_from_any_mapping_is_the_same_whichever_way_it_is_read(data: dict) -> None:
    task = Task.from_dict(data)
    assert task.task_id == data.get("task_id", "t3") and task.poll_count == 2 and task.retry_count == 0
    assert task.input_data is data["inputData"] if data.get("inputData") is not None else task.input_data == {}
    assert task.extra == {k: v for k, v in data.items() if not isinstance(k, str)}


def test_a_result_addressed_from_a_task_with_extras_carries_only_result_fields() -> None:
    result = Task.from_dict(SERVER_TASK).to_result(TaskResultStatus.COMPLETED, {"y": 2}, worker_id="w")
    assert result == TaskResult(task_id="t1", workflow_instance_id="w1", worker_id="w",
                                status=TaskResultStatus.COMPLETED, output_data={"y": 2}, logs=[])
    assert "tags" not in result.to_wire()
