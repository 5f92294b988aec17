"""The compute worker for a ``python -m conductor_actors _support.fault_apps.cli_compute`` run.

Importing this module registers ONE compute twin with ``@worker_task`` semantics for task
``CLI_COMPUTE_TASK``: the flavour named by the ``CLI_APPS_FLAVOUR`` environment variable ("sync",
the default, or "async"); anything else raises ``ValueError`` naming the variable. Worker
processes re-import it with the same environment. Tests take the names from ``compute`` so that
their own registry stays clean.
"""

from __future__ import annotations

from ..cli_apps import register_flavoured
from .compute import CLI_COMPUTE_TASK, compute_async, compute_sync

register_flavoured(CLI_COMPUTE_TASK, compute_sync, compute_async, thread_count=4, poll_interval_millis=20)
