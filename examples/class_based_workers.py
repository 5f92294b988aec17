"""Class-based workers: subclass ``WorkerInterface`` and implement ``execute``, sync or ``async def``.

    python examples/class_based_workers.py

``ReverseText.execute`` is a plain method that builds and returns a ``TaskResult`` (the official
SDK's style); ``CountWords.execute`` is ``async def`` and returns a dict, like a function worker
(the official SDK 2.0 fails every task of an async class worker; here it runs on the worker's event
loop). Properties are constructor keywords or class attributes. The script first runs each worker
once with ``run_task`` (no server, no process: how you unit-test them), then runs both with
``TaskHandler`` against the embedded dev server.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from conductor_actors import Configuration, Task, TaskHandler, TaskResult, TaskResultStatus, WorkerInterface
from conductor_actors.devserver import DevServer
from conductor_actors.testing import run_task


class ReverseText(WorkerInterface):
    """A sync worker: ``execute`` runs in one of the worker process's executor threads."""

    def __init__(self) -> None:
        super().__init__("reverse_text", thread_count=4)

    def execute(self, task: Task) -> TaskResult:
        result = self.get_task_result_from_task(task)
        result.status = TaskResultStatus.COMPLETED
        result.output_data = {"reversed": task.input_data["text"][::-1]}
        return result


class CountWords(WorkerInterface):
    """An async worker: ``execute`` is a coroutine on the worker process's event loop."""

    task_definition_name = "count_words"
    thread_count = 20

    async def execute(self, task: Task) -> dict:
        await asyncio.sleep(0.01)  # e.g. an async database lookup
        return {"words": len(task.input_data["text"].split())}


WORKFLOW: dict[str, Any] = {
    "name": "text_stats",
    "version": 1,
    "schemaVersion": 2,
    "tasks": [
        {"name": "reverse_text", "taskReferenceName": "reverse", "inputParameters": {"text": "${workflow.input.text}"}},
        {"name": "count_words", "taskReferenceName": "count", "inputParameters": {"text": "${workflow.input.text}"}},
    ],
    "outputParameters": {"reversed": "${reverse.output.reversed}", "words": "${count.output.words}"},
}


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for example in (ReverseText(), CountWords()):
        result = run_task(example, {"text": "unit tests need no server"})
        print(f"run_task({type(example).__name__}): {result.status!s} {result.output_data}")

    with DevServer() as server:
        server.register_workflow(WORKFLOW)
        handler = TaskHandler(configuration=Configuration(server_api_url=server.url),
                              workers=[ReverseText(), CountWords()])
        with handler:
            if not handler.wait_ready(timeout=30):
                print("workers did not start; see the log above", file=sys.stderr)
                return 1
            for worker in handler.workers:
                print(f"worker {worker.get_task_definition_name()}: {'async' if worker.is_async else 'sync'} execute")
            workflow_id = server.start_workflow(WORKFLOW["name"], {"text": "class workers run in their own process"})
            server.wait_for_workflows([workflow_id], timeout=30)
        workflow = server.get_workflow(workflow_id)
    print(f"workflow {workflow['status']}: {workflow['output']}")
    return 0 if workflow["status"] == "COMPLETED" else 1


if __name__ == "__main__":
    sys.exit(main())
