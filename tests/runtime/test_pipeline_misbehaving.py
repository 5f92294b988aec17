"""Worker functions that misbehave (raise, return what JSON cannot carry, block, burn CPU) fail or
slow down their own task only: the pipeline keeps polling, executing and reporting (both flavours)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _support.pipeline_workers import GATES
from _support.waiting import wait_until

from conductor_actors.events import PollStarted, TaskExecutionFailure, TaskExecutionStarted

if TYPE_CHECKING:
    from runtime.conftest import PipelineHarness

#: Seconds each CPU-heavy task keeps a core busy.
BURN = 1.5


@pytest.mark.parametrize(
    ("mood", "status", "reason"),
    [
        ("raise", "FAILED", "moody worker raised for 0"),
        ("unserialisable", "FAILED_WITH_TERMINAL_ERROR", "output is not JSON-serialisable: value at 'handle'"),
    ],
    ids=["raises", "unserialisable"],
)
def test_a_misbehaving_function_fails_its_own_task_and_the_worker_goes_on(
    pipeline: PipelineHarness, mood: str, status: str, reason: str
) -> None:
    pipeline.server.register_task_def({"name": pipeline.task_name(), "retryCount": 0})
    bad, *good = pipeline.start_workflows([{"mood": mood, "x": 0}] + [{"mood": "ok", "x": i} for i in range(1, 6)])

    runner = pipeline.runner(pipeline.worker("moody", thread_count=1))
    statuses = pipeline.server.wait_for_workflows([bad, *good], 10)

    assert statuses == {bad: "FAILED", **dict.fromkeys(good, "COMPLETED")}
    task = pipeline.only_task(bad)
    assert task["status"] == status
    assert task["reasonForIncompletion"].startswith(reason)
    [failure] = pipeline.recorder.of(TaskExecutionFailure)
    assert failure.task_id == task["taskId"]
    assert [pipeline.only_task(w)["outputData"] for w in good] == [{"y": i} for i in range(1, 6)]
    wait_until(lambda: len(runner.ledger) == 0, what="every result to be settled")
    assert runner.failure is None, "a misbehaving worker function failed a pipeline stage"


def test_a_task_that_blocks_for_long_does_not_hold_up_the_other_slots(pipeline: PipelineHarness) -> None:
    blocked = pipeline.start_workflows([{"mood": "block", "x": "long"}])
    runner = pipeline.runner(pipeline.worker("moody", thread_count=2))
    pipeline.recorder.wait_for(TaskExecutionStarted)

    others = pipeline.start_workflows([{"mood": "ok", "x": i} for i in range(10)])
    pipeline.complete(others)
    assert pipeline.only_task(blocked[0])["status"] == "IN_PROGRESS"

    GATES.open("long")
    pipeline.complete(blocked)
    assert runner.failure is None


def test_cpu_heavy_tasks_leave_the_poller_and_the_updater_alive(pipeline: PipelineHarness) -> None:
    burning = pipeline.start_workflows([{"seconds": BURN}] * 2)
    settings = pipeline.settings(heartbeat_interval=0.25)
    runner = pipeline.runner(pipeline.worker("burn", thread_count=3), settings=settings)
    recorder = pipeline.recorder
    recorder.wait_for(TaskExecutionStarted, 2)
    polls_before = recorder.count(PollStarted)
    oldest = {"poller": 0.0, "updater": 0.0}

    def sample_until_both_finished() -> bool:
        ages = dict(runner.liveness.ages())
        for stage in oldest:
            oldest[stage] = max(oldest[stage], ages[stage])
        return len(recorder.finished_task_ids()) == 2

    wait_until(sample_until_both_finished, what="the CPU-heavy tasks to finish")
    pipeline.complete(burning)

    # Beats come every 0.25 s; a loop starved for the whole burn would show an age of at least BURN.
    assert max(oldest.values()) < BURN - 0.25, f"stage loops starved while the CPU burned: oldest beats {oldest}"
    assert recorder.count(PollStarted) - polls_before >= 3, "the free slot was not polled for while the CPU burned"
    assert runner.failure is None
