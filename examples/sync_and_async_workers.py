"""Sync and async workers side by side: ``def`` runs on threads, ``async def`` on one event loop.

    python examples/sync_and_async_workers.py

The feature document's first workers: ``process_data`` (a plain ``def``, CPU work on a thread
pool), ``fetch_data`` (``async def`` with httpx; here it fetches from the dev server's own HTTP API
instead of the internet), and ``log_event`` / ``notify``, async workers that return ``None``
(explicitly or implicitly: their output is ``{}``). Starts the embedded dev server, runs the four
workers with ``TaskHandler`` (one process each, the runner picked from ``def`` / ``async def``),
runs a workflow through all four and prints each task's output.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import httpx

from conductor_actors import Configuration, TaskHandler, worker_task
from conductor_actors.devserver import DevServer

audit_log = logging.getLogger("examples.audit")

WORKFLOW: dict[str, Any] = {
    "name": "sync_and_async",
    "version": 1,
    "schemaVersion": 2,
    "tasks": [
        {"name": "process_data", "taskReferenceName": "process",
         "inputParameters": {"input_value": "${workflow.input.value}"}},
        {"name": "fetch_data", "taskReferenceName": "fetch", "inputParameters": {"url": "${workflow.input.url}"}},
        {"name": "log_event", "taskReferenceName": "log", "inputParameters": {"event": "${workflow.input.event}"}},
        {"name": "notify", "taskReferenceName": "notify",
         "inputParameters": {"message": "${workflow.input.event}"}},
    ],
    "outputParameters": {"result": "${process.output.result}", "fetched": "${fetch.output.data.name}"},
}


def expensive_computation(n: int) -> int:
    return sum(i * i for i in range(n + 1))


@worker_task(task_definition_name="process_data", thread_count=5)
def process_data(input_value: int) -> dict:
    """Sync: runs in one of the worker process's ``thread_count`` executor threads."""
    result = expensive_computation(input_value)
    return {"result": result}


@worker_task(task_definition_name="fetch_data", thread_count=50)
async def fetch_data(url: str) -> dict:
    """Async: a coroutine on the worker process's event loop; up to 50 run at once."""
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    response.raise_for_status()  # an HTTP error fails the task with the status in the reason
    return {"data": response.json()}


@worker_task(task_definition_name="log_event")
async def log_event(event: str) -> None:
    await asyncio.sleep(0.01)  # an async audit-log write
    audit_log.info("event: %s", event)
    return None  # the task completes with output {}


@worker_task(task_definition_name="notify")
async def notify(message: str):  # no return annotation and an implicit None, as in the feature document
    await asyncio.sleep(0.01)  # an async notification service call
    audit_log.info("notified: %s", message)


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with DevServer() as server:
        server.register_task_def({"name": "process_data", "description": "sum of squares up to input_value"})
        server.register_workflow(WORKFLOW)
        with TaskHandler(configuration=Configuration(server_api_url=server.url)) as handler:
            if not handler.wait_ready(timeout=30):
                print("workers did not start; see the log above", file=sys.stderr)
                return 1
            pids = {status.task_type: status.pid for status in handler.status()}
            for worker in handler.workers:
                name = worker.get_task_definition_name()
                runner = "async def: one event loop" if worker.is_async else "def: a thread pool"
                print(f"worker {name:<13} pid {pids[name]:<7} ({runner})")
            workflow_id = server.start_workflow(WORKFLOW["name"], {
                "value": 10,
                "url": f"{server.url}/metadata/taskdefs/process_data",  # the dev server's own API
                "event": "order 42 shipped",
            })
            server.wait_for_workflows([workflow_id], timeout=30)
        workflow = server.get_workflow(workflow_id)
    for task in workflow["tasks"]:
        output = str(task["outputData"])
        output = output if len(output) <= 100 else output[:100] + "..."
        print(f"  {task['taskType']:<13} {task['status']:<10} output={output}")
    print(f"workflow {workflow['status']}: output={workflow['output']}")
    return 0 if workflow["status"] == "COMPLETED" else 1


if __name__ == "__main__":
    sys.exit(main())
