"""The benchmark worker for conductor_actors (`python -m conductor_actors apps.ours_app`).

With ``BENCH_HOST`` set (by the scale-out benchmark) each result names the tree that ran the task
and the execution, so that the server sees a task completed twice as a conflict: two results with
different outputs. Without it a result's output is empty, as in the official SDK's app.
"""

from __future__ import annotations

import itertools
import os
import time

from workloads import burn, selected

from conductor_actors import worker_task

W = selected()
OPTIONS = dict(task_definition_name=W.task_type, thread_count=W.thread_count, processes=W.processes)
HOST = os.environ.get("BENCH_HOST")
_executions = itertools.count(1)


def _output() -> dict:
    if HOST is None:
        return {}
    return {"host": HOST, "execution": f"{os.getpid()}-{next(_executions)}"}


if W.flavour == "async":
    import asyncio  # only here: a sync worker tree never loads asyncio

    @worker_task(**OPTIONS)
    async def work() -> dict:
        if W.sleep:
            await asyncio.sleep(W.sleep)
        return _output()

else:

    @worker_task(**OPTIONS)
    def work() -> dict:
        if W.sleep:
            time.sleep(W.sleep)
        if W.cpu:
            burn(W.cpu)
        return _output()
