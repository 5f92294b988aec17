"""One async worker, 100 tasks in flight, one event loop: the feature document's ``api_calls``.

    python examples/concurrent_api_calls.py [--calls 200] [--delay 0.5]

``thread_count`` of an ``async def`` worker is the number of tasks it runs at once, all as
coroutines on the one event loop of its process (a thread pool would need 100 threads). To make that
visible the script starts, next to the embedded dev server, a small slow HTTP API (every answer takes
``--delay`` seconds) that counts the requests it is serving at the same time. It then runs
``--calls`` workflows of one ``api_calls`` task each and prints how long they took compared with one
call at a time, and the most requests the API saw at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from conductor_actors import Configuration, TaskHandler, worker_task
from conductor_actors.devserver import DevServer

THREAD_COUNT = 100

WORKFLOW: dict[str, Any] = {
    "name": "api_call",
    "version": 1,
    "schemaVersion": 2,
    "tasks": [{"name": "api_calls", "taskReferenceName": "call", "inputParameters": {"url": "${workflow.input.url}"}}],
    "outputParameters": {"answer": "${call.output}"},
}


# Async worker with 100 concurrent tasks: one event loop runs them all.
@worker_task(task_definition_name="api_calls", thread_count=THREAD_COUNT)
async def make_api_call(url: str) -> dict:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(url)
        return response.json()


class SlowApi(ThreadingHTTPServer):
    """A JSON API on loopback whose every answer takes ``delay`` seconds; counts requests in flight.

    Serves from its own threads (one per request) until ``shutdown()``.
    """

    daemon_threads = True
    request_queue_size = 256  # room for every connection the worker opens at once

    def __init__(self, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), _SlowHandler)
        self.delay = delay
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.served = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _SlowHandler(BaseHTTPRequestHandler):
    server: SlowApi

    def do_GET(self) -> None:
        api = self.server
        with api.lock:
            api.in_flight += 1
            api.peak = max(api.peak, api.in_flight)
        time.sleep(api.delay)  # the slow backend this API stands for
        with api.lock:
            api.in_flight -= 1
            api.served += 1
        body = json.dumps({"path": self.path, "status": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: one line per request would drown the summary."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="how many api_calls tasks to run (default 200)")
    parser.add_argument("--delay", type=float, default=0.5, help="seconds the API takes per answer (default 0.5)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    api = SlowApi(args.delay)
    threading.Thread(target=api.serve_forever, name="slow-api", daemon=True).start()
    try:
        with DevServer() as server:
            server.register_workflow(WORKFLOW)
            with TaskHandler(configuration=Configuration(server_api_url=server.url)) as handler:
                if not handler.wait_ready(timeout=30):
                    print("workers did not start; see the log above", file=sys.stderr)
                    return 1
                (status,) = handler.status()
                print(f"worker api_calls pid {status.pid}: async def, thread_count={THREAD_COUNT} "
                      "(one event loop thread)")
                started = time.monotonic()
                ids = [server.start_workflow(WORKFLOW["name"], {"url": f"{api.url}/orders/{n}"})
                       for n in range(args.calls)]
                try:
                    statuses = server.wait_for_workflows(ids, timeout=60)
                except TimeoutError as exc:
                    print(f"workflows did not finish: {exc}", file=sys.stderr)
                    return 1
                elapsed = time.monotonic() - started
            sample = server.get_workflow(ids[-1], include_tasks=False)
    finally:
        api.shutdown()
        api.server_close()
    completed = sum(status == "COMPLETED" for status in statuses.values())
    print(f"{completed} of {len(ids)} api_calls tasks COMPLETED in {elapsed:.1f} s; one call at a time "
          f"would take {len(ids) * args.delay:.0f} s")
    print(f"the API served {api.served} requests, at most {api.peak} at the same time")
    print(f"last workflow {sample['status']}: output={sample['output']}")
    return 0 if completed == len(ids) else 1


if __name__ == "__main__":
    sys.exit(main())
