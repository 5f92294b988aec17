"""The official hello-world workers, written again with conductor_actors imports: one ``def`` and
one ``async def`` greeting worker, run with ``python -m conductor_actors``."""

from __future__ import annotations

from conductor_actors import worker_task

from . import GREET_ASYNC_TASK, GREET_TASK


@worker_task(task_definition_name=GREET_TASK)
def greet(name: str) -> str:
    return f"Hello, {name}"


@worker_task(task_definition_name=GREET_ASYNC_TASK)
async def greet_async(name: str) -> str:
    return f"Hello, {name} (async)"
