"""Lease extension for tasks that outlive their responseTimeoutSeconds, and what happens without it
(both flavours)."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

import pytest

from conductor_actors import Worker, get_task_context
from conductor_actors.client import TaskResultStatus
from conductor_actors.events import TaskExecutionCompleted, TaskExecutionFailure, TaskExecutionStarted

if TYPE_CHECKING:
    from runtime.conftest import PipelineHarness

RESPONSE_TIMEOUT = 2
LONG_TASK = 3.0
LEASED_TASK = 4.0


def _register_short_response_timeout(pipeline: PipelineHarness) -> None:
    pipeline.server.register_task_def({
        "name": pipeline.task_name(),
        "responseTimeoutSeconds": RESPONSE_TIMEOUT,
        "retryCount": 1,
        "retryDelaySeconds": 0,
    })


def test_lease_extensions_come_every_80_percent_of_the_response_timeout_until_the_result(
    pipeline: PipelineHarness,
) -> None:
    """A 4 s task with responseTimeoutSeconds 2 is extended at 1.6 s and 3.2 s after it started,
    stays on its first attempt, and gets no extension after its result (the one due at 4.8 s is
    cancelled when the task ends at 4 s)."""
    _register_short_response_timeout(pipeline)
    workflow_ids = pipeline.start_workflows([{"seconds": LEASED_TASK}])
    client = pipeline.recording_client()

    pipeline.runner(pipeline.worker("nap"), client=client, lease_extend_enabled=True)
    pipeline.complete(workflow_ids, timeout=LEASED_TASK + 5)

    [task] = pipeline.server.get_workflow(workflow_ids[0])["tasks"]
    assert (task["status"], task["retryCount"]) == ("COMPLETED", 0)
    [(started, _)] = pipeline.recorder.timed(TaskExecutionStarted)
    interval = 0.8 * RESPONSE_TIMEOUT
    [final_at] = [at for _, result, at in client.results_for(task["taskId"]) if not result.extend_lease]
    # Had the lease keeper gone on, the next extension would have come at 3 intervals (4.8 s).
    assert not client.sent_before(started + 3 * interval + 0.5, lambda _, result, at: at > final_at), (
        "an update was sent after the result"
    )
    sent = client.results_for(task["taskId"])
    extensions = [at for _, result, at in sent if result.extend_lease]
    assert all(result.status == TaskResultStatus.IN_PROGRESS for _, result, _ in sent if result.extend_lease)
    assert [method for method, _, _ in sent] == ["update_task", "update_task", "update_task_v2"]
    # On time within generous bounds (a loaded 2-core machine may deliver a timer late).
    assert len(extensions) == 2, f"extensions at {[round(at - started, 2) for at in extensions]} s"
    assert interval - 0.05 <= extensions[0] - started <= interval + 0.7
    assert interval - 0.05 <= extensions[1] - extensions[0] <= interval + 0.7
    assert max(extensions) < final_at
    assert pipeline.server.stats()["update_v1"] == len(extensions)
    assert not pipeline.recorder.of(TaskExecutionFailure)


def test_without_lease_extension_a_task_outliving_its_response_timeout_is_retried(
    pipeline: PipelineHarness,
) -> None:
    _register_short_response_timeout(pipeline)
    workflow_ids = pipeline.start_workflows([{"seconds": LONG_TASK}])
    client = pipeline.recording_client()

    pipeline.runner(pipeline.worker("slow_first"), client=client)
    pipeline.complete(workflow_ids, timeout=LONG_TASK + 5)

    first, retry = pipeline.server.get_workflow(workflow_ids[0])["tasks"]
    assert (retry["status"], retry["retryCount"], retry["retriedTaskId"]) == ("COMPLETED", 1, first["taskId"])
    assert not any(result.extend_lease for _, result, _ in client.sent)
    sent = [result for _, result, _ in client.results_for(first["taskId"])]
    if pipeline.flavour == "sync":
        # A thread cannot be stopped: the server times the task out, the late result is ignored.
        assert first["status"] == "TIMED_OUT"
        late = [e for e in pipeline.recorder.of(TaskExecutionCompleted) if e.task_id == first["taskId"]]
        assert len(late) == 1 and late[0].duration_ms >= LONG_TASK * 1000
        assert [result.status for result in sent] == [TaskResultStatus.COMPLETED]
    else:
        # The coroutine is cancelled at the response timeout and reported FAILED at once.
        assert first["status"] in ("TIMED_OUT", "FAILED")  # whichever the server saw first
        [failure] = [e for e in pipeline.recorder.of(TaskExecutionFailure) if e.task_id == first["taskId"]]
        assert isinstance(failure.cause, TimeoutError)
        assert RESPONSE_TIMEOUT * 1000 <= failure.duration_ms < RESPONSE_TIMEOUT * 1000 + 500
        assert [result.status for result in sent] == [TaskResultStatus.FAILED]
        assert "responseTimeoutSeconds" in (sent[0].reason_for_incompletion or "")
        assert not [e for e in pipeline.recorder.of(TaskExecutionCompleted) if e.task_id == first["taskId"]]


#: (retry count, the coroutine's name, its pending cancellations) at each call of ``_overrun_first``.
_CALLS: list[tuple[int, str, int]] = []


async def _overrun_first(seconds: float) -> dict[str, Any]:
    """Outlives its response timeout on the first attempt; returns at once on the retry."""
    current = asyncio.current_task()
    assert current is not None
    retry_count = get_task_context().get_retry_count()
    _CALLS.append((retry_count, current.get_name(), current.cancelling()))
    if retry_count == 0:
        await asyncio.sleep(seconds)
    return {"retry_count": retry_count}


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.cancelling() is new in Python 3.11")
@pytest.mark.parametrize("flavour", ["async"])
def test_the_overdue_cancellation_is_withdrawn_before_the_coroutine_runs_the_next_task(
    pipeline: PipelineHarness,
) -> None:
    """The coroutine cancelled for an overdue task sends its FAILED result and runs the retry that
    update-v2 chains to it: the retry must not see the runtime's cancellation as pending (its own
    ``CancelledError`` would be taken for the runtime's, and asyncio's timeouts miscount)."""
    _register_short_response_timeout(pipeline)
    _CALLS.clear()
    workflow_ids = pipeline.start_workflows([{"seconds": LONG_TASK}])

    pipeline.runner(Worker(pipeline.task_name(), _overrun_first, thread_count=1))
    pipeline.complete(workflow_ids, timeout=LONG_TASK + 5)

    [(first_retry_count, first_on, _), (retry_count, retry_on, pending)] = _CALLS
    assert (first_retry_count, retry_count) == (0, 1)
    assert retry_on == first_on, "the retry was not chained to the failed result"
    assert pending == 0
