"""Register task definitions and JSON schemas from code, then show what the server holds.

    python examples/task_definitions.py

The feature document's registration examples, run against the embedded dev server:

- ``process_order(order: OrderInfo, priority: int = 1)`` with ``register_task_def=True``: the worker
  process registers the definition on start-up, with draft-07 input and output schemas generated
  from the type hints (``OrderInfo`` is a dataclass). Schemas are saved only with
  ``register_schema=True`` (or ``CONDUCTOR_REGISTER_SCHEMAS=true``), as in the official SDK.
- ``validate_order`` with ``strict_schema=True``: its input schema says ``additionalProperties: false``.
- ``stable_task`` with ``overwrite_task_def=False``: the server already has a hand-edited definition,
  and it is kept as it is.

Then a workflow runs ``process_order`` twice: a good order (the dict input becomes an ``OrderInfo``)
and one without ``customer_id`` (the task FAILS with a reason naming the field, never a silent None).
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from typing import Any

from conductor_actors import ConductorClient, Configuration, TaskDef, TaskHandler, worker_task
from conductor_actors.devserver import DevServer
from conductor_actors.worker import generate_json_schema_from_function


@dataclass
class OrderInfo:
    order_id: str
    amount: float
    customer_id: int


@worker_task(
    task_definition_name="process_order",
    register_task_def=True,  # Auto-register on startup
    register_schema=True,  # ... with its input and output JSON schemas
    task_def=TaskDef(retry_count=2, retry_delay_seconds=1, description="process one order"),
)
def process_order(order: OrderInfo, priority: int = 1) -> dict:
    return {"status": "processed", "order_id": order.order_id}


@worker_task(
    task_definition_name="validate_order",
    register_task_def=True,
    register_schema=True,
    strict_schema=True,  # Enforce strict validation
)
def validate_order(order_id: str, amount: float) -> dict:
    return {}


@worker_task(
    task_definition_name="stable_task",
    register_task_def=True,
    overwrite_task_def=False,  # Don't overwrite existing config
)
def stable_worker(data: dict) -> dict:
    return {}


WORKFLOW: dict[str, Any] = {
    "name": "registered_orders",
    "version": 1,
    "schemaVersion": 2,
    "tasks": [{"name": "process_order", "taskReferenceName": "process",
               "inputParameters": {"order": "${workflow.input.order}", "priority": "${workflow.input.priority}"}}],
}


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with DevServer() as server:
        # Someone tuned stable_task on the server by hand; overwrite_task_def=False keeps that.
        server.register_task_def({"name": "stable_task", "description": "tuned by the ops team", "retryCount": 7})
        server.register_workflow(WORKFLOW)
        configuration = Configuration(server_api_url=server.url)
        with TaskHandler(configuration=configuration) as handler:
            if not handler.wait_ready(timeout=30):  # each worker registers before it says Ready
                print("workers did not start; see the log above", file=sys.stderr)
                return 1
            good = server.start_workflow(WORKFLOW["name"], {
                "order": {"order_id": "o-1", "amount": 99.5, "customer_id": 7}, "priority": 2})
            bad = server.start_workflow(WORKFLOW["name"], {"order": {"order_id": "o-2", "amount": 5.0}})
            server.wait_for_workflows([good, bad], timeout=30)

        print(f"task definitions on the server ({server.stats()['schema_save']} schemas saved):")
        with ConductorClient(configuration) as client:
            for name in ("process_order", "validate_order", "stable_task"):
                task_def = client.get_task_def(name)
                links = {k: v["name"] for k, v in (("input", task_def.input_schema),
                                                  ("output", task_def.output_schema)) if v}
                print(f"  {name}: description={task_def.description!r}, retryCount={task_def.retry_count}, "
                      f"schemas={links or 'none'}")
        schema = (generate_json_schema_from_function(process_order, "process_order") or {}).get("input") or {}
        print("process_order_input, as generated from the type hints:")
        print("  " + json.dumps(schema, indent=2).replace("\n", "\n  "))
        strict_schemas = generate_json_schema_from_function(validate_order, "validate_order", strict_schema=True)
        strict = (strict_schemas or {})["input"]
        print(f"validate_order_input: additionalProperties={json.dumps(strict['additionalProperties'])}")

        for workflow_id in (good, bad):
            task = server.get_workflow(workflow_id)["tasks"][0]
            outcome = task["outputData"] if task["status"] == "COMPLETED" else task["reasonForIncompletion"]
            print(f"process_order {task['inputData']['order']}: {task['status']} {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
