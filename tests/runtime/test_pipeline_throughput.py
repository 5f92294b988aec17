"""Slots, polls and update-v2 chaining: how much HTTP a worker needs per task (both flavours)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest
from _support.pipeline_workers import GATES
from _support.waiting import wait_until

from conductor_actors.client import TaskResult, TaskResultStatus
from conductor_actors.events import (
    PollCompleted,
    PollStarted,
    TaskExecutionCompleted,
    TaskExecutionFailure,
    TaskExecutionStarted,
)

if TYPE_CHECKING:
    from runtime.conftest import PipelineHarness


def peak_in_progress(times: Sequence[tuple[str, int, int, int]]) -> int:
    """The most tasks the server had handed out and not yet seen finish at any one moment, from
    their (status, scheduled, start, end) ms times. A task ending in the millisecond another starts
    freed its slot first (update-v2 ends one task and hands out the next in one request)."""
    edges = sorted([(start, 1) for _, _, start, _ in times] + [(end, -1) for _, _, _, end in times])
    peak = in_progress = 0
    for _, step in edges:
        in_progress += step
        peak = max(peak, in_progress)
    return peak


def test_a_backlog_of_thousands_completes_with_about_one_request_per_task_within_the_slots(
    pipeline: PipelineHarness,
) -> None:
    tasks, thread_count = 2000, 10
    workflow_ids = pipeline.start_workflows([{"x": i} for i in range(tasks)])
    pipeline.server.reset_stats()

    pipeline.runner(pipeline.worker("echo", thread_count=thread_count))
    pipeline.complete(workflow_ids, timeout=60)

    stats = pipeline.server.stats()
    assert stats["update_v2"] == tasks
    assert stats["update_v1"] == 0
    # Polls until the last task finished (idle polls after it do not count against the backlog).
    events = pipeline.recorder.events
    last_finished = max(i for i, e in enumerate(events) if isinstance(e, TaskExecutionCompleted))
    polls = sum(1 for e in events[:last_finished] if isinstance(e, PollStarted))
    assert polls <= 10, f"{polls} polls for a backlog of {tasks}"
    assert (stats["update_v2"] + polls) / tasks <= 1.05
    assert stats["poll_batch"] >= polls
    outputs = {t["inputData"]["x"]: t["outputData"] for t in pipeline.server.tasks(task_type=pipeline.task_name())}
    assert outputs == {i: {"y": i} for i in range(tasks)}
    # What the server saw: every slot used, never more tasks in flight than thread_count.
    times = pipeline.task_times()
    assert len(times) == tasks and all(status == "COMPLETED" for status, *_ in times)
    assert all(0 < start <= end for _, _, start, end in times)
    assert peak_in_progress(times) == thread_count


def test_tasks_beyond_the_free_slots_are_handed_back_at_once(
    pipeline: PipelineHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that ignores ``count`` (here: the transport asks for 3 tasks more than the pipeline
    did): the excess is handed back unstarted at once, and no more than thread_count ever run."""
    caplog.set_level(logging.WARNING, logger="conductor_actors.runtime")
    thread_count, extra = 2, 3
    workflow_ids = pipeline.start_workflows([{"gate": "held"}] * 6)
    client = pipeline.recording_client()
    client.extra_tasks_per_poll = extra
    runner = pipeline.runner(pipeline.worker("hold", thread_count=thread_count), client=client)
    recorder = pipeline.recorder

    def handbacks() -> list[TaskResult]:
        return [result for method, result, _ in client.sent if method == "update_task"]

    # The first poll asked for 2 and got 5: 2 run, 3 go straight back (IN_PROGRESS, callback 0).
    # The execution-started events come from the executor threads, after the ledger took the tasks.
    wait_until(lambda: len(handbacks()) == extra and len(runner.ledger) == thread_count
               and len(set(recorder.started_task_ids())) >= thread_count,
               what="the excess to be handed back and the slots to start running")
    assert [p.tasks_received for p in recorder.of(PollCompleted)] == [thread_count + extra]
    assert all(r.status == TaskResultStatus.IN_PROGRESS and r.callback_after_seconds == 0 for r in handbacks())
    started = set(recorder.started_task_ids())
    assert len(started) == thread_count
    assert not started & {r.task_id for r in handbacks()}, "a handed-back task was started"
    assert pipeline.server.queue_size(pipeline.task_name()) == 6 - thread_count
    assert recorder.none_within(PollStarted, 0.3), "polled while every slot was busy"
    assert any("returned 5" in r.getMessage() and "handing 3 back" in r.getMessage() for r in caplog.records)

    GATES.open("held")
    pipeline.complete(workflow_ids)
    # Executions in flight, from the worker's own events: never more than thread_count.
    running = peak = 0
    for event in recorder.events:
        if isinstance(event, TaskExecutionStarted):
            running += 1
        elif isinstance(event, (TaskExecutionCompleted, TaskExecutionFailure)):
            running -= 1
        peak = max(peak, running)
    assert peak == thread_count
    assert len(recorder.of(TaskExecutionStarted)) == 6, "each task runs once"
    assert runner.failure is None


def test_polls_ask_for_exactly_the_free_slots(pipeline: PipelineHarness) -> None:
    workflow_ids = pipeline.start_workflows([{"gate": f"slot{i}"} for i in range(3)])
    recorder = pipeline.recorder

    pipeline.runner(pipeline.worker("hold", thread_count=3))
    recorder.wait_for(TaskExecutionStarted, 3)

    polls = recorder.of(PollStarted)
    assert [p.poll_count for p in polls] == [3]
    assert recorder.none_within(PollStarted, 0.3), "polled while every slot was busy"

    GATES.open("slot1")
    pipeline.complete(workflow_ids[1:2])
    next_poll = recorder.wait_for(PollStarted, 2)[1]
    assert next_poll.poll_count == 1

    GATES.open("slot0")
    GATES.open("slot2")
    pipeline.complete(workflow_ids)
    assert all(p.poll_count <= 3 for p in recorder.of(PollStarted))


def test_update_v2_chains_the_next_task_without_a_poll(pipeline: PipelineHarness) -> None:
    workflow_ids = pipeline.start_workflows([{"x": i} for i in range(5)])
    pipeline.server.reset_stats()

    pipeline.runner(pipeline.worker("echo", thread_count=1))
    pipeline.complete(workflow_ids)

    recorder = pipeline.recorder
    assert len(recorder.of(TaskExecutionStarted)) == 5
    assert sum(p.tasks_received for p in recorder.of(PollCompleted)) == 1, "only the first task may come from a poll"
    assert pipeline.server.stats()["update_v2"] == 5
