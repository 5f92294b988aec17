"""The task-runner events carry true values, a broken listener disturbs nobody, and the start-up
lines are logged once per runner (both flavours). TaskUpdateFailure is covered with the update
failures in ``test_pipeline_updates``."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest

from conductor_actors.events import (
    PollCompleted,
    PollStarted,
    TaskExecutionCompleted,
    TaskExecutionFailure,
    TaskExecutionStarted,
)

if TYPE_CHECKING:
    from runtime.conftest import PipelineHarness


def _wire_size(output: Any) -> int:
    """Bytes of ``output`` as JSON on the wire (compact separators, UTF-8)."""
    return len(json.dumps(output, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def test_poll_events_carry_the_slots_asked_for_and_the_tasks_received(pipeline: PipelineHarness) -> None:
    workflow_ids = pipeline.start_workflows([{"x": 1}, {"x": 2}])

    runner = pipeline.runner(pipeline.worker("echo", thread_count=3))
    pipeline.complete(workflow_ids)

    started = pipeline.recorder.of(PollStarted)[0]
    assert (started.task_type, started.worker_id, started.poll_count) == (pipeline.task_name(), runner.worker_id, 3)
    completed = pipeline.recorder.of(PollCompleted)[0]
    assert (completed.task_type, completed.tasks_received) == (pipeline.task_name(), 2)
    assert 0 <= completed.duration_ms < 1000


def test_execution_events_carry_the_task_ids_and_the_real_duration(pipeline: PipelineHarness) -> None:
    nap = 0.25
    workflow_ids = pipeline.start_workflows([{"seconds": nap}])

    runner = pipeline.runner(pipeline.worker("nap"))
    pipeline.complete(workflow_ids)

    task = pipeline.only_task(workflow_ids[0])
    expected_ids = (pipeline.task_name(), task["taskId"], runner.worker_id, workflow_ids[0])
    [started] = pipeline.recorder.of(TaskExecutionStarted)
    assert (started.task_type, started.task_id, started.worker_id, started.workflow_instance_id) == expected_ids
    [completed] = pipeline.recorder.of(TaskExecutionCompleted)
    assert (completed.task_type, completed.task_id, completed.worker_id, completed.workflow_instance_id) == (
        expected_ids
    )
    assert nap * 1000 <= completed.duration_ms < nap * 1000 + 500
    assert completed.output_size_bytes == _wire_size(task["outputData"])
    assert task["workerId"] == runner.worker_id
    assert not pipeline.recorder.of(TaskExecutionFailure)


def test_output_size_is_the_byte_size_of_the_delivered_output(pipeline: PipelineHarness) -> None:
    value = {"text": "naïve café ☕", "numbers": [1, 2.5, None], "nested": {"ok": True}}
    workflow_ids = pipeline.start_workflows([{"x": value}])

    pipeline.runner(pipeline.worker("echo"))
    pipeline.complete(workflow_ids)

    delivered = pipeline.only_task(workflow_ids[0])["outputData"]
    assert delivered == {"y": value}
    [completed] = pipeline.recorder.of(TaskExecutionCompleted)
    assert completed.output_size_bytes == _wire_size(delivered)


def test_a_worker_that_raises_gives_an_execution_failure_and_no_completion(pipeline: PipelineHarness) -> None:
    pipeline.server.register_task_def({"name": pipeline.task_name(), "retryCount": 0})
    workflow_ids = pipeline.start_workflows([{"message": "card declined: 42"}])

    runner = pipeline.runner(pipeline.worker("fail"))
    assert pipeline.server.wait_for_workflows(workflow_ids, 10) == {workflow_ids[0]: "FAILED"}

    task = pipeline.only_task(workflow_ids[0])
    [failure] = pipeline.recorder.wait_for(TaskExecutionFailure)
    assert (failure.task_id, failure.worker_id, failure.workflow_instance_id) == (
        task["taskId"], runner.worker_id, workflow_ids[0]
    )
    assert isinstance(failure.cause, ValueError) and str(failure.cause) == "card declined: 42"
    assert 0 <= failure.duration_ms < 1000
    assert not pipeline.recorder.of(TaskExecutionCompleted)
    assert (task["status"], task["reasonForIncompletion"]) == ("FAILED", "card declined: 42")


class _BrokenListener:
    """Raises from two listener methods."""

    def on_poll_started(self, event: PollStarted) -> None:
        raise RuntimeError("listener bug on poll")

    def on_task_execution_completed(self, event: TaskExecutionCompleted) -> None:
        raise RuntimeError("listener bug on completion")


def test_a_listener_that_raises_is_logged_and_skipped(
    pipeline: PipelineHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="conductor_actors.events")
    workflow_ids = pipeline.start_workflows([{"x": 3}])

    pipeline.runner(pipeline.worker("echo"), listeners=[_BrokenListener(), pipeline.recorder])
    pipeline.complete(workflow_ids)

    assert pipeline.recorder.of(PollStarted)
    [completed] = pipeline.recorder.of(TaskExecutionCompleted)
    assert completed.task_id == pipeline.only_task(workflow_ids[0])["taskId"]
    logged = [r for r in caplog.records if r.name == "conductor_actors.events"]
    assert any("TaskExecutionCompleted" in r.getMessage() and r.exc_info for r in logged)
    assert any("PollStarted" in r.getMessage() and r.exc_info for r in logged)


class _ListenerAbort(BaseException):
    """A listener author's own BaseException subclass."""


class _BaseExceptionListener:
    """Raises exceptions that are not ``Exception``s from two listener methods."""

    def on_poll_started(self, event: PollStarted) -> None:
        raise _ListenerAbort("listener gave up on a poll")

    def on_task_execution_completed(self, event: TaskExecutionCompleted) -> None:
        raise KeyboardInterrupt("pressed in a listener")


def test_a_listener_that_raises_a_base_exception_is_logged_and_skipped(
    pipeline: PipelineHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """Listener code is the user's, like a task's: a KeyboardInterrupt or another BaseException
    from it neither ends a stage nor strands the task that was being reported."""
    caplog.set_level(logging.ERROR, logger="conductor_actors.events")
    workflow_ids = pipeline.start_workflows([{"x": 1}, {"x": 2}])

    pipeline.runner(pipeline.worker("echo"), listeners=[_BaseExceptionListener(), pipeline.recorder])
    pipeline.complete(workflow_ids)

    assert len(pipeline.recorder.of(TaskExecutionCompleted)) == 2
    logged = [r.getMessage() for r in caplog.records if r.name == "conductor_actors.events" and r.exc_info]
    assert any("TaskExecutionCompleted" in m for m in logged)
    assert any("PollStarted" in m for m in logged)


def test_the_start_up_lines_are_logged_once_per_runner(
    pipeline: PipelineHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="conductor_actors.runtime")
    names = [pipeline.task_name("_a"), pipeline.task_name("_b")]
    for count, name in enumerate(names, start=1):
        pipeline.runner(pipeline.worker("echo", task_name=name, thread_count=count))

    messages = [r.getMessage() for r in caplog.records if r.name == "conductor_actors.runtime"]
    created, other = (
        ("Created TaskRunner", "Created AsyncTaskRunner")
        if pipeline.flavour == "sync" else ("Created AsyncTaskRunner", "Created TaskRunner")
    )
    for count, name in enumerate(names, start=1):
        summaries = [m for m in messages if m.startswith(f"Conductor Worker[name={name},")]
        assert len(summaries) == 1, messages
        assert f"thread_count={count}," in summaries[0]
        assert sum(created in m and f" {name} " in f"{m} " for m in messages) == 1, messages
    assert not any(other in m for m in messages)
