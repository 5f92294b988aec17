"""Feature document, "Implementation Details" of the AsyncTaskRunner: async workers, None results."""
# From the feature document (worker-architecture v4.1), section "Implementation Details", as written
# there; only the import lines were changed (and added where the snippet uses a name it does not import).

from __future__ import annotations

import httpx

from conductor_actors import worker_task

from ._doc_names import logger, send_notification


# Async worker - automatically uses AsyncTaskRunner
@worker_task(task_definition_name='fetch_data', thread_count=50)
async def fetch_data(url: str) -> dict:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
        return response.json()


# Can also return None explicitly
@worker_task(task_definition_name='log_event')
async def log_event(event: str) -> None:
    await logger.log(event)
    return None  # This works correctly!


# Or no return statement (implicit None)
@worker_task(task_definition_name='notify')
async def notify(message: str):
    await send_notification(message)
    # Implicit None return - works correctly!
