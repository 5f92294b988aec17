"""The custom-actor examples of ``docs/actors.md``: each script runs end to end as a user runs it
(worker processes, an update outage on the dev server, recovery), and each actor does what the
page says when driven directly (the alert's quiet period on an injected clock; the redelivery
store surviving a fresh instance)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _support.clock import FakeClock
from _support.waiting import wait_until

from conductor_actors import TaskResult, TaskResultStatus, TaskUpdateFailure
from conductor_actors.devserver import DevServer

from .conftest import EXAMPLES, LoadExample
from .test_scripts import SCRIPT_TIMEOUT, example_env


def _run(name: str, tmp_path: Path, *args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], cwd=tmp_path, env=example_env(tmp_path),
        capture_output=True, text=True, timeout=SCRIPT_TIMEOUT, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"exit code {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout.splitlines()


def test_alerting_actor_script(tmp_path: Path) -> None:
    lines = _run("alerting_actor.py", tmp_path, "--tasks", "4")
    assert any(re.fullmatch(r"alert: \d+ charge_card result\(s\) could not be delivered to Conductor \(cause "
                            r"ConductorHTTPError: HTTP 503 .*, 3 attempts\)", line) for line in lines), lines
    assert lines[-1] == "4/4 workflows completed; 1 alert(s) sent", lines


def test_redelivering_actor_script(tmp_path: Path) -> None:
    store = tmp_path / "results.sqlite3"
    lines = _run("redelivering_actor.py", tmp_path, "--tasks", "3", "--store", str(store))
    assert f"stored 3 undelivered result(s) in {store}" in lines, lines
    assert lines[-1] == ("server back: the actor delivered them; 3/3 workflows completed, 0 result(s) left in "
                         "the store"), lines


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/alerts", received
    server.shutdown()
    server.server_close()


def _failure(n: int, task_type: str = "charge_card") -> TaskUpdateFailure:
    result = TaskResult(task_id=f"t{n}", workflow_instance_id=f"w{n}", status=TaskResultStatus.COMPLETED)
    return TaskUpdateFailure(task_type, f"t{n}", "worker-1", f"w{n}", ConnectionError("refused"), 3, result)


def test_alert_actor_sends_one_alert_per_quiet_period(example: LoadExample, webhook: Any) -> None:
    """The first failure alerts at once; the next ones within the quiet period are counted into the
    next alert; another task type has its own period. Driven with ``ask`` (it answers after the
    message was handled) and an injected clock."""
    module = example("alerting_actor")
    url, received = webhook
    clock = FakeClock()
    ref = module.UpdateFailureAlert.start(url, 60.0, clock)
    try:
        ref.ask(_failure(1))
        for n in range(2, 5):
            clock.advance(10)
            ref.ask(_failure(n))
        assert [a["summary"] for a in received] == ["1 charge_card result(s) could not be delivered to Conductor"]
        ref.ask(_failure(5, "ship_parcel"))
        clock.advance(30)  # 60 s after the first alert
        ref.ask(_failure(6))
        assert [a["summary"] for a in received] == [
            "1 charge_card result(s) could not be delivered to Conductor",
            "1 ship_parcel result(s) could not be delivered to Conductor",
            "4 charge_card result(s) could not be delivered to Conductor",
        ]
        assert received[-1]["last_task_id"] == "t6" and received[-1]["cause"] == "ConnectionError: refused"
    finally:
        ref.stop()


def test_redelivery_store_outlives_the_actor(example: LoadExample, tmp_path: Path) -> None:
    """A result stored by one instance is delivered by the next one (the parent starts a fresh
    instance after a failure): ``on_start`` schedules a delivery of what the store holds."""
    module = example("redelivering_actor")
    path = str(tmp_path / "store.sqlite3")
    with DevServer() as server:
        server.register_workflow(module.WORKFLOW)
        workflow_id = server.start_workflow(module.WORKFLOW["name"], {"parcel": "p1"})
        task = wait_until(lambda: server.tasks(task_type=module.TASK), "the scheduled task")[0]
        outage = server.faults.add("update", status=503)
        first = module.SqliteRedelivery.start(path, server.url, 0.05, 0.1)
        result = TaskResult(task_id=task["taskId"], workflow_instance_id=workflow_id,
                            status=TaskResultStatus.COMPLETED, output_data={"label": "LBL-P1"})
        first.ask(TaskUpdateFailure(module.TASK, task["taskId"], "w", workflow_id, OSError("down"), 3, result))
        first.stop()
        assert module.stored(path) == [task["taskId"]]
        outage.remove()
        second = module.SqliteRedelivery.start(path, server.url, 0.05, 0.1)
        try:
            assert server.wait_for_workflows([workflow_id], 30)[workflow_id] == "COMPLETED"
            wait_until(lambda: not module.stored(path), "the store to empty")
            assert server.get_workflow(workflow_id)["output"] == {"label": "LBL-P1"}
        finally:
            second.stop()
