"""Every shell command of the README, ``docs/metrics.md`` and ``docs/guarantees.md`` works as written.

The operating pages (configuration, deployment) have their own, stricter suite
(``test_page_commands.py``). The commands here start long-running worker trees, so each is run the
way a user runs it: started in a directory holding the example app ``my_app``, watched until every
worker process reports ready (and until what the command promises is there: a ``/metrics``
endpoint, a metrics file, polls reaching the server), then stopped with SIGTERM, after which it
must exit 0. One-shot commands (``--list``, ``outbox ...``) must exit 0 by themselves.

What is replaced before a command runs, and nothing else: the placeholders ``URL`` and ``DIR``
and the page's example Conductor address become a dev server on loopback and the test's state
directory; a fixed metrics port becomes a free one, and so does the embedded server's default port
(a bare ``--dev-server``) when something else on this machine holds it.
"""

from __future__ import annotations

import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _support.cli_tree import CliTree, finish_trees
from _support.docs_tools import Command, page_commands, page_env, prepare_workdir
from _support.ports import free_port, port_is_free

from conductor_actors import TaskResult, TaskResultStatus
from conductor_actors.cli import DEFAULT_DEV_SERVER_PORT
from conductor_actors.devserver import DevServer
from conductor_actors.recovery import DEFAULT_FILE_NAME, Journal

README = "../README.md"
PAGES = (README, "metrics.md", "guarantees.md")
#: The README's set-up commands are what CI runs (``.ci/run``) and what ``tests/examples`` runs.
SETUP_PREFIX = "python3 -m venv .venv"
#: The example app's workers: a tree of them is up when each has said so.
EXAMPLE_WORKERS = ("process_order", "send-email")
START_DEADLINE = 60.0
STOP_DEADLINE = 45.0


@dataclass(frozen=True)
class Prepared:
    """A page command with its placeholders filled in, and what to check while it runs."""

    command: Command
    text: str
    metrics_port: int | None
    metrics_file: Path | None
    server_url: str | None


def _commands() -> list[Command]:
    return [c for page in PAGES for c in page_commands(page) if not c.text.startswith(SETUP_PREFIX)]


COMMANDS = _commands()


def _without_comment(text: str) -> str:
    return re.sub(r"\s+#.*$", "", text)


def _is_one_shot(text: str) -> bool:
    return bool(re.search(r"\s(outbox|--list|--help|--version)(\s|$)", _without_comment(text)))


def _prepare(command: Command, workdir: Path, server: DevServer) -> Prepared:
    text = _without_comment(command.text)
    uses_server = bool(re.search(r"\bURL\b|http://conductor:8080/api", text)) or "--dev-server" not in text
    text = re.sub(r"\bURL\b", server.url, text).replace("http://conductor:8080/api", server.url)
    text = re.sub(r"\bDIR\b", str(workdir / "state"), text)
    if re.search(r"--dev-server(\s|$)", text) and not port_is_free(DEFAULT_DEV_SERVER_PORT):
        text = re.sub(r"--dev-server(?=\s|$)", f"--dev-server={free_port()}", text)
    metrics_port = None
    port_match = re.search(r"--metrics-port[ =](\d+)", text)
    if port_match:
        metrics_port = free_port()
        text = text[:port_match.start()] + f"--metrics-port {metrics_port}" + text[port_match.end():]
    dir_match = re.search(r"--metrics-dir[ =](\S+)", text)
    metrics_file = workdir / dir_match.group(1) / "metrics.prom" if dir_match else None
    return Prepared(command, text, metrics_port, metrics_file, server.url if uses_server else None)


@pytest.fixture
def server() -> Iterator[DevServer]:
    with DevServer() as running:
        yield running


def test_the_pages_have_commands_of_both_kinds() -> None:
    """An empty parametrisation would pass silently: make sure the pages were read."""
    assert any(_is_one_shot(c.text) for c in COMMANDS)
    assert any(not _is_one_shot(c.text) for c in COMMANDS)
    assert {c.page for c in COMMANDS} == set(PAGES)


@pytest.mark.parametrize("command", [c for c in COMMANDS if _is_one_shot(c.text)],
                         ids=lambda c: f"{c.page}:{c.text[:60]}")
def test_one_shot_command_runs_as_written(command: Command, tmp_path: Path, server: DevServer) -> None:
    prepare_workdir(tmp_path, command.page)
    prepared = _prepare(command, tmp_path, server)
    if " outbox" in prepared.text:
        _seed_outbox(tmp_path / "state")
    done = subprocess.run(
        ["sh", "-c", prepared.text], cwd=tmp_path, env=page_env(tmp_path, {"CONDUCTOR_SERVER_URL": server.url}),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60,
    )
    assert done.returncode == command.expected_exit, f"`{prepared.text}` exited {done.returncode}\n{done.stdout}"
    if " outbox" in prepared.text:
        assert "no outbox journal" not in done.stdout and "outbox: error" not in done.stdout, done.stdout


def _seed_outbox(state_dir: Path) -> None:
    """A journal with something in every table, so that the outbox commands have work: entries
    #1-#3 pending, #4 closed, #5 dead (``retry 5`` on the page)."""
    journal = Journal(str(state_dir / DEFAULT_FILE_NAME))
    try:
        ids = [journal.add("send-email", TaskResult(task_id=f"t{n}", workflow_instance_id=f"w{n}",
                                                     status=TaskResultStatus.COMPLETED), error="HTTP 503")
               for n in range(1, 6)]
        assert ids == [1, 2, 3, 4, 5]
        journal.close_entry(ids[3], "the server already had a final result")
        journal.bury(ids[4], "older than max_age")
    finally:
        journal.close()


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c in COMMANDS if not _is_one_shot(c.text)],
                         ids=lambda c: f"{c.page}:{c.text[:60]}")
def test_worker_command_starts_serves_and_stops_cleanly(command: Command, tmp_path: Path,
                                                        tmp_path_factory: pytest.TempPathFactory,
                                                        server: DevServer) -> None:
    prepare_workdir(tmp_path, command.page)
    prepared = _prepare(command, tmp_path, server)
    # the log lives outside the working directory: the command sees only what a reader's would
    log_path = tmp_path_factory.mktemp("log") / "command.log"
    tree = CliTree(["-c", f"exec {prepared.text}"], page_env(tmp_path, {"CONDUCTOR_SERVER_URL": server.url}),
                   log_path, python="sh", cwd=tmp_path)
    try:
        _wait_ready(tree)
        if prepared.server_url is not None:
            tree.wait_until(lambda: _polled(server), "the workers' polls to reach the server", START_DEADLINE, 0.05)
        else:
            assert "embedded dev server at http://127.0.0.1:" in tree.log(), tree.log()
        if prepared.metrics_port is not None:
            port = prepared.metrics_port
            tree.wait_until(lambda: "task_poll_total" in _scrape(port), "/metrics to serve", START_DEADLINE, 0.05)
        if prepared.metrics_file is not None:
            metrics_file = prepared.metrics_file
            tree.wait_until(lambda: metrics_file.exists() and "task_poll_total" in metrics_file.read_text(),
                            f"{metrics_file.name} to be written", START_DEADLINE, 0.05)
        code = tree.stop(timeout=STOP_DEADLINE)
    finally:
        finish_trees([tree])
    assert code == 0, f"`{prepared.text}` exited {code} on SIGTERM\n" + tree.log()


def _wait_ready(tree: CliTree) -> None:
    """Until every example worker has logged ``worker <name> ... is ready``, within one deadline."""
    deadline = time.monotonic() + START_DEADLINE
    for name in EXAMPLE_WORKERS:
        tree.wait_for(rf"worker {re.escape(name)}\S* \(pid \d+\) is ready", f"worker {name} to be ready",
                      timeout=max(0.0, deadline - time.monotonic()))


def _polled(server: DevServer) -> bool:
    seen = server.stats()
    return bool(seen.get("poll_batch") or seen.get("poll"))


def _scrape(port: int | None) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return str(response.read().decode())
    except OSError:
        return ""
