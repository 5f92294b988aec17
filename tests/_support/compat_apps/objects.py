"""Workers defined the ways official-SDK code defines them, for ``python -m conductor_actors``.

Module level, for the flavour ``CLI_APPS_FLAVOUR`` asks for: a ``Worker(...)`` object of a plain
function, an instance of a ``WorkerInterface`` subclass, an instance of a subclass of that class
inside a list, and one ``@worker_task`` function. Each answers with its own mark, so a test can
tell which of them ran a task.
"""

from __future__ import annotations

from typing import Any

from conductor_actors import Task, TaskResult, TaskResultStatus, Worker, WorkerInterface, worker_task

from ..cli_apps import current_flavour
from . import CLASS_TASK, DECORATED_TASK, FUNCTION_TASK, LISTED_TASK


def triple(n: int) -> dict[str, Any]:
    return {"value": n * 3, "by": "Worker object", "flavour": "sync"}


async def triple_async(n: int) -> dict[str, Any]:
    return {"value": n * 3, "by": "Worker object", "flavour": "async"}


def _answer(worker: WorkerInterface, task: Task, by: str, flavour: str) -> TaskResult:
    result = worker.get_task_result_from_task(task)
    result.status = TaskResultStatus.COMPLETED
    result.output_data = {"value": task.input_data["n"] * 3, "by": by, "flavour": flavour}
    return result


class Tripler(WorkerInterface):
    def execute(self, task: Task) -> TaskResult:
        return _answer(self, task, type(self).__name__, "sync")


class AsyncTripler(WorkerInterface):
    async def execute(self, task: Task) -> TaskResult:
        return _answer(self, task, type(self).__name__, "async")


class ListedTripler(Tripler):
    pass


class ListedAsyncTripler(AsyncTripler):
    pass


def decorated(n: int) -> dict[str, Any]:
    return {"value": n * 3, "by": "@worker_task", "flavour": "sync"}


async def decorated_async(n: int) -> dict[str, Any]:
    return {"value": n * 3, "by": "@worker_task", "flavour": "async"}


if current_flavour() == "sync":
    function_worker = Worker(FUNCTION_TASK, triple)
    class_worker: WorkerInterface = Tripler(CLASS_TASK)
    workers = [ListedTripler(LISTED_TASK)]
    worker_task(task_definition_name=DECORATED_TASK)(decorated)
else:
    function_worker = Worker(FUNCTION_TASK, triple_async)
    class_worker = AsyncTripler(CLASS_TASK)
    workers = [ListedAsyncTripler(LISTED_TASK)]
    worker_task(task_definition_name=DECORATED_TASK)(decorated_async)
