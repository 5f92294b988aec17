"""A sync worker never loads asyncio, uuid or decimal for a task with plain JSON output.

They cost every sync worker process memory and start-up time; the modules that check for an
asyncio cancellation or convert UUIDs and decimals load them only when such a value shows up.
Each case runs in a fresh interpreter and reports what ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import json, sys
import conductor_actors
from conductor_actors.client import Task
from conductor_actors.worker import BoundWorker, Worker, execute_sync

def plain(name: str) -> dict:
    return {"hello": name}

def broken(name: str) -> dict:
    raise KeyboardInterrupt("from the task")

outcomes = []
for target in (plain, broken):
    bound = BoundWorker(Worker("imports_probe", target), "worker-1")
    task = Task(task_id="t1", workflow_instance_id="w1", input_data={"name": "x"}, status="IN_PROGRESS")
    outcome = execute_sync(bound, task, lambda: False)
    outcomes.append([outcome.result.status.name, outcome.result.output_data])
loaded = [name for name in ("asyncio", "uuid", "decimal") if name in sys.modules]
print(json.dumps({"outcomes": outcomes, "loaded": loaded}))
"""


def test_a_sync_task_loads_no_asyncio_uuid_or_decimal() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["outcomes"][0] == ["COMPLETED", {"hello": "x"}]
    assert report["outcomes"][1][0] == "FAILED"  # a BaseException of the task's code is still caught
    assert report["loaded"] == []
