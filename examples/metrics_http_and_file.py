"""Prometheus metrics of every worker process from one place: served over HTTP, or written to a file.

    python examples/metrics_http_and_file.py

HTTP mode (``MetricsSettings(http_port=...)``, the feature document's recommended mode): the parent
process serves ``/metrics`` and ``/health``; the script runs a few workflows, scrapes both once and
prints a few lines. ``/health`` reflects the worker processes (200 only when all are up). File
mode (``MetricsSettings(directory=..., http_port=None)``): the parent rewrites a ``.prom`` file every
``update_interval`` seconds; the script waits for the numbers to arrive and prints them. Both use
the official SDK's canonical metric names, merged over processes (no ``pid`` label).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conductor_actors import Configuration, MetricsSettings, TaskHandler, worker_task
from conductor_actors.devserver import DevServer

WORKFLOW: dict[str, Any] = {
    "name": "thumbnails",
    "version": 1,
    "schemaVersion": 2,
    "tasks": [
        {"name": "resize_image", "taskReferenceName": "resize", "inputParameters": {"url": "${workflow.input.url}"}},
        {"name": "store_image", "taskReferenceName": "store",
         "inputParameters": {"thumbnail": "${resize.output.thumbnail}"}},
    ],
}
RUNS = 5
SHOWN = ("task_execute_time_seconds_count", "task_poll_total", "task_result_size_bytes_sum", "active_workers")


@worker_task(task_definition_name="resize_image", thread_count=2)
def resize_image(url: str) -> dict:
    return {"thumbnail": url.replace(".png", "-64x64.png")}


@worker_task(task_definition_name="store_image", thread_count=10)
async def store_image(thumbnail: str) -> dict:
    await asyncio.sleep(0.01)
    return {"stored": thumbnail}


def run_workflows(server: DevServer) -> None:
    ids = [server.start_workflow(WORKFLOW["name"], {"url": f"https://img.example/{n}.png"}) for n in range(RUNS)]
    server.wait_for_workflows(ids, timeout=30)


def lines_of(text: str, names: tuple[str, ...]) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(names)]


def wait_for(read: Callable[[], str], expected: str, timeout: float = 30.0) -> str:
    """``read()`` until its text contains ``expected`` (metrics lag the workers by a relay interval)."""
    deadline = time.monotonic() + timeout
    while True:
        text = read()
        if expected in text or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:  # /health answers 503 when a worker process is not up
        return error.code, error.read().decode()


def http_mode(server: DevServer) -> bool:
    settings = MetricsSettings(http_port=0, http_host="127.0.0.1")  # 0: any free port; use e.g. 8000
    with TaskHandler(configuration=Configuration(server_api_url=server.url), metrics_settings=settings) as handler:
        if not handler.wait_ready(timeout=30):
            return False
        run_workflows(server)
        base = handler.metrics.url
        expected = f'task_execute_time_seconds_count{{status="SUCCESS",taskType="store_image"}} {RUNS}.0'
        text = wait_for(lambda: get(f"{base}/metrics")[1], expected)
        health_status, health = get(f"{base}/health")
    print(f"HTTP mode: GET {base}/metrics")
    for line in lines_of(text, SHOWN):
        print(f"  {line}")
    children = ", ".join(f"{c['key']} {c['state']}" for c in json.loads(health)["children"])
    print(f"GET {base}/health -> {health_status} {json.loads(health)['status']} ({children})")
    return expected in text and health_status == 200


def file_mode(server: DevServer) -> bool:
    directory = tempfile.mkdtemp(prefix="metrics-")
    settings = MetricsSettings(directory=directory, file_name="workers.prom", update_interval=0.2, http_port=None)
    path = Path(directory) / settings.file_name
    with TaskHandler(configuration=Configuration(server_api_url=server.url), metrics_settings=settings) as handler:
        if not handler.wait_ready(timeout=30):
            return False
        run_workflows(server)
        expected = f'task_execute_time_seconds_count{{status="SUCCESS",taskType="resize_image"}} {RUNS}.0'
        text = wait_for(lambda: path.read_text() if path.exists() else "", expected)
    print(f"file mode: {path} (rewritten every {settings.update_interval} s)")
    for line in lines_of(text, SHOWN[:2]):
        print(f"  {line}")
    return expected in text


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with DevServer() as server:
        server.register_workflow(WORKFLOW)
        ok = http_mode(server)
        ok = file_mode(server) and ok  # the counters are the parent's: a new handler starts from 0 again
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
