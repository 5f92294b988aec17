"""The samples of ``docs/devserver.md`` and the checks of ``docs/secured-servers.md`` work as written.

The curl walk-through of devserver.md runs with ``sh`` against a dev server of the test's (the
page's ``127.0.0.1:8080`` becomes its address, nothing else changes) and must end with the
workflow COMPLETED and found by the search it shows; each Python sample runs as a script of its
own. The token checks of secured-servers.md run against a dev server with token auth. The shell
samples need ``curl`` and are skipped, saying so, where it is not installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _support.docs_tools import Block, fenced_blocks, page_text, run_shell

from conductor_actors.devserver import DevServer

PAGE = "devserver.md"
PAGE_ADDRESS = "http://127.0.0.1:8080"
RUN_TIMEOUT = 60.0

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="the page's shell samples use curl")


def _blocks(page: str, lang: str, heading: str) -> list[Block]:
    found = [b for b in fenced_blocks(page_text(page)) if b.lang == lang and b.heading == heading]
    assert found, f"{page} has no {lang} block under {heading!r}"
    return found


@pytest.fixture
def server() -> Iterator[DevServer]:
    with DevServer(port=0) as running:
        yield running


@needs_curl
def test_the_curl_walk_through_completes_a_workflow(server: DevServer, tmp_path: Path) -> None:
    (block,) = _blocks(PAGE, "bash", "Driving it with curl")
    assert PAGE_ADDRESS in block.body
    script = block.body.replace(PAGE_ADDRESS, server.url.removesuffix("/api"))
    done = run_shell(script, tmp_path)
    assert done.returncode == 0, done.stdout
    workflow_id = server.tasks()[0]["workflowInstanceId"]
    assert server.workflow_statuses([workflow_id]) == {workflow_id: "COMPLETED"}, done.stdout
    assert f'"workflowId":"{workflow_id}","status":"COMPLETED"' in done.stdout
    # curl prints the answers one after the other: the search's is the last.
    assert json.loads(done.stdout[done.stdout.rindex('{"totalHits"'):])["totalHits"] == 1, done.stdout


@needs_curl
def test_the_clock_commands_advance_a_wait(server: DevServer, tmp_path: Path) -> None:
    (block,) = _blocks(PAGE, "bash", "Time: the server clock")
    server.register_workflow({"name": "nap", "version": 1, "tasks": [
        {"name": "w", "taskReferenceName": "w", "type": "WAIT", "inputParameters": {"duration": "1 hour"}}]})
    workflow_id = server.start_workflow("nap")
    done = run_shell(block.body.replace(PAGE_ADDRESS, server.url.removesuffix("/api")), tmp_path)
    assert done.returncode == 0 and '"timeMillis"' in done.stdout, done.stdout
    assert server.workflow_statuses([workflow_id]) == {workflow_id: "COMPLETED"}


@pytest.mark.parametrize("index", range(len(_blocks(PAGE, "python", "Starting it") +
                                             _blocks(PAGE, "python", "Driving it from Python"))))
def test_each_python_sample_runs(index: int, tmp_path: Path) -> None:
    block = (_blocks(PAGE, "python", "Starting it") + _blocks(PAGE, "python", "Driving it from Python"))[index]
    script = tmp_path / "sample.py"
    script.write_text(block.body)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "http://127.0.0.1:" in done.stdout or "'status': 'COMPLETED'" in done.stdout, done.stdout


@needs_curl
def test_the_token_checks_of_the_secured_servers_page(tmp_path: Path) -> None:
    """A token back for the right key, a number of queued tasks with it, 401 for a wrong secret."""
    blocks = _blocks("secured-servers.md", "sh", "Checking that it works")
    assert len(blocks) == 2
    with DevServer(port=0, auth_key="local-key", auth_secret="local-secret") as server:
        env = {"CONDUCTOR_SERVER_URL": server.url, "CONDUCTOR_AUTH_KEY": "local-key",
               "CONDUCTOR_AUTH_SECRET": "local-secret"}
        token = run_shell(blocks[0].body, tmp_path, env)
        assert token.returncode == 0 and json.loads(token.stdout)["token"], token.stdout
        size = run_shell(blocks[1].body, tmp_path, env)
        assert size.returncode == 0 and size.stdout.strip() == "0", size.stdout
        refused = run_shell(blocks[0].body, tmp_path, {**env, "CONDUCTOR_AUTH_SECRET": "wrong"})
        assert json.loads(refused.stdout)["status"] == 401, refused.stdout
