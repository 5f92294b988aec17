"""The models behave as the official SDK's (conductor-python 2.0.0) where user code and tests observe
them: constructors and defaults, properties and status validation, ``to_dict``/``to_str``/equality,
``Task.to_task_result`` and the ``TaskResult`` helpers. The wire form (``to_wire``/``from_dict``)
is separate and round-trips both the server's camelCase and ``to_dict``'s snake_case."""

from __future__ import annotations

import json
import pickle

import pytest

from conductor_actors import Task, TaskDef, TaskExecLog, TaskResult, TaskResultStatus

RESULT_FIELDS = [
    "workflow_instance_id", "task_id", "reason_for_incompletion", "callback_after_seconds", "worker_id", "status",
    "output_data", "logs", "external_output_payload_storage_path", "sub_workflow_id", "extend_lease",
]


def test_task_result_status_is_the_official_str_enum_of_four() -> None:
    assert [member.name for member in TaskResultStatus] == [
        "COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "IN_PROGRESS"]
    assert all(str(member) == member.name == member.value for member in TaskResultStatus)
    assert TaskResultStatus.FAILED == "FAILED" and TaskResultStatus("IN_PROGRESS") is TaskResultStatus.IN_PROGRESS


def test_a_new_task_result_has_the_official_defaults() -> None:
    result = TaskResult()
    assert {name: getattr(result, name) for name in RESULT_FIELDS} == {
        **dict.fromkeys(RESULT_FIELDS), "extend_lease": False}
    assert result.discriminator is None
    assert TaskResult("wf", "t").workflow_instance_id == "wf"  # the official positional order
    assert TaskResult("wf", "t").task_id == "t"


def test_a_status_name_becomes_the_enum_and_an_unknown_one_is_refused() -> None:
    assert TaskResult(status="COMPLETED").status is TaskResultStatus.COMPLETED
    result = TaskResult()
    result.status = "IN_PROGRESS"
    assert result.status is TaskResultStatus.IN_PROGRESS and result.status.name == "IN_PROGRESS"
    result.status = TaskResultStatus.FAILED
    assert result.status is TaskResultStatus.FAILED
    with pytest.raises(ValueError, match="Invalid value for `status`"):
        result.status = "DONE"
    with pytest.raises(ValueError, match="Invalid value for `status`"):
        TaskResult(status="CANCELED")


def test_task_result_to_dict_has_snake_case_keys_and_keeps_none() -> None:
    result = TaskResult(task_id="t", workflow_instance_id="w", status="FAILED", output_data={"a": 1},
                        logs=[TaskExecLog("line", "t", 5)])
    as_dict = result.to_dict()
    assert sorted(as_dict) == sorted(RESULT_FIELDS)
    assert as_dict["task_id"] == "t" and as_dict["reason_for_incompletion"] is None
    assert as_dict["status"] is TaskResultStatus.FAILED
    assert as_dict["logs"] == [{"log": "line", "task_id": "t", "created_time": 5}]
    assert TaskResult.attribute_map["workflow_instance_id"] == "workflowInstanceId"
    assert TaskResult.swagger_types["logs"] == "list[TaskExecLog]"
    assert repr(result) == result.to_str() and result.to_str().startswith("{")


def test_task_result_helpers_chain_and_create_the_output_and_logs() -> None:
    result = TaskResult(task_id="t")
    assert result.add_output_data("a", 1) is result and result.output_data == {"a": 1}
    assert result.log("first") is result
    assert [type(entry) for entry in result.logs] == [TaskExecLog]
    assert (result.logs[0].log, result.logs[0].task_id) == ("first", "t")


def test_task_result_factories_are_static_methods_as_in_the_official_sdk() -> None:
    for name in ("complete", "failed", "in_progress", "new_task_result"):
        assert isinstance(TaskResult.__dict__[name], staticmethod), name
    assert TaskResult.complete().status is TaskResultStatus.COMPLETED
    assert TaskResult.in_progress().status is TaskResultStatus.IN_PROGRESS
    failed = TaskResult.failed("no stock")
    assert (failed.status, failed.reason_for_incompletion) == (TaskResultStatus.FAILED, "no stock")
    terminal = TaskResult.new_task_result("FAILED_WITH_TERMINAL_ERROR")
    assert terminal.status is TaskResultStatus.FAILED_WITH_TERMINAL_ERROR


def test_task_to_task_result_is_addressed_to_the_task() -> None:
    task = Task(task_id="t1", workflow_instance_id="w1", worker_id="host")
    result = task.to_task_result()
    assert isinstance(result, TaskResult)
    assert (result.task_id, result.workflow_instance_id, result.worker_id) == ("t1", "w1", "host")
    assert result.status is TaskResultStatus.COMPLETED and result.output_data is None
    assert task.to_task_result(TaskResultStatus.FAILED).status is TaskResultStatus.FAILED
    assert task.to_task_result("IN_PROGRESS").status is TaskResultStatus.IN_PROGRESS


def test_a_task_has_the_official_defaults_properties_and_status_check() -> None:
    task = Task()
    assert all(getattr(task, name) is None for name in Task.swagger_types)
    assert all(hasattr(task, "_" + name) for name in Task.swagger_types)
    assert Task("SIMPLE", "SCHEDULED", {"a": 1}).input_data == {"a": 1}  # official positional order
    for status in ("IN_PROGRESS", "CANCELED", "COMPLETED_WITH_ERRORS", "SCHEDULED", "TIMED_OUT", "SKIPPED"):
        task.status = status
        assert task.status == status
    with pytest.raises(ValueError, match="Invalid"):
        task.status = "PAUSED"
    task.retry_count = 4
    task.input_data = None
    assert (task.retry_count, task.input_data) == (4, None)


def test_task_to_dict_and_to_str_use_attribute_names() -> None:
    task = Task(task_type="charge", task_id="t", input_data={"a": 1}, retry_count=1, poll_count=2)
    as_dict = task.to_dict()
    assert set(as_dict) == set(Task.swagger_types)
    assert (as_dict["task_type"], as_dict["input_data"], as_dict["retry_count"]) == ("charge", {"a": 1}, 1)
    assert as_dict["correlation_id"] is None
    assert isinstance(task.to_str(), str) and "'task_type': 'charge'" in task.to_str()
    assert Task.attribute_map["task_def_name"] == "taskDefName"
    # equality compares the values, as the official models do
    assert task == Task(task_type="charge", task_id="t", input_data={"a": 1}, retry_count=1, poll_count=2)
    assert task != Task(task_type="refund") and task != "charge"
    assert TaskResult(task_id="a") == TaskResult(task_id="a") and TaskResult(task_id="a") != TaskResult(task_id="b")


def test_task_def_leaves_unset_fields_to_the_server() -> None:
    task_def = TaskDef(name="charge")
    assert (task_def.retry_count, task_def.timeout_seconds, task_def.enforce_schema) == (None, None, False)
    assert task_def.to_dict()["name"] == "charge" and "retry_count" in task_def.to_dict()
    assert task_def.to_wire() == {"name": "charge", "enforceSchema": False}


def test_the_wire_form_is_camel_case_and_reads_either_spelling() -> None:
    result = TaskResult(task_id="t", workflow_instance_id="w", status="COMPLETED", output_data={"x": 1})
    wire = result.to_wire()
    assert wire == {"taskId": "t", "workflowInstanceId": "w", "status": "COMPLETED", "outputData": {"x": 1},
                    "extendLease": False}
    assert TaskResult.from_dict(wire) == result
    # to_dict() stored as JSON (e.g. a user's backup of failed updates) reads back too
    assert TaskResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    task = Task.from_dict({"taskId": "t", "status": "A_NEW_STATUS", "inputData": {}})
    assert task.status == "A_NEW_STATUS"  # the server's value is kept, not validated
    assert pickle.loads(pickle.dumps(task)) == task
