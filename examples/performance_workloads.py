"""Picking the worker type for the workload: the feature document's four performance workers.

    python examples/performance_workloads.py [--workflows 8]

- ``compute_task`` (CPU-bound): a ``def`` with a low ``thread_count`` (4); the GIL limits CPU
  parallelism inside one process, so scale CPU work with more processes, not more threads.
- ``file_task`` (blocking I/O: file reads, subprocesses, legacy libraries): a ``def`` with a higher
  ``thread_count`` (20); a blocked thread does not stop the others.
- ``api_task`` (non-blocking I/O: HTTP, databases): an ``async def`` with high concurrency (50), all
  on one event loop; here it calls the dev server's own HTTP API instead of the internet.
- ``mixed_task`` (HTTP plus some CPU work, which runs on the event loop): an ``async def`` with
  moderate concurrency (10).

Starts the embedded dev server, runs the four workers with ``TaskHandler`` (one process each, the
runner picked from ``def`` / ``async def``), runs a few workflows that use all four, and prints for
each worker how it runs and what its tasks did, then one workflow's output.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from conductor_actors import Configuration, TaskHandler, worker_task
from conductor_actors.devserver import DevServer

WORKFLOW: dict[str, Any] = {
    "name": "workloads",
    "version": 1,
    "schemaVersion": 2,
    "tasks": [
        {"name": "compute_task", "taskReferenceName": "compute",
         "inputParameters": {"data": "${workflow.input.numbers}"}},
        {"name": "file_task", "taskReferenceName": "file", "inputParameters": {"file_path": "${workflow.input.file}"}},
        {"name": "api_task", "taskReferenceName": "api", "inputParameters": {"url": "${workflow.input.url}"}},
        {"name": "mixed_task", "taskReferenceName": "mixed", "inputParameters": {"url": "${workflow.input.url}"}},
    ],
    "outputParameters": {
        "sum_of_squares": "${compute.output.result}",
        "file": "${file.output.data}",
        "task_def": "${api.output.data.name}",
        "digest": "${mixed.output.result}",
    },
}


def expensive_computation(data: list) -> int:
    """CPU work: the sum of the squares of the numbers."""
    return sum(n * n for n in data)


def process_data(payload: Any) -> dict:
    """The CPU part of ``mixed_task``: a digest of a JSON document."""
    return {"keys": len(payload), "name": payload.get("name")} if isinstance(payload, dict) else {"keys": 0}


# CPU-bound: a sync worker with a low thread_count.
@worker_task(task_definition_name="compute_task", thread_count=4)
def cpu_task(data: list) -> dict:
    result = expensive_computation(data)
    return {"result": result}


# I/O-bound sync: a sync worker with a higher thread_count.
@worker_task(task_definition_name="file_task", thread_count=20)
def io_sync(file_path: str) -> dict:
    with open(file_path) as f:  # blocking I/O, in one of the 20 executor threads
        data = f.read()
    return {"data": data}


# I/O-bound async: an async worker with high concurrency (recommended for HTTP calls and databases).
@worker_task(task_definition_name="api_task", thread_count=50)
async def io_async(url: str) -> dict:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)  # non-blocking I/O
    response.raise_for_status()
    return {"data": response.json()}


# Mixed workload: an async worker with moderate concurrency.
@worker_task(task_definition_name="mixed_task", thread_count=10)
async def mixed_task(url: str) -> dict:
    async with httpx.AsyncClient() as client:
        data = await client.get(url)
    data.raise_for_status()
    processed = process_data(data.json())  # some CPU work, on the event loop
    return {"result": processed}


def write_input_files(directory: Path, count: int) -> list[str]:
    """One small file per workflow for ``file_task`` to read."""
    paths = []
    for number in range(count):
        path = directory / f"order-{number}.txt"
        path.write_text(f"order {number}: {number + 1} item(s)")
        paths.append(str(path))
    return paths


def summarise(server: DevServer, handler: TaskHandler) -> None:
    """One line per worker: how it runs and what its tasks did on the server."""
    pids = {status.task_type: status.pid for status in handler.status()}
    for worker in handler.workers:
        name = worker.get_task_definition_name()
        config = handler.configs[id(worker)]
        runner = "async def: one event loop" if worker.is_async else "def: a thread pool"
        tasks = server.tasks(task_type=name)
        statuses = sorted({task["status"] for task in tasks})
        slowest = max((task["endTime"] - task["startTime"] for task in tasks if task.get("endTime")), default=0)
        print(f"{name:<13} {runner:<26} thread_count={config.thread_count:<3} pid {pids[name]:<7} "
              f"{len(tasks)} task(s) {'/'.join(statuses)}, slowest {slowest} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=8, help="how many workflows to run (default 8)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    with DevServer() as server, tempfile.TemporaryDirectory() as directory:
        server.register_task_def({"name": "compute_task", "description": "sum of squares"})
        server.register_workflow(WORKFLOW)
        files = write_input_files(Path(directory), args.workflows)
        with TaskHandler(configuration=Configuration(server_api_url=server.url)) as handler:
            if not handler.wait_ready(timeout=30):
                print("workers did not start; see the log above", file=sys.stderr)
                return 1
            ids = [
                server.start_workflow(WORKFLOW["name"], {
                    "numbers": list(range(number + 2)),
                    "file": files[number],
                    "url": f"{server.url}/metadata/taskdefs/compute_task",  # the dev server's own API
                })
                for number in range(args.workflows)
            ]
            try:
                statuses = server.wait_for_workflows(ids, timeout=30)
            except TimeoutError as exc:
                print(f"workflows did not finish: {exc}", file=sys.stderr)
                return 1
            summarise(server, handler)
        completed = sum(status == "COMPLETED" for status in statuses.values())
        print(f"workflows: {completed} of {len(ids)} COMPLETED")
        last = server.get_workflow(ids[-1], include_tasks=False)
    print(f"last workflow {last['status']}: output={last['output']}")
    return 0 if completed == len(ids) else 1


if __name__ == "__main__":
    sys.exit(main())
