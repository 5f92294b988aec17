"""Official-SDK-style code that builds a ``Worker`` from a lambda at module level.

``Worker(...).execute(task)`` runs it in-process, but a worker process could not re-import the
lambda, so starting it (``TaskHandler.start_processes()``, ``python -m conductor_actors``) fails
naming the fix. ``double``/``double_async`` are that fix: the same code defined at module level.
"""

from __future__ import annotations

from typing import Any

from conductor_actors import Worker

TASK = "compat_lambda_object"

doubler = Worker(TASK, lambda n: {"value": n * 2})


def double(n: int) -> dict[str, Any]:
    return {"value": n * 2, "flavour": "sync"}


async def double_async(n: int) -> dict[str, Any]:
    return {"value": n * 2, "flavour": "async"}
