"""Importing the runtime and running a ``def`` worker never loads asyncio.

A sync worker process needs no event loop; asyncio would cost it memory and start-up time. The
runtime package re-exports its names plainly, so the async pipeline's module is imported only when
an async worker's pipeline is built. The probe runs in a fresh interpreter: it imports the runtime,
runs one task through a sync ``WorkerRunner`` over an in-memory client (the transport seam), stops
it, and reports what ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import json, sys, threading
import conductor_actors.runtime
from conductor_actors.client import Configuration, Task
from conductor_actors.runtime import WorkerRunner
from conductor_actors.worker import Worker

imported = "asyncio" in sys.modules

class OneTaskClient:
    '''Hands out one task, then answers every poll empty after its long-poll time.'''

    def __init__(self):
        self.configuration = Configuration(server_api_url="http://127.0.0.1:9/api")
        self.task = Task(task_id="t1", workflow_instance_id="w1", task_type="imports_probe",
                         input_data={"name": "x"}, status="IN_PROGRESS")
        self.results = []
        self.updated = threading.Event()
        self.closed = threading.Event()

    def batch_poll(self, task_type, *, count, timeout_ms, worker_id, domain):
        task, self.task = self.task, None
        if task is None:
            self.closed.wait(timeout_ms / 1000)
        return [] if task is None else [task]

    def update_task_v2(self, result):
        self.results.append([result.task_id, result.status.name, result.output_data])
        self.updated.set()
        return None

    def close(self):
        self.closed.set()

def hello(name: str) -> dict:
    return {"hello": name}

client = OneTaskClient()
runner = WorkerRunner(Worker("imports_probe", hello), client=client)
runner.start()
delivered = client.updated.wait(30)
report = runner.stop(grace=1.0, flush=1.0)
print(json.dumps({"imported": imported, "delivered": delivered, "results": client.results,
                  "clean": report.clean, "loaded": "asyncio" in sys.modules}))
"""


def test_importing_the_runtime_and_running_a_sync_worker_loads_no_asyncio() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["imported"] is False  # importing the runtime
    assert report["delivered"] is True and report["results"] == [["t1", "COMPLETED", {"hello": "x"}]]
    assert report["clean"] is True
    assert report["loaded"] is False  # running and stopping a sync worker
