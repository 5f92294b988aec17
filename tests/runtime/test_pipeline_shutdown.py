"""The graceful stop: delivered within the grace period, handed back at the deadline (or unstarted,
when a poll brings them after the stop began), the task context's shutdown flag, and results that
cannot be sent going to ``undeliverable`` within the flush time (both flavours)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from _support.pipeline_workers import GATES
from _support.waiting import wait_until
from runtime.conftest import WAIT, RecordingClient

from conductor_actors import Worker
from conductor_actors.client import (
    ConductorClient,
    ConductorHTTPError,
    ConductorTransportError,
    TaskResult,
    TaskResultStatus,
)
from conductor_actors.events import PollStarted, TaskExecutionCompleted, TaskExecutionStarted, TaskUpdateFailure
from conductor_actors.runtime import StopReport

if TYPE_CHECKING:
    from runtime.conftest import PipelineHarness

#: Slack (s) allowed on top of a stop's grace + flush for thread hand-offs and loopback HTTP.
SLACK = 0.75


def test_tasks_finishing_within_the_grace_period_are_delivered(pipeline: PipelineHarness) -> None:
    workflow_ids = pipeline.start_workflows([{"seconds": 0.4}] * 2)
    runner = pipeline.runner(pipeline.worker("nap", thread_count=2))
    pipeline.recorder.wait_for(TaskExecutionStarted, 2)

    report = runner.stop(grace=5, flush=2)

    assert report.clean
    assert (report.handed_back, report.abandoned, report.undelivered) == (0, 0, 0)
    assert report.seconds < 0.4 + SLACK
    assert pipeline.server.wait_for_workflows(workflow_ids, 0.1) == dict.fromkeys(workflow_ids, "COMPLETED")
    assert len(runner.ledger) == 0


def test_tasks_still_running_at_the_deadline_are_handed_back_and_their_late_results_dropped(
    pipeline: PipelineHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="conductor_actors.runtime")
    workflow_ids = pipeline.start_workflows([{"gate": "stuck"}] * 2)
    client = pipeline.recording_client()
    first = pipeline.runner(pipeline.worker("hold", thread_count=2), client=client, worker_id="first")
    pipeline.recorder.wait_for(TaskExecutionStarted, 2)
    task_ids = [pipeline.only_task(w)["taskId"] for w in workflow_ids]

    report = first.stop(grace=0.3, flush=1)

    assert (report.handed_back, report.abandoned, report.undelivered, report.clean) == (2, 2, 0, False)
    assert report.seconds < 0.3 + 1 + SLACK
    assert [pipeline.only_task(w)["status"] for w in workflow_ids] == ["SCHEDULED", "SCHEDULED"]

    GATES.open("stuck")  # the first runner's tasks finish now, after their hand-back
    if pipeline.flavour == "sync":  # threads run on; their results must be dropped
        wait_until(
            lambda: sum("its result is dropped" in r.getMessage() for r in caplog.records) == 2,
            what="both late results to be dropped",
        )
    second = pipeline.runner(pipeline.worker("hold", thread_count=2), worker_id="second")
    pipeline.complete(workflow_ids)

    for task_id in task_ids:
        sent = [result for _, result, _ in client.results_for(task_id)]
        assert [(r.status, r.callback_after_seconds) for r in sent] == [(TaskResultStatus.IN_PROGRESS, 0)]
        task = pipeline.server.get_task(task_id)
        assert (task["status"], task["workerId"], task["pollCount"]) == ("COMPLETED", "second", 2)
        assert task["outputData"] == {"gate": "stuck", "opened": True}
    started_by_second = [e.task_id for e in pipeline.recorder.of(TaskExecutionStarted) if e.worker_id == "second"]
    assert second.worker_id == "second"
    assert sorted(started_by_second) == sorted(task_ids)


def test_hurry_shortens_a_stop_in_progress(pipeline: PipelineHarness) -> None:
    pipeline.start_workflows([{"gate": "stuck"}])
    runner = pipeline.runner(pipeline.worker("hold"))
    pipeline.recorder.wait_for(TaskExecutionStarted)
    reports: list[StopReport] = []
    stopping = threading.Thread(target=lambda: reports.append(runner.stop(grace=30, flush=30)))
    stopping.start()
    wait_until(lambda: runner._pipeline().shutting_down.is_set(), what="the stop to begin")

    runner.hurry(0.2, 0.5)  # a second signal
    stopping.join(timeout=10)

    [report] = reports
    assert (report.handed_back, report.abandoned, report.undelivered, report.clean) == (1, 1, 0, False)
    assert report.seconds < 0.2 + 0.5 + SLACK


def test_hurry_before_start_shortens_the_stop_that_follows(pipeline: PipelineHarness) -> None:
    pipeline.start_workflows([{"gate": "stuck"}])
    runner = pipeline.runner(pipeline.worker("hold"), start=False)
    runner.hurry(0.2, 0.5)  # a second signal while the pipeline is being built
    runner.start()
    pipeline.recorder.wait_for(TaskExecutionStarted)

    report = runner.stop(grace=30, flush=30)

    assert (report.handed_back, report.abandoned, report.undelivered, report.clean) == (1, 1, 0, False)
    assert report.seconds < 0.2 + 0.5 + SLACK


def _stop_while_a_poll_brings_a_task(
    pipeline: PipelineHarness, grace: float, flush: float
) -> tuple[StopReport, str, Any]:
    """Start a runner whose first poll the server holds for 0.5 s, queue a task meanwhile and stop:
    the poll answers with the task after the stop began. Returns (the stop report, the task id, the
    runner's recording client)."""
    pipeline.server.faults.add("poll_batch", delay_ms=500, times=1)
    client = pipeline.recording_client()
    runner = pipeline.runner(pipeline.worker("echo", thread_count=2), client=client, worker_id="first")
    pipeline.recorder.wait_for(PollStarted)
    workflow_ids = pipeline.start_workflows([{"x": 5}])
    report = runner.stop(grace=grace, flush=flush)
    return report, pipeline.only_task(workflow_ids[0])["taskId"], client


def test_a_task_a_poll_brings_after_stop_began_is_handed_back_unstarted(pipeline: PipelineHarness) -> None:
    report, task_id, _ = _stop_while_a_poll_brings_a_task(pipeline, grace=1, flush=1)

    assert report.clean
    assert not pipeline.recorder.of(TaskExecutionStarted), "a task polled after stop() began was executed"
    task = pipeline.server.get_task(task_id)
    assert (task["status"], task["pollCount"]) == ("SCHEDULED", 1)

    pipeline.runner(pipeline.worker("echo"), worker_id="second")
    pipeline.complete([task["workflowInstanceId"]])
    assert pipeline.server.get_task(task_id)["workerId"] == "second"


def test_the_stop_report_counts_tasks_the_poller_handed_back(pipeline: PipelineHarness) -> None:
    report, task_id, _ = _stop_while_a_poll_brings_a_task(pipeline, grace=1, flush=1)

    assert pipeline.server.get_task(task_id)["status"] == "SCHEDULED"
    assert report.handed_back == 1


def test_a_slow_hand_back_is_not_sent_twice(pipeline: PipelineHarness) -> None:
    pipeline.server.faults.add("update_v1", delay_ms=800)  # hand-backs go over v1; this one outlasts the grace
    _, task_id, client = _stop_while_a_poll_brings_a_task(pipeline, grace=0.2, flush=2)

    hand_backs = [result for _, result, _ in client.results_for(task_id)]
    assert [(r.status, r.callback_after_seconds) for r in hand_backs] == [(TaskResultStatus.IN_PROGRESS, 0)]


def test_a_running_task_sees_is_shutting_down_once_stop_begins(pipeline: PipelineHarness) -> None:
    workflow_ids = pipeline.start_workflows([{"x": 0}])
    runner = pipeline.runner(pipeline.worker("await_shutdown"))
    pipeline.recorder.wait_for(TaskExecutionStarted)
    assert pipeline.recorder.none_within(TaskExecutionCompleted, 0.2), "the task ended before any stop"

    report = runner.stop(grace=5, flush=2)

    assert report.clean
    assert report.seconds < SLACK
    task = pipeline.only_task(workflow_ids[0])
    assert (task["status"], task["outputData"]) == ("COMPLETED", {"saw_shutdown": True})


def test_a_result_that_fails_to_send_during_shutdown_goes_to_undeliverable(pipeline: PipelineHarness) -> None:
    pipeline.server.faults.add("update", status=503)
    workflow_ids = pipeline.start_workflows([{"x": 0}])
    settings = pipeline.settings(update_retry_delays=(5.0, 5.0))
    runner = pipeline.runner(pipeline.worker("await_shutdown"), settings=settings)
    pipeline.recorder.wait_for(TaskExecutionStarted)

    report = runner.stop(grace=2, flush=0.5)

    assert report.seconds < 0.5 + SLACK, "a failed send during shutdown must not wait for its retry delay"
    [(task_type, result, cause, attempts)] = pipeline.undeliverable.calls
    assert task_type == pipeline.task_name()
    assert result.task_id == pipeline.only_task(workflow_ids[0])["taskId"]
    assert (result.status, result.output_data) == (TaskResultStatus.COMPLETED, {"saw_shutdown": True})
    assert isinstance(cause, ConductorHTTPError) and cause.status == 503
    assert attempts == 1
    assert pipeline.only_task(workflow_ids[0])["status"] == "IN_PROGRESS"


def test_a_result_waiting_for_a_retry_is_flushed_at_stop_and_handed_over_when_it_fails(
    pipeline: PipelineHarness
) -> None:
    pipeline.server.faults.add("update", status=503)
    workflow_ids = pipeline.start_workflows([{"x": 9}])
    runner = pipeline.runner(pipeline.worker("echo"), settings=pipeline.settings(update_retry_delays=(30.0,)))
    wait_until(lambda: pipeline.server.stats()["update_v2"] == 1, what="the first update attempt")

    began = time.monotonic()
    runner.stop(grace=1, flush=0.5)

    assert time.monotonic() - began < 0.5 + SLACK, "the stop waited for the 30 s retry delay"
    [(_, result, _, _)] = pipeline.undeliverable.calls
    assert result.task_id == pipeline.only_task(workflow_ids[0])["taskId"]
    assert (result.status, result.output_data) == (TaskResultStatus.COMPLETED, {"y": 9})
    assert pipeline.server.stats()["update_v1"] == 1, "the flush sends the waiting result once more"


def test_a_result_whose_update_hangs_past_the_flush_time_goes_to_undeliverable(pipeline: PipelineHarness) -> None:
    pipeline.server.faults.add("update", delay_ms=3000)
    workflow_ids = pipeline.start_workflows([{"x": 0}])
    client = pipeline.recording_client()  # (async: closing aborts the hung send, see the conftest)
    runner = pipeline.runner(pipeline.worker("await_shutdown"), client=client)
    pipeline.recorder.wait_for(TaskExecutionStarted)

    report = runner.stop(grace=2, flush=0.5)

    assert report.seconds < 0.5 + SLACK
    assert (report.undelivered, report.clean) == (1, False)
    [(_, result, cause, _)] = pipeline.undeliverable.calls
    assert result.task_id == pipeline.only_task(workflow_ids[0])["taskId"]
    assert (result.status, result.output_data) == (TaskResultStatus.COMPLETED, {"saw_shutdown": True})
    assert isinstance(cause, TimeoutError)


def test_a_result_handed_over_at_the_flush_deadline_is_not_handed_over_again(pipeline: PipelineHarness) -> None:
    # The update hangs past the flush deadline, then fails: with a 503 after 0.8 s (sync), or when the
    # stop closes the client, which aborts it (async, see the conftest).
    pipeline.server.faults.add("update", delay_ms=800, status=503)
    workflow_ids = pipeline.start_workflows([{"x": 0}])
    client = pipeline.recording_client()
    runner = pipeline.runner(pipeline.worker("await_shutdown"), client=client)
    pipeline.recorder.wait_for(TaskExecutionStarted)
    task_id = pipeline.only_task(workflow_ids[0])["taskId"]

    report = runner.stop(grace=2, flush=0.3)
    client.wait_ended(task_id)

    assert report.undelivered == 1
    pipeline.recorder.none_within(TaskUpdateFailure, 0.2)  # the late failure is handled meanwhile
    assert len(pipeline.undeliverable.calls) == 1, "the same result was handed to recovery twice"


def test_the_stop_report_counts_results_handed_over_during_the_stop(pipeline: PipelineHarness) -> None:
    pipeline.server.faults.add("update", status=503)
    pipeline.start_workflows([{"x": 0}])
    runner = pipeline.runner(pipeline.worker("await_shutdown"))
    pipeline.recorder.wait_for(TaskExecutionStarted)

    report = runner.stop(grace=2, flush=0.5)

    assert len(pipeline.undeliverable.calls) == 1
    assert (report.undelivered, report.clean) == (1, False)


def test_stop_returns_with_no_update_still_in_flight(pipeline: PipelineHarness) -> None:
    """At the flush deadline the result goes to recovery and the send still waiting for the server
    is ended: nothing of the worker talks to the server after stop() returned."""
    pipeline.server.faults.add("update", delay_ms=1500)
    workflow_ids = pipeline.start_workflows([{"x": 0}])
    client = pipeline.recording_client(abort_on_close=False)  # closes like the real client
    runner = pipeline.runner(pipeline.worker("await_shutdown"), client=client)
    pipeline.recorder.wait_for(TaskExecutionStarted)
    task_id = pipeline.only_task(workflow_ids[0])["taskId"]

    report = runner.stop(grace=2, flush=0.3)
    assert report.undelivered == 1
    assert client.in_flight() == 0, f"the result update of task {task_id} was still in flight after stop() returned"


def test_a_task_update_v2_chains_after_the_stop_began_is_handed_back_unstarted(pipeline: PipelineHarness) -> None:
    """The result went out over update-v2 before the stop began; the server's answer, which arrives
    after, leases the next task to this worker. That task is handed back, never run nor left leased."""
    pipeline.server.faults.add("update_v2", delay_ms=1500, times=1)
    first, second = pipeline.start_workflows([{"x": 1}, {"x": 2}])
    client = pipeline.recording_client()
    runner = pipeline.runner(pipeline.worker("echo", thread_count=1), client=client)
    task_id = pipeline.only_task(first)["taskId"]
    wait_until(lambda: client.in_flight() == 1, what="the first result's update-v2 to be in flight")

    report = runner.stop(grace=2, flush=5)

    assert pipeline.server.wait_for_workflows([first], 0.1) == {first: "COMPLETED"}
    chained = pipeline.only_task(second)
    assert chained["status"] == "SCHEDULED", "the chained task was left leased to a stopped worker"
    assert [method for method, _, _ in client.results_for(chained["taskId"])] == ["update_task"]
    assert [e.task_id for e in pipeline.recorder.of(TaskExecutionStarted)] == [task_id]
    assert (report.handed_back, report.undelivered, report.clean) == (1, 0, True)
    assert len(runner.ledger) == 0


@pytest.mark.parametrize("flavour", ["sync"])
def test_stop_returns_only_once_a_send_on_an_executor_thread_ended(pipeline: PipelineHarness) -> None:
    """Executor threads are not joined at the stop (one may still run a task it handed back), so the
    stop waits for the sends on them: here a send that ends a while after the client was closed."""
    in_flight, closed = threading.Event(), threading.Event()
    ended: list[float] = []

    class SlowToAbort(RecordingClient):
        def _hang(self) -> Any:
            in_flight.set()
            closed.wait(WAIT)  # in flight until the stop closes the client
            time.sleep(0.3)  # a transport slow to give up
            ended.append(time.monotonic())
            raise ConductorTransportError("aborted: the client was closed")

        def update_task_v2(self, result: TaskResult) -> Any:
            return self._hang()

        def update_task(self, result: TaskResult) -> str:
            return self._hang()  # type: ignore[no-any-return]

        def close(self) -> None:
            closed.set()
            self.inner.close()

    pipeline.start_workflows([{"x": 0}])
    client = SlowToAbort(ConductorClient(pipeline.configuration, pool_size=4))
    runner = pipeline.runner(pipeline.worker("echo"), client=client)
    assert in_flight.wait(WAIT)

    report = runner.stop(grace=1, flush=0.2)
    returned = time.monotonic()

    assert report.undelivered == 1
    assert ended and ended[0] <= returned, "stop() returned while a result send was still in flight"


async def _shrug_off_two_cancels() -> dict[str, Any]:
    """An async worker whose code catches the first two cancellations and goes on waiting."""
    shrugged = 0
    while True:
        try:
            await asyncio.sleep(30)
            return {"shrugged": shrugged}
        except asyncio.CancelledError:
            shrugged += 1
            if shrugged > 2:
                raise


@pytest.mark.parametrize("flavour", ["async"])
def test_the_stop_does_not_wait_for_task_code_that_holds_off_cancellation(pipeline: PipelineHarness) -> None:
    """A running task is handed back and cancelled at the grace deadline; code that catches the
    cancellation and keeps waiting must not hold the stop (only the sends are awaited)."""
    workflow_ids = pipeline.start_workflows([{}])
    runner = pipeline.runner(Worker(pipeline.task_name(), _shrug_off_two_cancels, thread_count=1))
    pipeline.recorder.wait_for(TaskExecutionStarted)

    report = runner.stop(grace=0.2, flush=0.2)

    assert report.seconds < 0.4 + SLACK
    assert report.handed_back == 1
    assert pipeline.only_task(workflow_ids[0])["status"] == "SCHEDULED"
