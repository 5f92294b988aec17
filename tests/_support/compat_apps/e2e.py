"""The official end-to-end worker example, written again with conductor_actors imports.

``python -m _support.compat_apps.e2e`` registers a workflow definition with the metadata client,
starts it with a ``StartWorkflowRequest`` through the workflow client, runs the workers with
``TaskHandler`` until Ctrl-C (SIGINT), then prints the workflow's final status, as the official
script does. Workers: an ``async def`` Fibonacci worker that awaits itself, a ``def`` long-running
worker that returns ``TaskInProgress`` until its third poll, an ``async def`` worker taking a nested
dataclass, and a ``def`` worker returning ``None``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional, Union

from conductor_actors import (
    Configuration,
    OrkesMetadataClient,
    OrkesWorkflowClient,
    StartWorkflowRequest,
    TaskHandler,
    TaskInProgress,
    WorkflowDef,
    get_task_context,
    worker_task,
)

WORKFLOW = "compat_e2e"


@worker_task(task_definition_name="compat_fibonacci", thread_count=10)
async def fibonacci(n: int) -> int:
    if n <= 1:
        return n
    return await fibonacci(n - 1) + await fibonacci(n - 2)


@worker_task(task_definition_name="compat_long_running", thread_count=2)
def long_running(job_id: str) -> Union[dict, TaskInProgress]:  # noqa: UP007 (the official example's spelling)
    ctx = get_task_context()
    polls = ctx.get_poll_count()
    ctx.add_log(f"job {job_id}: poll {polls}")
    if polls < 3:
        return TaskInProgress(callback_after_seconds=1, output={"job_id": job_id, "progress": polls * 30})
    return {"job_id": job_id, "status": "completed", "polls": polls}


@dataclass
class Address:
    city: str
    country: str = "USA"


@dataclass
class Order:
    order_id: str
    ship_to: Address
    quantity: int = 1


@worker_task(task_definition_name="compat_order")
async def process_order(order: Order, note: Optional[str] = None) -> dict:  # noqa: UP045
    return {"order_id": order.order_id, "city": order.ship_to.city, "country": order.ship_to.country,
            "quantity": order.quantity, "note": note}


@worker_task(task_definition_name="compat_audit")
def audit(order_id: str) -> None:
    get_task_context().add_log(f"audited {order_id}")


#: The workflow, as the JSON file the official example loads.
WORKFLOW_JSON = {
    "name": WORKFLOW,
    "version": 1,
    "schemaVersion": 2,
    "tasks": [
        {"name": "compat_fibonacci", "taskReferenceName": "fib", "type": "SIMPLE",
         "inputParameters": {"n": "${workflow.input.n}"}},
        {"name": "compat_long_running", "taskReferenceName": "long", "type": "SIMPLE",
         "inputParameters": {"job_id": "${workflow.input.job_id}"}},
        {"name": "compat_order", "taskReferenceName": "order", "type": "SIMPLE",
         "inputParameters": {"order": "${workflow.input.order}"}},
        {"name": "compat_audit", "taskReferenceName": "audit", "type": "SIMPLE",
         "inputParameters": {"order_id": "${order.output.order_id}"}},
    ],
    "outputParameters": {"fib": "${fib.output.result}", "polls": "${long.output.polls}",
                         "city": "${order.output.city}"},
}


def main() -> None:
    api_config = Configuration()
    metadata_client = OrkesMetadataClient(api_config)
    workflow_def = WorkflowDef(
        name=WORKFLOW_JSON["name"],
        version=WORKFLOW_JSON.get("version", 1),
        tasks=WORKFLOW_JSON.get("tasks", []),
        output_parameters=WORKFLOW_JSON.get("outputParameters", {}),
        schema_version=WORKFLOW_JSON.get("schemaVersion", 2),
        timeout_seconds=0,
    )
    metadata_client.register_workflow_def(workflow_def, overwrite=True)
    print(f"Registered workflow: {workflow_def.name} (version {workflow_def.version})", flush=True)

    workflow_client = OrkesWorkflowClient(api_config)
    start_request = StartWorkflowRequest()
    start_request.name = workflow_def.name
    start_request.version = workflow_def.version
    start_request.input = {"n": 10, "job_id": "job-1", "order": {"order_id": "o-1", "ship_to": {"city": "Oslo"}}}
    workflow_id = workflow_client.start_workflow(start_workflow_request=start_request)
    print(f"Workflow started: {workflow_id}", flush=True)

    try:
        with TaskHandler(configuration=api_config, scan_for_annotated_workers=True) as task_handler:
            task_handler.start_processes()
            task_handler.join_processes()
    except KeyboardInterrupt:
        print("Shutting down gracefully...", flush=True)
    finally:
        workflow = workflow_client.get_workflow(workflow_id, include_tasks=False)
        print(f"Final workflow status: {workflow.status}", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(processName)s %(process)d] %(name)s: %(message)s")
    main()
