"""``--reload``: editing a worker module's source restarts the worker processes, and the next task
runs the new code. A real CLI process over an application written into the test's directory."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from _support.cli_apps import WAIT, one_task_workflow, process_gone, wait_until
from _support.cli_tree import hermetic_env

from conductor_actors._reload import SourceWatcher, watched_roots

if TYPE_CHECKING:
    from conductor_actors.devserver import DevServer

TASK = "reload_greet"
WORKERS = '''
from conductor_actors import worker_task


@worker_task(task_definition_name="reload_greet", poll_interval_millis=20)
def greet(name: str) -> dict:
    return {{"greeting": "{word}, " + name}}
'''


def _write_app(root: Path, word: str) -> Path:
    package = root / "reload_app"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    workers = package / "workers.py"
    workers.write_text(WORKERS.format(word=word))
    return workers


def _greeting(server: DevServer, workflow: str) -> str:
    workflow_id = server.start_workflow(workflow, {"name": "ada"})
    assert server.wait_for_workflows([workflow_id], WAIT)[workflow_id] == "COMPLETED"
    return str(server.get_workflow(workflow_id)["output"]["greeting"])


def test_editing_a_module_restarts_the_workers_with_the_new_code(dev_server: DevServer, tmp_path: Path) -> None:
    workers = _write_app(tmp_path, "Hello")
    workflow = one_task_workflow(dev_server, TASK, ["name"])
    log_path = tmp_path / "cli.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "conductor_actors", "--reload", "reload_app.workers"], cwd=tmp_path,
            env=hermetic_env(tmp_path / "state", server_url=dev_server.url), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )

    def lines(pattern: str) -> list[re.Match[str]]:
        return list(re.finditer(pattern, log_path.read_text(errors="replace"), re.MULTILINE))

    try:
        wait_until(lambda: lines(rf"worker {TASK} \(pid \d+\) is ready"), "the first worker process")
        assert lines(r"conductor_actors\.reload: --reload is for development: watching 2 file\(s\) under .*reload_app")
        assert _greeting(dev_server, workflow) == "Hello, ada"
        first = [int(m.group(1)) for m in lines(rf"worker {TASK} started \(pid (\d+)\)")]
        stamp = workers.stat().st_mtime_ns
        workers.write_text(WORKERS.format(word="Bonjour"))
        os.utime(workers, ns=(stamp + 10**9, stamp + 10**9))  # a new mtime even on a coarse clock
        wait_until(lambda: lines(r"reload_app/workers\.py changed; restarting the workers"), "the reload line")
        wait_until(lambda: len(lines(rf"worker {TASK} \(pid \d+\) is ready")) == 2, "the restarted worker")
        assert all(process_gone(pid) for pid in first)
        assert _greeting(dev_server, workflow) == "Bonjour, ada"
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0, log_path.read_text()
        pids = [int(m.group(1)) for m in lines(r"worker \S+ started \(pid (\d+)\)")]
        assert all(process_gone(pid) for pid in pids)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
        print(log_path.read_text(errors="replace"))


def test_with_the_dev_server_a_reload_keeps_the_server_and_its_workflows(tmp_path: Path) -> None:
    """``--reload --dev-server``: the embedded server lives in the watcher, so a restart of the
    workers keeps its address (the web page stays open) and every definition and workflow on it."""
    workers = _write_app(tmp_path, "Hello")
    log_path = tmp_path / "cli.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "conductor_actors", "--reload", "--dev-server=0", "reload_app.workers"],
            cwd=tmp_path,
            env=hermetic_env(tmp_path / "state", extra={"CONDUCTOR_AUTH_KEY": "ignored", "CONDUCTOR_AUTH_SECRET": "x"}),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )

    def lines(pattern: str) -> list[re.Match[str]]:
        return list(re.finditer(pattern, log_path.read_text(errors="replace"), re.MULTILINE))

    def call(method: str, path: str, body: object = None) -> str:
        request = urllib.request.Request(api + path, method=method, data=None if body is None else
                                         json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=WAIT) as reply:
            return str(reply.read().decode())

    def greeting(workflow_id: str) -> str:
        def ended() -> bool:
            return json.loads(call("GET", f"/workflow/{workflow_id}/status"))["status"] != "RUNNING"

        wait_until(ended, "the workflow to end")
        workflow = json.loads(call("GET", f"/workflow/{workflow_id}"))
        assert workflow["status"] == "COMPLETED", workflow
        return str(workflow["output"]["greeting"])

    try:
        wait_until(lambda: lines(rf"worker {TASK} \(pid \d+\) is ready"), "the first worker process")
        found = lines(r"embedded dev server at (http://127\.0\.0\.1:\d+/api)")
        assert len(found) == 1
        api = found[0].group(1)
        call("POST", "/metadata/workflow", {"name": "greet", "version": 1, "tasks": [
            {"name": TASK, "taskReferenceName": "g", "inputParameters": {"name": "${workflow.input.name}"}}],
            "outputParameters": {"greeting": "${g.output.greeting}"}})
        first = call("POST", "/workflow/greet", {"name": "ada"})
        assert greeting(first) == "Hello, ada"
        stamp = workers.stat().st_mtime_ns
        workers.write_text(WORKERS.format(word="Bonjour"))
        os.utime(workers, ns=(stamp + 10**9, stamp + 10**9))
        wait_until(lambda: len(lines(rf"worker {TASK} \(pid \d+\) is ready")) == 2, "the restarted worker")
        assert len(lines(r"embedded dev server at")) == 1  # started once, by the watcher
        assert greeting(first) == "Hello, ada"  # still there, on the same address
        assert greeting(call("POST", "/workflow/greet", {"name": "bob"})) == "Bonjour, bob"
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
        print(log_path.read_text(errors="replace"))


def test_the_watcher_sees_edits_additions_and_removals(tmp_path: Path) -> None:
    workers = _write_app(tmp_path, "Hello")
    (tmp_path / "reload_app" / "__pycache__").mkdir()
    (tmp_path / "reload_app" / "__pycache__" / "ignored.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    try:
        roots = watched_roots(["reload_app.workers", "no_such_module_here"])
    finally:
        sys.path.remove(str(tmp_path))
    assert [r.resolve() for r in roots] == [(tmp_path / "reload_app").resolve()]
    watcher = SourceWatcher(roots)
    assert watcher.count == 2 and watcher.changed() == []
    stamp = workers.stat().st_mtime_ns
    os.utime(workers, ns=(stamp + 10**9, stamp + 10**9))
    added = tmp_path / "reload_app" / "more.py"
    added.write_text("")
    assert watcher.changed() == sorted([str(workers), str(added)])
    added.unlink()
    assert watcher.changed() == [str(added)]
    assert watcher.changed() == []
