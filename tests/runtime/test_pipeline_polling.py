"""Polling through failures (errors, dropped connections, garbled answers, tasks without ids, a
server that goes away and comes back) and pausing (both flavours)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from _support.pipeline_workers import GATES

from conductor_actors.client import ConductorHTTPError, ConductorTransportError, InvalidResponseError
from conductor_actors.events import PollCompleted, PollFailure, PollStarted, TaskExecutionStarted

if TYPE_CHECKING:
    from runtime.conftest import PipelineHarness

#: fault keyword arguments -> the client error a poll then fails with
POLL_FAULTS: dict[str, tuple[dict[str, Any], type[BaseException]]] = {
    "500": ({"status": 500}, ConductorHTTPError),
    "dropped": ({"drop": True}, ConductorTransportError),
    "html": ({"garbage": "html"}, InvalidResponseError),
    "truncated-json": ({"garbage": "truncated_json"}, InvalidResponseError),
}
#: How long (s) the poll fault lasts in the backoff test.
FAULT_WINDOW = 0.6


@pytest.mark.parametrize("kind", list(POLL_FAULTS))
def test_failing_polls_back_off_and_recover_when_the_fault_ends(
    pipeline: PipelineHarness, kind: str, wait_until: Callable[..., None]
) -> None:
    fault_kwargs, error_type = POLL_FAULTS[kind]
    pipeline.runner(pipeline.worker("echo", thread_count=2))
    pipeline.recorder.wait_for(PollCompleted)  # polling works; now it breaks for FAULT_WINDOW seconds
    fault = pipeline.server.faults.add("poll_batch", seconds=FAULT_WINDOW, **fault_kwargs)
    workflow_ids = pipeline.start_workflows([{"x": 1}, {"x": 2}])

    failures = pipeline.recorder.wait_for(PollFailure, 3)
    assert all(isinstance(f.cause, error_type) for f in failures), [repr(f.cause) for f in failures]
    wait_until(lambda: not fault.active, what="the poll fault to expire")
    pipeline.complete(workflow_ids)

    # Backoff 10, 20, 40, then 50 ms: about 14 polls in the window; a tight loop makes hundreds.
    assert 3 <= fault.hits <= 30, f"{fault.hits} polls during a {FAULT_WINDOW} s fault"
    # Each PollFailure is a faulted poll (the transport may absorb a drop of a reused connection by
    # sending the poll once more on a fresh one, so a few faulted polls may not surface).
    assert 3 <= pipeline.recorder.count(PollFailure) <= fault.hits
    assert [t["outputData"] for t in map(pipeline.only_task, workflow_ids)] == [{"y": 1}, {"y": 2}]


def test_polled_tasks_without_ids_are_skipped_with_a_warning(
    pipeline: PipelineHarness, caplog: pytest.LogCaptureFixture, wait_until: Callable[..., None]
) -> None:
    caplog.set_level(logging.WARNING, logger="conductor_actors.runtime")
    fault = pipeline.server.faults.add("poll_batch", garbage="missing_ids", times=3)

    pipeline.runner(pipeline.worker("echo", thread_count=1))
    wait_until(lambda: not fault.active, what="three polls answered with tasks without ids")
    workflow_ids = pipeline.start_workflows([{"x": 5}])
    pipeline.complete(workflow_ids)

    skipped = [r for r in caplog.records
               if r.levelno == logging.WARNING and "missing taskId and workflowInstanceId" in r.getMessage()]
    assert len(skipped) == 3, [r.getMessage() for r in caplog.records]
    assert pipeline.recorder.started_task_ids() == [pipeline.only_task(workflow_ids[0])["taskId"]]
    assert not pipeline.recorder.of(PollFailure)


def test_the_worker_recovers_when_the_server_goes_away_and_comes_back(
    pipeline: PipelineHarness, caplog: pytest.LogCaptureFixture, wait_until: Callable[..., None]
) -> None:
    caplog.set_level(logging.WARNING, logger="conductor_actors.runtime")
    server = pipeline.server
    settings = pipeline.settings(update_retry_delays=(0.3, 0.6, 1.2))
    pipeline.runner(pipeline.worker("hold", thread_count=3), settings=settings)
    before = pipeline.start_workflows([{"gate": "before"}] * 2)
    pipeline.recorder.wait_for(TaskExecutionStarted, 2)

    server.stop()
    polls_failed = pipeline.recorder.count(PollFailure)
    GATES.open("before")  # their results now meet a closed port
    wait_until(
        lambda: sum("retrying in" in r.getMessage() for r in caplog.records) >= 2,
        what="both result updates to fail and be scheduled for a retry",
    )
    pipeline.recorder.wait_for(PollFailure, polls_failed + 1)
    during = pipeline.start_workflows([{"gate": "during"}] * 3)
    GATES.open("during")
    server.start()

    pipeline.complete(before + during)
    assert not pipeline.recorder.update_failures()
    assert pipeline.undeliverable.calls == []


def test_a_paused_worker_does_not_poll_until_resumed(pipeline: PipelineHarness) -> None:
    workflow_ids = pipeline.start_workflows([{"x": 1}])

    runner = pipeline.runner(pipeline.worker("echo"), paused=True)
    assert pipeline.recorder.none_within(PollStarted, 0.4)
    assert pipeline.server.stats()["poll_batch"] == 0
    assert pipeline.only_task(workflow_ids[0])["status"] == "SCHEDULED"

    runner.resume()
    pipeline.complete(workflow_ids)


def test_pause_stops_new_polls_while_running_tasks_finish(
    pipeline: PipelineHarness, wait_until: Callable[..., None]
) -> None:
    recorder = pipeline.recorder
    running = pipeline.start_workflows([{"gate": "running"}])
    runner = pipeline.runner(pipeline.worker("hold", thread_count=2))
    recorder.wait_for(TaskExecutionStarted, 1)
    recorder.wait_for(PollStarted, 2)  # the free slot is being polled for

    runner.pause()
    # Idle polls start about every 100 ms; a quiet 300 ms with none in flight means the pause holds
    # (a poll in flight when pause() was called may still finish).
    wait_until(
        lambda: recorder.none_within(PollStarted, 0.3) and recorder.polls_in_flight() == 0,
        what="polling to stop after pause()",
    )
    polls_at_pause = recorder.count(PollStarted)

    GATES.open("running")
    pipeline.complete(running)
    # The finished task's update may still be in flight; let it settle first.
    wait_until(lambda: len(runner.ledger) == 0, what="the finished task's update to settle")
    waiting = pipeline.start_workflows([{"gate": "later"}])
    assert recorder.none_within(PollStarted, 0.4)
    assert recorder.count(PollStarted) == polls_at_pause
    assert pipeline.only_task(waiting[0])["status"] == "SCHEDULED"

    GATES.open("later")
    runner.resume()
    pipeline.complete(waiting)


def test_a_paused_worker_takes_no_new_task_through_update_v2(pipeline: PipelineHarness) -> None:
    recorder = pipeline.recorder
    running = pipeline.start_workflows([{"gate": "running"}])
    runner = pipeline.runner(pipeline.worker("hold", thread_count=1))
    recorder.wait_for(TaskExecutionStarted, 1)
    runner.pause()
    waiting = pipeline.start_workflows([{"gate": "later"}])  # queued before the running task ends

    GATES.open("running")
    pipeline.complete(running)
    recorder.none_within(TaskExecutionStarted, 0.5)  # update-v2 chains within about 100 ms
    assert recorder.count(TaskExecutionStarted) == 1, "a paused worker started a new task"
    assert pipeline.only_task(waiting[0])["status"] == "SCHEDULED"
