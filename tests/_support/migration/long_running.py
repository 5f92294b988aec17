"""Feature document, "Long-Running Tasks": TaskInProgress for checkpoints and external polling."""
# From the feature document (worker-architecture v4.1), section "Long-Running Tasks & Lease
# Extension", as written there; only the import lines were changed (and added where the snippet uses
# a name it does not import).
# ruff: noqa: UP007 - the document writes Union[...]

from __future__ import annotations

from typing import Union

from conductor_actors import TaskInProgress, get_task_context, worker_task

from ._doc_names import check_approval_system, process_next_100_items


@worker_task(task_definition_name='batch_processor')
def process_batch(batch_id: str) -> Union[dict, TaskInProgress]:
    ctx = get_task_context()
    poll_count = ctx.get_poll_count()

    # Process 100 items per poll
    processed = process_next_100_items(batch_id, offset=poll_count * 100)

    if processed < 100:
        # All done
        return {'status': 'completed', 'total_processed': poll_count * 100 + processed}
    else:
        # More work to do - extend lease
        return TaskInProgress(
            callback_after_seconds=30,  # Re-queue in 30s
            output={'progress': poll_count * 100 + processed}
        )


@worker_task(task_definition_name='wait_for_approval')
def wait_for_approval(request_id: str) -> Union[dict, TaskInProgress]:
    approval_status = check_approval_system(request_id)

    if approval_status == 'PENDING':
        # Still waiting - extend lease
        return TaskInProgress(
            callback_after_seconds=30,
            output={'status': 'waiting'}
        )
    elif approval_status == 'APPROVED':
        return {'status': 'approved'}
    else:
        raise Exception(f"Request rejected: {approval_status}")
