"""``failed_outcome``: the FAILED result of a task whose exception escaped ``execute_async`` (an
async task's own ``CancelledError`` on Python 3.10, which cannot be told from the runtime's there)."""

from __future__ import annotations

import asyncio

from conductor_actors import Task, TaskResultStatus
from conductor_actors.worker import BoundWorker, Worker, failed_outcome


async def gives_up() -> dict:
    raise asyncio.CancelledError("the library gave up")


def test_a_cancelled_error_that_escaped_execution_fails_its_task() -> None:
    """On Python 3.10 an async task's own ``CancelledError`` escapes ``execute_async`` (it cannot
    be told from the runtime's); the executor, which knows it did not cancel, fails the task."""
    task = Task(task_id="t-1", workflow_instance_id="wf-1", task_def_name="gives_up", status="IN_PROGRESS",
                input_data={})
    bound = BoundWorker(Worker("gives_up", gives_up), "w")
    outcome = failed_outcome(bound, task, asyncio.CancelledError("the library gave up"), lambda: False)
    assert outcome.failed and outcome.result.status is TaskResultStatus.FAILED
    assert outcome.result.reason_for_incompletion == "CancelledError: the library gave up"
    assert (outcome.result.task_id, outcome.result.workflow_instance_id) == ("t-1", "wf-1")
