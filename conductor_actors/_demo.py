"""``python -m conductor_actors demo``: the quick start, runnable from an installed package.

Starts the embedded dev server, registers a workflow of three tasks (validate_order,
charge_payment, send_confirmation), runs their workers with ``TaskHandler`` (one supervised
process per worker, sync and async mixed), starts the orders, shows progress and prints a summary:
completed, failed, throughput and latency.

A few orders are invalid on purpose (they fail at validation, for good) and the payment gateway is
flaky for a few more (the worker reports the failure and the server retries them), so the summary
shows both paths. Failed task attempts are logged at WARNING by the worker processes; the demo
runs them at ERROR unless ``--log-level`` says otherwise.

The workers are module-level functions (a spawned worker process re-imports them from here),
built into ``Worker`` objects by ``demo_main`` rather than registered with ``@worker_task``, so
importing this module registers nothing. Everything runs on the calling (main) thread.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import NonRetryableException, TaskResult, TaskResultStatus, get_task_context

__all__ = ["WORKFLOW", "demo_main"]

WORKFLOW: dict[str, Any] = {
    "name": "order_pipeline",
    "version": 1,
    "schemaVersion": 2,
    "tasks": [
        {"name": "validate_order", "taskReferenceName": "validate", "inputParameters": {
            "order_id": "${workflow.input.order_id}", "amount": "${workflow.input.amount}",
            "email": "${workflow.input.email}"}},
        {"name": "charge_payment", "taskReferenceName": "charge", "inputParameters": {
            "order_id": "${validate.output.order_id}", "amount": "${validate.output.amount}"}},
        {"name": "send_confirmation", "taskReferenceName": "confirm", "inputParameters": {
            "order_id": "${validate.output.order_id}", "email": "${validate.output.email}",
            "payment_id": "${charge.output.payment_id}"}},
    ],
    "outputParameters": {"payment_id": "${charge.output.payment_id}", "receipt": "${confirm.output.reference}"},
}


# -- the workers ------------------------------------------------------------------------------------


def validate_order(order_id: str, amount: float, email: str) -> dict[str, Any]:
    """Reject what no retry can fix: a contract violation fails the workflow at once."""
    if amount <= 0:
        raise NonRetryableException(f"order {order_id}: amount must be positive, got {amount}")
    if "@" not in email:
        raise NonRetryableException(f"order {order_id}: {email!r} is not an e-mail address")
    return {"order_id": order_id, "amount": round(amount, 2), "email": email}


async def charge_payment(order_id: str, amount: float) -> dict[str, Any] | TaskResult:
    """Talk to a (simulated) payment gateway: I/O-bound, so async with high concurrency.

    The gateway times out for a few orders on their first attempt; the worker reports the task
    FAILED (the server retries it after the task definition's retry delay).
    """
    await asyncio.sleep(0.02)  # the gateway round trip
    attempt = get_task_context().get_retry_count()
    if attempt == 0 and int(hashlib.sha1(order_id.encode()).hexdigest(), 16) % 30 == 0:
        return TaskResult(status=TaskResultStatus.FAILED,
                          reason_for_incompletion=f"payment gateway timed out for order {order_id}")
    return {"payment_id": f"pay-{order_id}", "charged": amount, "attempt": attempt + 1}


def send_confirmation(order_id: str, email: str, payment_id: str) -> dict[str, Any]:
    """Send the receipt (simulated)."""
    get_task_context().add_log(f"receipt for {order_id} sent to {email}")
    return {"sent_to": email, "reference": f"{order_id}/{payment_id}"}


def _workers() -> list[Any]:
    from . import Worker

    return [
        Worker("validate_order", validate_order, thread_count=4),
        Worker("charge_payment", charge_payment, thread_count=50),
        Worker("send_confirmation", send_confirmation, thread_count=4),
    ]


# -- the driver -------------------------------------------------------------------------------------


def order(number: int) -> dict[str, Any]:
    """The input of order ``number``; about 1% are invalid (amount 0)."""
    invalid = number % 97 == 13
    return {
        "order_id": f"ord-{number:05d}",
        "amount": 0.0 if invalid else 10 + number % 90 + 0.99,
        "email": f"customer{number}@example.com",
    }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m conductor_actors demo",
        description="Run the quick start: an order pipeline of three workers on the embedded dev server.",
    )
    parser.add_argument("--orders", type=int, default=300, help="how many orders to run (default 300)")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds (default 120)")
    parser.add_argument("--log-level", default="ERROR", type=str.upper,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="logging level (default ERROR; WARNING shows the failed task attempts)")
    return parser


def demo_main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns 0 when every workflow ended (completed, or failed on purpose)."""
    args = _parser().parse_args(argv)
    if args.orders < 1:
        print("conductor_actors demo: error: --orders must be at least 1", file=sys.stderr)
        return 2
    from ._logging import configure_logging
    from .client import Configuration, TaskDef
    from .devserver import DevServer
    from .handler import TaskHandler

    configure_logging(args.log_level)
    with DevServer() as server:
        server.register_task_def(TaskDef(name="charge_payment", retry_count=2, retry_delay_seconds=1).to_wire())
        server.register_workflow(WORKFLOW)
        print(f"dev server at {server.url}")
        with TaskHandler(
            workers=_workers(), scan_for_annotated_workers=False, recovery=False,
            configuration=Configuration(server_api_url=server.url), log_level=args.log_level,
        ) as handler:
            if not handler.wait_ready(timeout=30):
                print("workers did not start; see the log above", file=sys.stderr)
                return 1
            print("workers: " + ", ".join(f"{s.key} (pid {s.pid})" for s in handler.status()))
            started = time.monotonic()
            ids = [server.start_workflow("order_pipeline", order(n)) for n in range(args.orders)]
            finished = _wait_with_progress(server, ids, started, args.timeout)
            elapsed = time.monotonic() - started
        workflows = [server.get_workflow(i, include_tasks=False) for i in ids]
    completed = [w for w in workflows if w["status"] == "COMPLETED"]
    failed = [w for w in workflows if w["status"] == "FAILED"]
    latencies = [(w["endTime"] - w["createTime"]) / 1000 for w in completed]
    print(f"\norders:      {len(ids)} started, {len(completed)} completed, {len(failed)} failed "
          f"(invalid on purpose), {len(ids) - len(completed) - len(failed)} other")
    print(f"throughput:  {len(ids) / elapsed:.0f} workflows/s ({3 * len(completed) / elapsed:.0f} tasks/s) "
          f"in {elapsed:.2f} s")
    if latencies:
        print(f"latency:     p50 {statistics.median(latencies) * 1000:.0f} ms, "
              f"p99 {_percentile(latencies, 0.99) * 1000:.0f} ms (workflow start to end; retried orders "
              "wait for their retry delay)")
    if failed:
        print(f"first failure: {failed[0]['reasonForIncompletion']}")
    return 0 if len(completed) + len(failed) == len(ids) and finished else 1


def _wait_with_progress(server: Any, ids: list[str], started: float, timeout: float) -> bool:
    """Show progress until every workflow has ended; False on timeout.

    On a terminal the progress line is rewritten in place; otherwise a line is printed every second.
    """
    live = sys.stdout.isatty()
    remaining = list(ids)
    last_line = 0.0
    while remaining:
        now = time.monotonic()
        if now - started > timeout:
            print(f"\ntimed out with {len(remaining)} workflow(s) unfinished", file=sys.stderr)
            return False
        try:
            server.wait_for_workflows(remaining[:1], timeout=0.2)
        except TimeoutError:
            pass
        remaining = [i for i, status in server.workflow_statuses(remaining).items() if status == "RUNNING"]
        done = len(ids) - len(remaining)
        line = f"  {done}/{len(ids)} workflows finished ({done / max(now - started, 1e-9):.0f}/s)"
        if live:
            print("\r" + line, end="", flush=True)
        elif now - last_line >= 1.0 or not remaining:
            print(line, flush=True)
            last_line = now
    if live:
        print()
    return True

