"""Long-running tasks: checkpoint with ``TaskInProgress``, wait on an external system, extend the lease.

    python examples/long_running_tasks.py

Three patterns from the feature document, against the embedded dev server:

- ``batch_processor`` handles 100 items per execution and returns ``TaskInProgress`` until the batch
  is done; the server hands the task out again after ``callback_after_seconds`` (1 s here) with
  ``pollCount`` one higher, and the output so far is kept.
- ``wait_for_approval`` checks an approval system (a directory of decision files, written by this
  script while the task waits) and stays IN_PROGRESS while the request is PENDING; an approved
  request completes, a rejected one fails.
- ``build_report`` runs for 2.5 s although its task definition allows 1 s between updates
  (``responseTimeoutSeconds``): with ``lease_extend_enabled=True`` the worker tells the server it
  is still working every 0.8 s (80% of the timeout), so the task is not timed out and retried.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from conductor_actors import Configuration, TaskHandler, TaskInProgress, get_task_context, worker_task
from conductor_actors.devserver import DevServer

#: Where the "approval system" keeps its decisions (one file per request); set by main().
APPROVALS_VARIABLE = "EXAMPLE_APPROVALS_DIR"
CALLBACK_SECONDS = 1


def process_next_100_items(batch_id: str, offset: int, total_items: int) -> int:
    """Process up to 100 items of the batch from ``offset``; returns how many were processed."""
    return max(0, min(100, total_items - offset))


@worker_task(task_definition_name="batch_processor")
def process_batch(batch_id: str, total_items: int) -> dict | TaskInProgress:
    ctx = get_task_context()
    poll_count = ctx.get_poll_count()  # 1 on the first execution, 2 on the next...
    offset = (poll_count - 1) * 100
    processed = process_next_100_items(batch_id, offset, total_items)
    ctx.add_log(f"processed items {offset}..{offset + processed - 1} of {batch_id}")
    if processed < 100:
        return {"status": "completed", "total_processed": offset + processed}
    # More work to do: come back in CALLBACK_SECONDS with the progress so far
    return TaskInProgress(callback_after_seconds=CALLBACK_SECONDS, output={"progress": offset + processed})


def check_approval_system(request_id: str) -> str:
    decision = Path(os.environ[APPROVALS_VARIABLE]) / request_id
    return decision.read_text().strip() if decision.exists() else "PENDING"


@worker_task(task_definition_name="wait_for_approval")
def wait_for_approval(request_id: str) -> dict | TaskInProgress:
    approval_status = check_approval_system(request_id)
    if approval_status == "PENDING":
        return TaskInProgress(callback_after_seconds=CALLBACK_SECONDS, output={"status": "waiting"})
    if approval_status == "APPROVED":
        return {"status": "approved"}
    raise Exception(f"Request rejected: {approval_status}")


@worker_task(task_definition_name="build_report", lease_extend_enabled=True)
def build_report(pages: int) -> dict:
    started = time.monotonic()
    time.sleep(2.5)  # longer than responseTimeoutSeconds: the lease is extended meanwhile
    return {"pages": pages, "seconds": round(time.monotonic() - started, 1)}


def single_task_workflow(task_name: str, *inputs: str) -> dict:
    return {"name": f"{task_name}_flow", "version": 1, "schemaVersion": 2, "tasks": [{
        "name": task_name, "taskReferenceName": task_name,
        "inputParameters": {name: f"${{workflow.input.{name}}}" for name in inputs}}]}


def wait_until_waiting(server: DevServer, workflow_id: str, timeout: float = 30.0) -> None:
    """Until the approval task of ``workflow_id`` reported it is waiting (IN_PROGRESS, callback set)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tasks = server.get_workflow(workflow_id)["tasks"]
        if tasks and tasks[0]["outputData"].get("status") == "waiting":
            return
        time.sleep(0.05)
    raise TimeoutError(f"the approval task of {workflow_id} never reported it is waiting")


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    approvals = Path(tempfile.mkdtemp(prefix="approvals-"))
    os.environ[APPROVALS_VARIABLE] = str(approvals)  # the worker processes inherit it
    with DevServer() as server:
        server.register_task_def({"name": "build_report", "responseTimeoutSeconds": 1, "retryCount": 0})
        server.register_task_def({"name": "wait_for_approval", "retryCount": 0})  # a rejection is final
        for workflow in (single_task_workflow("batch_processor", "batch_id", "total_items"),
                         single_task_workflow("wait_for_approval", "request_id"),
                         single_task_workflow("build_report", "pages")):
            server.register_workflow(workflow)
        with TaskHandler(configuration=Configuration(server_api_url=server.url)) as handler:
            if not handler.wait_ready(timeout=30):
                print("workers did not start; see the log above", file=sys.stderr)
                return 1
            started = time.monotonic()
            ids = {
                "batch of 250 items": server.start_workflow("batch_processor_flow",
                                                            {"batch_id": "batch-7", "total_items": 250}),
                "request approved": server.start_workflow("wait_for_approval_flow", {"request_id": "req-1"}),
                "request rejected": server.start_workflow("wait_for_approval_flow", {"request_id": "req-2"}),
                "report (lease extended)": server.start_workflow("build_report_flow", {"pages": 12}),
            }
            for label, decision in (("request approved", "APPROVED"), ("request rejected", "REJECTED")):
                wait_until_waiting(server, ids[label])
                (approvals / server.get_workflow(ids[label])["input"]["request_id"]).write_text(decision)
            statuses = server.wait_for_workflows(list(ids.values()), timeout=30)
            elapsed = time.monotonic() - started
        for label, workflow_id in ids.items():
            task = server.get_workflow(workflow_id)["tasks"][0]
            outcome = task["outputData"] if task["status"] == "COMPLETED" else task["reasonForIncompletion"]
            print(f"{label}: {task['taskType']} {task['status']} after {task['pollCount']} execution(s): {outcome}")
    print(f"all done in {elapsed:.1f} s (build_report has responseTimeoutSeconds=1 and no retries: without the "
          "lease extension it would have timed out)")
    expected = {"batch of 250 items": "COMPLETED", "request approved": "COMPLETED", "request rejected": "FAILED",
                "report (lease extended)": "COMPLETED"}
    return 0 if all(statuses[ids[label]] == status for label, status in expected.items()) else 1


if __name__ == "__main__":
    sys.exit(main())
