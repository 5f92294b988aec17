"""The telemetry hub (events and metrics of the pipeline) and events made safe for the pipe."""

from __future__ import annotations

import pickle

import pytest
from runtime.conftest import EventRecorder

from conductor_actors.client import (
    ConductorHTTPError,
    ConductorTransportError,
    Task,
    TaskResult,
)
from conductor_actors.events import (
    PollCompleted,
    PollFailure,
    PollStarted,
    TaskExecutionCompleted,
    TaskExecutionFailure,
    TaskExecutionStarted,
    TaskUpdateFailure,
)
from conductor_actors.metrics import MetricsAccumulator
from conductor_actors.runtime._messages import picklable_event
from conductor_actors.runtime._telemetry import Telemetry


def task(n: int, **extra: object) -> Task:
    return Task.from_dict({"taskId": f"t{n}", "workflowInstanceId": f"w{n}", "taskType": "echo", **extra})


def test_telemetry_publishes_the_official_events_with_true_values_and_records_metrics() -> None:
    recorder = EventRecorder()
    forwarded: list[object] = []
    acc = MetricsAccumulator()
    hub = Telemetry("echo", "host-1", listeners=[recorder], forward=forwarded.append,
                    forward_types=[TaskUpdateFailure], metrics=acc)
    hub.poll_started(5)
    hub.poll_completed(0.002, 1)
    hub.poll_failed(0.5, ConductorTransportError("refused"))
    hub.execution_started(task(1))
    hub.execution_finished(task(1), failed=False, cause=None, duration=0.25, output_size=17)
    hub.execution_finished(task(2), failed=True, cause=KeyError("x"), duration=0.1, output_size=2)
    result = TaskResult(task_id="t3", workflow_instance_id="w3")
    hub.update_failed(task(3), result, ConductorHTTPError(500, "down"), 4)
    kinds = [type(e) for e in recorder.events]
    assert kinds == [PollStarted, PollCompleted, PollFailure, TaskExecutionStarted,
                     TaskExecutionCompleted, TaskExecutionFailure, TaskUpdateFailure]
    started, completed, failure = recorder.events[0], recorder.events[4], recorder.events[5]
    assert (started.worker_id, started.poll_count) == ("host-1", 5)  # type: ignore[attr-defined]
    assert completed.duration_ms == pytest.approx(250.0) and completed.output_size_bytes == 17  # type: ignore[attr-defined]
    assert isinstance(failure.cause, KeyError)  # type: ignore[attr-defined]
    assert [type(e) for e in forwarded] == [TaskUpdateFailure]
    assert forwarded[0].task_result is result  # type: ignore[attr-defined]
    delta = acc.drain()
    assert delta.counters[("task_poll_error_total", ("echo", "ConductorTransportError"))] == 1
    assert delta.counters[("task_execute_error_total", ("echo", "KeyError"))] == 1
    assert delta.histograms[("task_result_size_bytes", ("echo",))][-2] == 19.0


class Unpicklable(Exception):
    def __init__(self, a: int, b: int) -> None:  # pickling calls Unpicklable("msg") and fails
        super().__init__(f"{a}/{b}")


def test_an_event_whose_cause_cannot_be_pickled_crosses_processes_as_a_remote_error() -> None:
    event = TaskExecutionFailure("echo", "t1", "w", "wf", Unpicklable(1, 2), 3.0)
    safe = picklable_event(event)
    copy = pickle.loads(pickle.dumps(safe))
    assert type(copy.cause).__name__ == "RemoteError"
    assert copy.cause.type_name.endswith("Unpicklable") and str(copy.cause) == "1/2"
    plain = TaskExecutionFailure("echo", "t1", "w", "wf", ValueError("v"), 3.0)
    assert picklable_event(plain) is plain
