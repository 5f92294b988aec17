"""Feature document, "Worker model": a sync worker and an async worker."""
# From the feature document (worker-architecture v4.1), section "Worker model", as written there;
# only the import lines were changed (and added where the snippet uses a name it does not import).

from __future__ import annotations

import httpx

from conductor_actors import worker_task

from ._doc_names import expensive_computation


@worker_task(task_definition_name='process_data', thread_count=5)
def process_data(input_value: int) -> dict:
    result = expensive_computation(input_value)
    return {'result': result}


@worker_task(task_definition_name='fetch_data', thread_count=50)
async def fetch_data(url: str) -> dict:
    # Automatically runs as non-blocking coroutine
    # Higher concurrency for I/O-bound workloads
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
        return {'data': response.json()}
