"""Feature document, "Concurrency": one async worker with 100 tasks in flight."""
# From the feature document (worker-architecture v4.1), section "Thread Count / Concurrency", as
# written there; only the import lines were changed (and added where the snippet uses a name it does
# not import).

from __future__ import annotations

import httpx

from conductor_actors import worker_task


# Async worker with 100 concurrent tasks
@worker_task(task_definition_name='api_calls', thread_count=100)
async def make_api_call(url: str) -> dict:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
        return response.json()

# Only 1 thread (event loop) handles all 100 concurrent tasks!
# vs TaskRunner: would need 100 threads
