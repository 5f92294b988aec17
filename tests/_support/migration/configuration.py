"""Feature document, "Configuration": a worker configured in code (the environment overrides it)."""
# From the feature document (worker-architecture v4.1), section "Configuration", as written there;
# only the import lines were changed (and added where the snippet uses a name it does not import).

from __future__ import annotations

from conductor_actors import worker_task


@worker_task(
    task_definition_name='process_order',
    poll_interval_millis=1000,
    thread_count=5,
    domain='dev'
)
def process_order(order_id: str): pass
