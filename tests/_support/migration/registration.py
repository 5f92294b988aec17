"""Feature document, "Task Definition Registration": register_task_def, strict_schema, overwrite_task_def."""
# From the feature document (worker-architecture v4.1), section "Task Definition Registration", as
# written there; only the import lines were changed (and added where the snippet uses a name it does
# not import).

from __future__ import annotations

from dataclasses import dataclass

from conductor_actors import worker_task


@dataclass
class OrderInfo:
    order_id: str
    amount: float
    customer_id: int


@worker_task(
    task_definition_name='process_order',
    register_task_def=True  # Auto-register on startup
)
def process_order(order: OrderInfo, priority: int = 1) -> dict:
    return {'status': 'processed', 'order_id': order.order_id}


@worker_task(
    task_definition_name='validate_order',
    register_task_def=True,
    strict_schema=True  # Enforce strict validation
)
def validate_order(order_id: str, amount: float) -> dict:
    return {}
# Generated schema will reject inputs with extra fields


@worker_task(
    task_definition_name='stable_task',
    register_task_def=True,
    overwrite_task_def=False  # Don't overwrite existing config
)
def stable_worker(data: dict) -> dict:
    return {}
# If task exists on server, keeps existing configuration
# If task doesn't exist, registers new one
