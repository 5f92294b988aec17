"""The pytest plugin: installed through the ``pytest11`` entry point, so a user's project gets the
``conductor_dev_server`` and ``conductor_workers`` fixtures without any conftest or import.

The project-like checks run pytest in a subprocess, in an empty directory with only a test file.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _support.cli_apps import WAIT

import conductor_actors.pytest_plugin

USER_TESTS = '''
    """A user's test module: no conftest, no import of the plugin."""
    import threading
    import time
    import urllib.error
    import urllib.request

    from conductor_actors import worker_task

    @worker_task(task_definition_name="plugin_square", thread_count=2)
    def square(n: int) -> dict:
        return {"square": n * n}

    @worker_task(task_definition_name="plugin_add_one")
    async def add_one(square: int) -> dict:
        return {"result": square + 1}

    WORKFLOW = {
        "name": "plugin_flow", "version": 1, "schemaVersion": 2,
        "tasks": [
            {"name": "plugin_square", "taskReferenceName": "sq", "inputParameters": {"n": "${workflow.input.n}"}},
            {"name": "plugin_add_one", "taskReferenceName": "add",
             "inputParameters": {"square": "${sq.output.square}"}},
        ],
        "outputParameters": {"result": "${add.output.result}"},
    }
    SEEN = {}

    def test_workers_run_a_workflow(conductor_dev_server, conductor_workers):
        conductor_dev_server.register_workflow(WORKFLOW)
        conductor_workers(square, add_one)
        SEEN["threads"] = [t for t in threading.enumerate() if t.name.startswith("plugin_")]
        SEEN["url"] = conductor_dev_server.url
        workflow = conductor_workers.run_workflow("plugin_flow", {"n": 7})
        assert workflow["status"] == "COMPLETED"
        assert workflow["output"] == {"result": 50}

    def test_the_workers_and_the_server_were_stopped_at_teardown():
        threads = SEEN["threads"]
        assert {t.name.rsplit("-", 1)[0] for t in threads} >= {"plugin_square", "plugin_add_one"}
        assert [t.name for t in threads if t.name.endswith(("-poller", "-loop")) and t.is_alive()] == []
        deadline = time.monotonic() + 10
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [t.name for t in threads if t.is_alive()] == []
        try:
            urllib.request.urlopen(SEEN["url"] + "/metadata/taskdefs", timeout=5)
        except urllib.error.URLError as refused:
            assert "refused" in str(refused).lower()
        else:
            raise AssertionError("the dev server still answers after the test")
'''


@pytest.fixture
def user_project(tmp_path: Path) -> Path:
    """An empty directory with one test file, as in a user's project."""
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TESTS))
    return tmp_path


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("CONDUCTOR", "PYTEST"))}
    env["CONDUCTOR_ACTORS_STATE_DIR"] = str(project / "state")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=project, env=env,
        capture_output=True, text=True, timeout=WAIT * 2, stdin=subprocess.DEVNULL,
    )


def test_the_plugin_is_declared_as_a_pytest11_entry_point(pytestconfig: pytest.Config) -> None:
    entry_points = [ep for ep in importlib.metadata.entry_points(group="pytest11") if ep.name == "conductor_actors"]
    assert [ep.value for ep in entry_points] == ["conductor_actors.pytest_plugin"]
    assert pytestconfig.pluginmanager.get_plugin("conductor_actors") is conductor_actors.pytest_plugin


def test_a_project_without_conftest_lists_the_fixtures(user_project: Path) -> None:
    listing = run_pytest(user_project, "--fixtures")
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert "fixtures defined from conductor_actors.pytest_plugin" in listing.stdout
    section = listing.stdout.split("fixtures defined from conductor_actors.pytest_plugin", 1)[1]
    for fixture in ("conductor_dev_server", "conductor_workers"):
        assert f"\n{fixture} -- " in section, listing.stdout


def test_a_project_without_conftest_uses_the_fixtures_and_they_clean_up(user_project: Path) -> None:
    """Workers of both flavours run a workflow to completion; after the test its workers are stopped
    and its dev server is closed."""
    done = run_pytest(user_project, "-q", "test_user.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_without_the_plugin_the_fixtures_do_not_exist(user_project: Path) -> None:
    """The fixtures come from the entry point: disabling the plugin by its name removes them."""
    done = run_pytest(user_project, "-q", "-p", "no:conductor_actors", "test_user.py")
    assert done.returncode != 0
    assert "fixture 'conductor_dev_server' not found" in done.stdout
