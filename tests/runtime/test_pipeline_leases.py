"""Lease extension for tasks that outlive their responseTimeoutSeconds, and what happens without it
(both flavours)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conductor_actors.client import TaskResultStatus
from conductor_actors.events import TaskExecutionCompleted, TaskExecutionFailure

if TYPE_CHECKING:
    from runtime.conftest import PipelineHarness

RESPONSE_TIMEOUT = 2
LONG_TASK = 3.0


def _register_short_response_timeout(pipeline: PipelineHarness) -> None:
    pipeline.server.register_task_def({
        "name": pipeline.task_name(),
        "responseTimeoutSeconds": RESPONSE_TIMEOUT,
        "retryCount": 1,
        "retryDelaySeconds": 0,
    })


def test_lease_extension_keeps_a_long_task_on_its_first_attempt(pipeline: PipelineHarness) -> None:
    _register_short_response_timeout(pipeline)
    workflow_ids = pipeline.start_workflows([{"seconds": LONG_TASK}])
    client = pipeline.recording_client()

    pipeline.runner(pipeline.worker("nap"), client=client, lease_extend_enabled=True)
    pipeline.complete(workflow_ids, timeout=LONG_TASK + 5)

    [task] = pipeline.server.get_workflow(workflow_ids[0])["tasks"]
    assert (task["status"], task["retryCount"]) == ("COMPLETED", 0)
    extensions = [result for method, result, _ in client.results_for(task["taskId"]) if result.extend_lease]
    assert extensions, "no extendLease update was sent"
    assert all(result.status == TaskResultStatus.IN_PROGRESS for result in extensions)
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
