"""The benchmark worker for the official Conductor Python SDK, started as its documentation shows.

Run with the official SDK's own interpreter: `python official_app.py <server api url>`.
"""

from __future__ import annotations

import asyncio
import sys
import time

from conductor.client.automator.task_handler import TaskHandler
from conductor.client.configuration.configuration import Configuration
from conductor.client.worker.worker_task import worker_task
from workloads import burn, selected

W = selected()

if W.flavour == "async":

    @worker_task(task_definition_name=W.task_type, thread_count=W.thread_count)
    async def work() -> dict:
        if W.sleep:
            await asyncio.sleep(W.sleep)
        return {}

else:

    @worker_task(task_definition_name=W.task_type, thread_count=W.thread_count)
    def work() -> dict:
        if W.sleep:
            time.sleep(W.sleep)
        if W.cpu:
            burn(W.cpu)
        return {}


if __name__ == "__main__":
    with TaskHandler(configuration=Configuration(server_api_url=sys.argv[1]), scan_for_annotated_workers=True) as h:
        h.start_processes()
        h.join_processes()
