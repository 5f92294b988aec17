"""Quick start: an order pipeline on the embedded dev server, end to end.

    python examples/order_pipeline.py [--orders 300]

Starts the embedded Conductor dev server, registers a workflow of three tasks (validate_order,
charge_payment, send_confirmation), runs the workers of ``orders.workers`` with ``TaskHandler``
(one supervised process per worker, sync and async mixed), starts the orders, shows progress and
prints a summary: completed, failed, throughput and latency.

A few orders are invalid on purpose (they fail at validation) and the payment gateway is flaky for a
few more (the server retries them), so the summary shows both paths.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time

from conductor_actors import Configuration, TaskDef, TaskHandler
from conductor_actors.devserver import DevServer

WORKFLOW = {
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


def order(number: int) -> dict:
    invalid = number % 97 == 13  # about 1% invalid orders
    return {
        "order_id": f"ord-{number:05d}",
        "amount": 0.0 if invalid else 10 + number % 90 + 0.99,
        "email": f"customer{number}@example.com",
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300, help="how many orders to run (default 300)")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    with DevServer() as server:
        server.register_task_def(TaskDef(name="charge_payment", retry_count=2, retry_delay_seconds=1).to_wire())
        server.register_workflow(WORKFLOW)
        print(f"dev server at {server.url}")
        with TaskHandler(
            import_modules=["orders.workers"],
            configuration=Configuration(server_api_url=server.url),
        ) as handler:
            if not handler.wait_ready(timeout=30):
                print("workers did not start; see the log above", file=sys.stderr)
                return 1
            print("workers: " + ", ".join(f"{s.key} (pid {s.pid})" for s in handler.status()))
            started = time.monotonic()
            ids = [server.start_workflow("order_pipeline", order(n)) for n in range(args.orders)]
            statuses = wait_with_progress(server, ids, started, args.timeout)
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
              f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms (workflow start to end; retried orders "
              "wait for their retry delay)")
    if failed:
        print(f"first failure: {failed[0]['reasonForIncompletion']}")
    return 0 if len(completed) + len(failed) == len(ids) and statuses else 1


def wait_with_progress(server: DevServer, ids: list[str], started: float, timeout: float) -> bool:
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


if __name__ == "__main__":
    sys.exit(main())
