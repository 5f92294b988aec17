"""Slots, polls and update-v2 chaining: how much HTTP a worker needs per task (both flavours)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from _support.pipeline_workers import GATES

from conductor_actors.events import PollCompleted, PollStarted, TaskExecutionCompleted, TaskExecutionStarted

if TYPE_CHECKING:
    from runtime.conftest import PipelineHarness


def test_a_backlog_completes_with_about_one_request_per_task(pipeline: PipelineHarness) -> None:
    tasks = 300
    workflow_ids = pipeline.start_workflows([{"x": i} for i in range(tasks)])
    pipeline.server.reset_stats()

    pipeline.runner(pipeline.worker("echo", thread_count=5))
    pipeline.complete(workflow_ids, timeout=30)

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
