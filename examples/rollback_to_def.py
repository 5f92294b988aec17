"""Rolling an async worker back to a ``def``: the feature document's (not recommended) escape hatch.

    python examples/rollback_to_def.py

If an ``async def`` worker misbehaves on the event-loop runner, changing ``async def`` to ``def``
and wrapping the coroutine in ``asyncio.run`` makes it run on the thread-pool runner instead, with
no other change. It works, but every task now starts and closes an event loop of its own in an
executor thread, which defeats the purpose of async: use it only to debug.

Starts the embedded dev server, runs the rolled-back ``fetch_data`` with ``TaskHandler``, runs a
few workflows that fetch documents from the dev server's own HTTP API, and prints how the worker
ran and what each task returned.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import Any

import httpx

from conductor_actors import Configuration, TaskHandler, worker_task
from conductor_actors.devserver import DevServer

WORKFLOW: dict[str, Any] = {
    "name": "fetch_document",
    "version": 1,
    "schemaVersion": 2,
    "tasks": [
        {"name": "fetch_data", "taskReferenceName": "fetch", "inputParameters": {"url": "${workflow.input.url}"}},
    ],
    "outputParameters": {"fetched": "${fetch.output.name}"},
}

DOCUMENTS = ("fetch_data", "charge_payment", "send_confirmation")


async def actual_async_work(url: str) -> dict:
    """The original coroutine: fetch a JSON document (and say which thread ran its event loop)."""
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    response.raise_for_status()
    return {"name": response.json()["name"], "thread": threading.current_thread().name}


# Temporary rollback (not recommended)
@worker_task(task_definition_name="fetch_data")
def fetch_data(url: str) -> dict:  # changed from async def: runs on the thread-pool runner
    return asyncio.run(actual_async_work(url))  # a new event loop for every task


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with DevServer() as server:
        for name in DOCUMENTS:
            server.register_task_def({"name": name, "description": f"the {name} task"})
        server.register_workflow(WORKFLOW)
        with TaskHandler(configuration=Configuration(server_api_url=server.url)) as handler:
            if not handler.wait_ready(timeout=30):
                print("workers did not start; see the log above", file=sys.stderr)
                return 1
            (worker,) = handler.workers
            (status,) = handler.status()
            runner = "async def: one event loop" if worker.is_async else "def: a thread pool"
            print(f"worker fetch_data pid {status.pid} ({runner})")
            ids = [server.start_workflow(WORKFLOW["name"], {"url": f"{server.url}/metadata/taskdefs/{name}"})
                   for name in DOCUMENTS]
            try:
                server.wait_for_workflows(ids, timeout=30)
            except TimeoutError as exc:
                print(f"workflows did not finish: {exc}", file=sys.stderr)
                return 1
        workflows = [server.get_workflow(workflow_id) for workflow_id in ids]
    for workflow in workflows:
        (task,) = workflow["tasks"]
        print(f"  fetch_data {task['status']:<9} output={task['outputData']}")
    completed = sum(workflow["status"] == "COMPLETED" for workflow in workflows)
    print(f"workflows: {completed} of {len(workflows)} COMPLETED, each task on its own asyncio.run event loop")
    return 0 if completed == len(workflows) else 1


if __name__ == "__main__":
    sys.exit(main())
