"""Greeting workers: one sync, one async."""

from __future__ import annotations

import asyncio

from conductor_actors import worker_task


@worker_task(task_definition_name="greet_sync", thread_count=10)
def greet_sync(name: str) -> dict:
    return {"greeting": f"Hello, {name}!"}


@worker_task(task_definition_name="greet_async", thread_count=50)
async def greet_async(greeting: str) -> dict:
    await asyncio.sleep(0.01)
    return {"greeting": greeting.replace("Hello", "Hello again")}
