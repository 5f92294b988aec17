"""``--reload``: editing a worker module's source restarts the worker processes, and the next task
runs the new code. A real CLI process over an application written into the test's directory."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from _support.cli_apps import WAIT, one_task_workflow, process_gone, wait_until
from _support.cli_tree import CLI, CliTree, finish_trees, hermetic_env

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
    tree = CliTree([*CLI, "--reload", "reload_app.workers"],
                   hermetic_env(tmp_path / "state", server_url=dev_server.url), tmp_path / "cli.log", cwd=tmp_path)
    try:
        tree.wait_ready(TASK)
        assert tree.matches(
            r"conductor_actors\.reload: --reload is for development: watching 2 file\(s\) under .*reload_app")
        assert _greeting(dev_server, workflow) == "Hello, ada"
        first = tree.started_pids(TASK)
        stamp = workers.stat().st_mtime_ns
        workers.write_text(WORKERS.format(word="Bonjour"))
        os.utime(workers, ns=(stamp + 10**9, stamp + 10**9))  # a new mtime even on a coarse clock
        tree.wait_for(r"reload_app/workers\.py changed; restarting the workers", "the reload line")
        tree.wait_ready(TASK, count=2)
        assert all(process_gone(pid) for pid in first)
        assert _greeting(dev_server, workflow) == "Bonjour, ada"
        assert tree.stop() == 0, tree.log()
        assert all(process_gone(pid) for pid in tree.worker_pids())
    finally:
        finish_trees([tree])


def test_with_the_dev_server_a_reload_keeps_the_server_and_its_workflows(tmp_path: Path) -> None:
    """``--reload --dev-server``: the embedded server lives in the watcher, so a restart of the
    workers keeps its address (the web page stays open) and every definition and workflow on it."""
    workers = _write_app(tmp_path, "Hello")
    tree = CliTree(
        [*CLI, "--reload", "--dev-server=0", "reload_app.workers"],
        hermetic_env(tmp_path / "state", extra={"CONDUCTOR_AUTH_KEY": "ignored", "CONDUCTOR_AUTH_SECRET": "x"}),
        tmp_path / "cli.log", cwd=tmp_path,
    )

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
        tree.wait_ready(TASK)
        found = tree.matches(r"embedded dev server at (http://127\.0\.0\.1:\d+/api)")
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
        tree.wait_ready(TASK, count=2)
        assert len(tree.matches(r"embedded dev server at")) == 1  # started once, by the watcher
        assert greeting(first) == "Hello, ada"  # still there, on the same address
        assert greeting(call("POST", "/workflow/greet", {"name": "bob"})) == "Bonjour, bob"
        assert tree.stop() == 0, tree.log()
    finally:
        finish_trees([tree])


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
