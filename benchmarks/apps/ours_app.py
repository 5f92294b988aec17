"""The benchmark worker for conductor_actors (`python -m conductor_actors apps.ours_app`)."""

from __future__ import annotations

import time

from workloads import burn, selected

from conductor_actors import worker_task

W = selected()
OPTIONS = dict(task_definition_name=W.task_type, thread_count=W.thread_count, processes=W.processes)

if W.flavour == "async":
    import asyncio  # only here: a sync worker tree never loads asyncio

    @worker_task(**OPTIONS)
    async def work() -> dict:
        if W.sleep:
            await asyncio.sleep(W.sleep)
        return {}

else:

    @worker_task(**OPTIONS)
    def work() -> dict:
        if W.sleep:
            time.sleep(W.sleep)
        if W.cpu:
            burn(W.cpu)
        return {}
