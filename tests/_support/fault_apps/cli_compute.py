"""The compute worker for a ``python -m conductor_actors _support.fault_apps.cli_compute`` run.

Importing this module registers ONE compute twin with ``@worker_task`` semantics for task
``CLI_COMPUTE_TASK``: the flavour named by the ``FAULT_APPS_FLAVOUR`` environment variable
("sync", the default, or "async"); anything else raises ``ValueError`` naming the variable. Worker
processes re-import it with the same environment. Tests take the names from ``compute`` so that
their own registry stays clean.
"""

from __future__ import annotations

import os

from conductor_actors import worker_task

from .compute import CLI_COMPUTE_TASK, FLAVOUR_VARIABLE, compute_async, compute_sync

_flavour = os.environ.get(FLAVOUR_VARIABLE, "sync")
if _flavour not in ("sync", "async"):
    raise ValueError(f"{FLAVOUR_VARIABLE}={_flavour!r}: expected sync or async")
worker_task(task_definition_name=CLI_COMPUTE_TASK, thread_count=4, poll_interval_millis=20)(
    compute_sync if _flavour == "sync" else compute_async
)
