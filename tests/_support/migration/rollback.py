"""Feature document, "Rollback": an async worker turned back into a def that runs asyncio.run."""
# From the feature document (worker-architecture v4.1), section "Rollback", as written there; only
# the import lines were changed (and added where the snippet uses a name it does not import).

from __future__ import annotations

from conductor_actors import worker_task

from ._doc_names import actual_async_work


# Temporary rollback (not recommended)
@worker_task(task_definition_name='fetch_data')
def fetch_data(url: str) -> dict:  # Changed from async def
    # Will use TaskRunner instead of AsyncTaskRunner
    import asyncio
    return asyncio.run(actual_async_work(url))
