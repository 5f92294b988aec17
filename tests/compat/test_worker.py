"""Worker-side behaviour of the official SDK: ``Worker``'s defaults and in-process ``execute`` (also
with a lambda or a nested function, refused only when started), the ``task.to_task_result`` pattern
of the official examples running against the dev server in both flavours, the task context's
result, ``TaskInProgress`` and the official ``resolve_worker_config`` form."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import pytest
from _support.cli_apps import one_task_workflow

from conductor_actors import (
    ConductorClient,
    Configuration,
    Task,
    TaskResult,
    TaskResultStatus,
    Worker,
    get_task_context,
    resolve_worker_config,
)
from conductor_actors.testing import InProcessWorkers, run_task
from conductor_actors.worker import (
    TaskContext,
    TaskInProgress,
    WorkerRegistrationError,
    default_worker_id,
    get_worker_config_oneline,
)


def add(a: int, b: int = 2) -> dict:
    return {"sum": a + b}


def a_task(**input_data: Any) -> Task:
    return Task(task_id="t1", workflow_instance_id="w1", task_def_name="compat", input_data=input_data)


# --- Worker ------------------------------------------------------------------------------------


def test_worker_id_defaults_to_the_host_name() -> None:
    worker = Worker("compat_id", add)
    assert worker.worker_id == socket.gethostname()
    assert Worker("compat_id", add, worker_id="billing-1").worker_id == "billing-1"
    # each worker process still reports its own id unless one was given
    assert worker.get_identity() == default_worker_id() == f"{socket.gethostname()}-{os.getpid()}"
    assert Worker("compat_id", add, worker_id="billing-1").get_identity() == "billing-1"
    assert resolve_worker_config(worker, env={}).worker_id is None


def test_poll_interval_is_given_back_as_given() -> None:
    assert Worker("compat_poll", add).poll_interval == 100
    assert isinstance(Worker("compat_poll", add).poll_interval, int)
    assert Worker("compat_poll", add, poll_interval=250.5).poll_interval == 250.5


def keeps_going(a: int) -> TaskInProgress:
    return TaskInProgress(callback_after_seconds=30, output={"step": a})


async def keeps_going_async(a: int) -> TaskInProgress:
    return keeps_going(a)


def test_execute_gives_back_a_returned_task_in_progress_as_is() -> None:
    returned = Worker("compat_tip", keeps_going).execute(a_task(a=2))
    assert isinstance(returned, TaskInProgress)
    assert (returned.callback_after_seconds, returned.output) == (30, {"step": 2})
    returned = asyncio.run(Worker("compat_tip_async", keeps_going_async).execute(a_task(a=3)))
    assert isinstance(returned, TaskInProgress) and returned.output == {"step": 3}
    # the runtime itself turns it into an IN_PROGRESS result
    result = run_task(keeps_going, {"a": 4})
    assert (result.status, result.callback_after_seconds, result.output_data) == (
        TaskResultStatus.IN_PROGRESS, 30, {"step": 4})


def test_assigning_execute_function_takes_effect() -> None:
    worker = Worker("compat_swap", add)
    assert worker.execute(a_task(a=1)).output_data == {"sum": 3}
    worker.execute_function = keeps_going
    assert worker.execute_function is keeps_going
    assert isinstance(worker.execute(a_task(a=1)), TaskInProgress)


def test_get_task_result_from_task_has_no_status_yet() -> None:
    result = Worker("compat_empty", add, worker_id="me").get_task_result_from_task(a_task())
    assert (result.task_id, result.workflow_instance_id, result.worker_id) == ("t1", "w1", "me")
    assert result.status is None


def test_a_lambda_or_nested_function_executes_in_process_and_is_refused_when_started() -> None:
    def nested(a: int) -> dict:
        return {"nested": a * 10}

    result = Worker("compat_lambda", lambda a: {"doubled": a * 2}).execute(a_task(a=4))
    assert (result.status, result.output_data) == (TaskResultStatus.COMPLETED, {"doubled": 8})
    result = Worker("compat_nested", nested).execute(a_task(a=4))
    assert (result.status, result.output_data) == (TaskResultStatus.COMPLETED, {"nested": 40})
    # starting them in worker processes is refused, naming the fix (test_handler_start.py)
    with pytest.raises(WorkerRegistrationError, match="`def` at module level"):
        Worker("compat_lambda", lambda a: {"doubled": a * 2}).check_spawnable()
    with pytest.raises(WorkerRegistrationError, match="defined inside another function"):
        Worker("compat_nested", nested).check_spawnable()


# --- the official examples' pattern, end to end ----------------------------------------------------


def official_style(task: Task) -> TaskResult:
    result = task.to_task_result(TaskResultStatus.COMPLETED)
    result.add_output_data("greeting", f"hello {task.input_data['name']}")
    result.log("greeted")
    return result


async def official_style_async(task: Task) -> TaskResult:
    return official_style(task)


def test_to_task_result_workers_complete_their_workflows(dev_server: Any, flavour: str) -> None:
    task_type = f"compat_official_{flavour}"
    workflow = one_task_workflow(dev_server, task_type, ["name"])
    function = official_style if flavour == "sync" else official_style_async
    with InProcessWorkers(dev_server) as workers:
        workers(Worker(task_type, function))
        run = workers.run_workflow(workflow, {"name": "ada"})
    assert run["status"] == "COMPLETED", run
    (task,) = run["tasks"]
    assert task["outputData"] == {"greeting": "hello ada"}
    with ConductorClient(Configuration(server_api_url=dev_server.url, env={})) as client:
        assert [entry.log for entry in client.get_task_logs(task["taskId"])] == ["greeted"]


# --- task context and TaskInProgress ---------------------------------------------------------------


def reads_its_result(a: int) -> dict:
    context = get_task_context()
    context.add_log("working")
    context.set_callback_after(3)
    result = context.get_task_result()
    assert result is context.task_result and TaskContext.get() is context
    return {"result_task": result.task_id, "logs": [entry.log for entry in result.logs],
            "callback": result.callback_after_seconds, "status": result.status}


async def reads_its_result_async(a: int) -> dict:
    return reads_its_result(a)


def test_the_context_exposes_the_result_being_built(flavour: str) -> None:
    function = reads_its_result if flavour == "sync" else reads_its_result_async
    result = run_task(function, {"a": 1}, task_id="t-ctx")
    assert result.output_data == {"result_task": "t-ctx", "logs": ["working"], "callback": 3, "status": None}


def test_a_context_can_be_built_as_in_the_official_sdk() -> None:
    task = Task(task_id="t", workflow_instance_id="w", retry_count=2, input_data={"k": 1})
    context = TaskContext(task, TaskResult(task_id="t", workflow_instance_id="w"))
    context.add_log("x")
    context.set_output({"o": 1})
    context.set_callback_after(9)
    assert (context.get_retry_count(), context.get_input(), context.get_callback_after_seconds()) == (2, {"k": 1}, 9)
    assert context.task_result.output_data == {"o": 1} and context.task_result.logs[0].task_id == "t"
    assert repr(context) == "TaskContext(task_id=t, workflow_id=w, retry_count=2)"
    empty = TaskContext(Task(), TaskResult())
    assert (empty.get_retry_count(), empty.get_poll_count(), empty.get_input()) == (0, 0, {})
    with pytest.raises(ValueError):
        context.set_output(["not a dict"])  # type: ignore[arg-type]


def test_task_in_progress_attributes_can_be_assigned() -> None:
    progress = TaskInProgress()
    assert (progress.callback_after_seconds, progress.output) == (60, {})
    progress.callback_after_seconds = 5
    progress.output = {"step": 2}
    assert (progress.callback_after_seconds, progress.output) == (5, {"step": 2})
    assert repr(progress) == "TaskInProgress(callback_after=5s, output={'step': 2})"
    with pytest.raises(ValueError):
        progress.callback_after_seconds = -1


# --- resolve_worker_config ---------------------------------------------------------------------------


OFFICIAL_KEYS = ["poll_interval", "domain", "worker_id", "thread_count", "register_task_def", "poll_timeout",
                 "lease_extend_enabled", "paused", "overwrite_task_def", "strict_schema", "register_schema"]


def test_resolve_worker_config_takes_the_official_name_and_values(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_worker_config("compat_rwc") == {
        **dict.fromkeys(OFFICIAL_KEYS), "overwrite_task_def": True, "strict_schema": False, "register_schema": False}
    monkeypatch.setenv("conductor.worker.compat_rwc.thread_count", "7")
    monkeypatch.setenv("conductor.worker.all.domain", "blue")
    monkeypatch.setenv("CONDUCTOR_WORKER_COMPAT_RWC_POLL_INTERVAL", "250")
    config = resolve_worker_config("compat_rwc", poll_interval=100, domain="code", thread_count=2, paused=True)
    assert list(config) == OFFICIAL_KEYS
    assert (config["thread_count"], config["domain"]) == (7, "blue")
    assert (config["poll_interval"], config["paused"]) == (250, True)
    line = get_worker_config_oneline("compat_rwc", config)
    assert line.startswith("Conductor Worker[name=compat_rwc, pid=") and "status=active" not in line
    assert "thread_count=7" in line and "poll_interval=250" in line
