"""Invoice workers."""

from __future__ import annotations

from conductor_actors import worker_task


@worker_task(task_definition_name="create_invoice", thread_count=4)
def create_invoice(customer: str, amount: float) -> dict:
    return {"invoice": f"INV-{customer.upper()}-{amount:.2f}"}
