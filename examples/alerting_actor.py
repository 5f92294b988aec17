"""A parent-side actor that alerts when results cannot be delivered (``TaskUpdateFailure``).

    python examples/alerting_actor.py [--tasks 6]

Starts the embedded dev server and makes it answer every task update with HTTP 503 for a while.
The worker runs each task in its own process; a result it cannot deliver after its attempts
becomes a ``TaskUpdateFailure`` event, which every worker process forwards to the parent. There
``UpdateFailureAlert`` (a ``ThreadActor``) posts one alert per task type and quiet period to a
webhook (a small local HTTP receiver stands in for Slack, PagerDuty or Alertmanager) and counts the
rest into the next alert. The built-in outbox keeps the results meanwhile (in a temporary state
directory here) and delivers them when the server is back, so every workflow still completes.

The actor runs on its own thread in the parent process, one message at a time. It may block (the
webhook call has a timeout), which delays only its own later messages. If it raises, the parent
logs the error and starts a fresh instance (state kept in the instance, like the quiet-period
clock, starts over); after too many failures in a row it is given up and the workers go on.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from conductor_actors import (
    Configuration,
    RuntimeSettings,
    TaskHandler,
    TaskUpdateFailure,
    ThreadActor,
    worker_task,
)
from conductor_actors.devserver import DevServer
from conductor_actors.recovery import RecoverySettings

TASK = "charge_card"
WORKFLOW = {
    "name": "alerting_demo",
    "version": 1,
    "schemaVersion": 2,
    "tasks": [{"name": TASK, "taskReferenceName": "charge", "inputParameters": {"order": "${workflow.input.order}"}}],
    "outputParameters": {"charged": "${charge.output.charged}"},
}


@worker_task(task_definition_name=TASK, thread_count=4)
def charge_card(order: str) -> dict:
    """The worker (a worker process re-imports this file: keep it at module level)."""
    return {"charged": order}


class UpdateFailureAlert(ThreadActor):
    """Posts a JSON alert to ``webhook`` for ``TaskUpdateFailure``: the first failure of a task type
    at once, then at most one alert per ``quiet_period`` seconds with how many failures it covers.

    Runs on its own thread in the parent. ``clock`` is injectable for tests. A webhook that cannot
    be reached is logged and the alert dropped (the outbox still holds the results): an alerting
    actor must not fail on the very outage it reports.
    """

    subscriptions = (TaskUpdateFailure,)

    def __init__(self, webhook: str, quiet_period: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.webhook = webhook
        self.quiet_period = quiet_period
        self.clock = clock
        self.last_sent: dict[str, float] = {}  # task type -> when its last alert went out
        self.pending: dict[str, int] = {}  # task type -> failures not alerted yet

    def on_receive(self, event: TaskUpdateFailure) -> None:
        kind = event.task_type
        self.pending[kind] = self.pending.get(kind, 0) + 1
        now = self.clock()
        if now - self.last_sent.get(kind, float("-inf")) < self.quiet_period:
            return
        count, self.pending[kind] = self.pending[kind], 0
        self.last_sent[kind] = now
        self.post({
            "summary": f"{count} {kind} result(s) could not be delivered to Conductor",
            "last_task_id": event.task_id,
            "last_workflow_id": event.workflow_instance_id,
            "cause": f"{type(event.cause).__name__}: {event.cause}",
            "attempts": event.retry_count,
        })

    def post(self, alert: dict[str, Any]) -> None:
        request = urllib.request.Request(
            self.webhook, data=json.dumps(alert).encode(), headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                answer.read()
        except OSError as exc:
            logging.getLogger("my_app.alerts").warning("alert not sent (%s): %s", exc, alert["summary"])


class _Receiver(BaseHTTPRequestHandler):
    """The stand-in webhook: keeps what it receives on ``server.alerts``."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.alerts.append(json.loads(body))  # type: ignore[attr-defined]
        with self.server.arrived:  # type: ignore[attr-defined]
            self.server.arrived.notify_all()  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=6, help="how many workflows to run (default 6)")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)  # the alert is what this script shows
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    receiver.alerts, receiver.arrived = [], threading.Condition()  # type: ignore[attr-defined]
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    webhook = f"http://127.0.0.1:{receiver.server_port}/alerts"
    state_dir = tempfile.mkdtemp(prefix="alerting-demo-")

    with DevServer() as server:
        server.register_workflow(WORKFLOW)
        outage = server.faults.add("update", status=503)
        print(f"dev server at {server.url}; every task update fails with HTTP 503")
        handler = TaskHandler(
            configuration=Configuration(server_api_url=server.url),
            actors=[functools.partial(UpdateFailureAlert, webhook, 300.0)],
            runtime_settings=RuntimeSettings(update_retry_delays=(0.1, 0.2)),  # 3 attempts, quickly
            recovery=RecoverySettings(state_dir=state_dir, retry_backoff_base=0.2, retry_backoff_cap=0.5,
                                      check_interval=0.2),
        )
        with handler:
            ids = [server.start_workflow(WORKFLOW["name"], {"order": f"order-{n}"}) for n in range(args.tasks)]
            with receiver.arrived:  # type: ignore[attr-defined]
                if not receiver.arrived.wait_for(lambda: receiver.alerts, args.timeout):  # type: ignore[attr-defined]
                    print("no alert arrived", file=sys.stderr)
                    return 1
            alert = receiver.alerts[0]  # type: ignore[attr-defined]
            print(f"alert: {alert['summary']} (cause {alert['cause']}, {alert['attempts']} attempts)")
            outage.remove()
            print("server back: the outbox delivers the kept results")
            statuses = server.wait_for_workflows(ids, timeout=args.timeout)
    receiver.shutdown()
    done = sum(status == "COMPLETED" for status in statuses.values())
    print(f"{done}/{len(ids)} workflows completed; {len(receiver.alerts)} alert(s) sent")  # type: ignore[attr-defined]
    return 0 if done == len(ids) else 1


if __name__ == "__main__":
    sys.exit(main())
