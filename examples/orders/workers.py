"""Workers of the order pipeline: validate (sync), charge (async), confirm (sync).

Plain functions with type hints; ``@worker_task`` registers them and they stay callable as usual.
"""

from __future__ import annotations

import asyncio
import hashlib

from conductor_actors import NonRetryableException, get_task_context, worker_task


@worker_task(task_definition_name="validate_order", thread_count=4)
def validate_order(order_id: str, amount: float, email: str) -> dict:
    """Reject what no retry can fix: a contract violation fails the workflow at once."""
    if amount <= 0:
        raise NonRetryableException(f"order {order_id}: amount must be positive, got {amount}")
    if "@" not in email:
        raise NonRetryableException(f"order {order_id}: {email!r} is not an e-mail address")
    return {"order_id": order_id, "amount": round(amount, 2), "email": email}


@worker_task(task_definition_name="charge_payment", thread_count=50)
async def charge_payment(order_id: str, amount: float) -> dict:
    """Talk to a (simulated) payment gateway: I/O-bound, so async with high concurrency.

    The gateway is flaky for a few orders on their first attempt; the server retries them.
    """
    await asyncio.sleep(0.02)  # the gateway round trip
    attempt = get_task_context().get_retry_count()
    if attempt == 0 and int(hashlib.sha1(order_id.encode()).hexdigest(), 16) % 30 == 0:
        raise ConnectionError(f"payment gateway timed out for order {order_id}")
    return {"payment_id": f"pay-{order_id}", "charged": amount, "attempt": attempt + 1}


@worker_task(task_definition_name="send_confirmation", thread_count=4)
def send_confirmation(order_id: str, email: str, payment_id: str) -> dict:
    """Send the receipt (simulated)."""
    get_task_context().add_log(f"receipt for {order_id} sent to {email}")
    return {"sent_to": email, "reference": f"{order_id}/{payment_id}"}
