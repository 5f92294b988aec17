"""Configure workers from the environment: worker-specific variables over global ones over code.

    python examples/worker_configuration.py

The feature document's example: ``process_order`` says ``domain='dev'`` and ``thread_count=5`` in
code; ``conductor.worker.all.domain=production`` and ``conductor.worker.all.thread_count=20`` apply
to every worker, and ``conductor.worker.process_order.thread_count=50`` to that one only. Result:
domain=production, thread_count=50. The Unix spelling (``CONDUCTOR_WORKER_<NAME>_<PROP>``) works
the same. The script sets these variables unless your shell already did (yours win), prints each
worker's resolved one-line summary and where every overridden value came from, runs a workflow in
the ``production`` domain, and shows that a value that does not parse is an error naming the
variable, never silently ignored.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from conductor_actors import (
    Configuration,
    TaskHandler,
    WorkerConfigError,
    get_registered_workers,
    resolve_worker_config,
    worker_task,
)
from conductor_actors.devserver import DevServer
from conductor_actors.worker import get_worker_config_summary

ENVIRONMENT = {
    # Global: every worker
    "conductor.worker.all.domain": "production",
    "conductor.worker.all.thread_count": "20",
    # Worker-specific (overrides global)
    "conductor.worker.process_order.thread_count": "50",
    # The Unix spelling; poll_interval is the official SDK's name of poll_interval_millis
    "CONDUCTOR_WORKER_SHIP_ORDER_POLL_INTERVAL": "250",
}

WORKFLOW: dict[str, Any] = {
    "name": "configured_orders",
    "version": 1,
    "schemaVersion": 2,
    "tasks": [
        {"name": "process_order", "taskReferenceName": "process",
         "inputParameters": {"order_id": "${workflow.input.order_id}"}},
        {"name": "ship_order", "taskReferenceName": "ship",
         "inputParameters": {"order_id": "${workflow.input.order_id}"}},
    ],
}


@worker_task(task_definition_name="process_order", poll_interval_millis=1000, thread_count=5, domain="dev")
def process_order(order_id: str) -> dict:
    return {"order_id": order_id, "status": "processed"}


@worker_task(task_definition_name="ship_order")
def ship_order(order_id: str) -> dict:
    return {"order_id": order_id, "status": "shipped"}


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)  # as if exported in the shell
    configs = {worker.task_definition_name: resolve_worker_config(worker) for worker in get_registered_workers()}
    for name, config in configs.items():
        print(config.oneline())
        for line in get_worker_config_summary(name, config).splitlines()[1:]:
            if "(code)" not in line and "(default)" not in line:  # show only what the environment set
                print(f"  {line.strip()}")

    bad = dict(os.environ, CONDUCTOR_WORKER_PROCESS_ORDER_LEASE_EXTEND_ENABLED="sometimes")
    try:
        TaskHandler(env=bad)  # resolves every worker's configuration before anything starts
    except WorkerConfigError as exc:
        print(f"a bad value stops the start-up: {exc}")
    else:
        print("a bad value was accepted", file=sys.stderr)
        return 1

    with DevServer() as server:
        server.register_workflow(WORKFLOW)
        with TaskHandler(configuration=Configuration(server_api_url=server.url)) as handler:
            if not handler.wait_ready(timeout=30):
                print("workers did not start; see the log above", file=sys.stderr)
                return 1
            # taskToDomain routes each task of the workflow to the workers polling in that domain
            domains = {name: config.domain for name, config in configs.items() if config.domain}
            workflow_id = server.start_workflow(WORKFLOW["name"], {"order_id": "o-7"}, task_to_domain=domains)
            server.wait_for_workflows([workflow_id], timeout=30)
        workflow = server.get_workflow(workflow_id)
    for task in workflow["tasks"]:
        print(f"{task['taskType']} ran in domain {task['domain']!r} on worker {task['workerId']}: "
              f"{task['status']} {task['outputData']}")
    return 0 if workflow["status"] == "COMPLETED" else 1


if __name__ == "__main__":
    sys.exit(main())
