"""``--dev-server``: the CLI runs an embedded server and every part of it (worker processes, outbox)
talks to that server. A bare ``--dev-server`` listens on the default port and never takes the
module name as its port; ``--dev-server=PORT`` chooses the port."""

from __future__ import annotations

import json
import signal
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from _support.cli_apps import SLEEPY_TASK, wait_until
from _support.ports import free_port, port_is_free

from conductor_actors import ConductorClient, Configuration
from conductor_actors.cli import DEFAULT_DEV_SERVER_PORT, EXIT_OK

if TYPE_CHECKING:
    from _support.cli_tree import CliTree

    from .conftest import StartCli

SCENARIO = "_support.cli_apps.sleepy"
#: The log line that names the embedded server's URL.
URL_LINE = r"embedded dev server at (http://127\.0\.0\.1:(\d+)/api)"


class EmbeddedServer:
    """The dev server running inside a CLI process, driven over HTTP from the test's thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = ConductorClient(Configuration(server_api_url=url))

    def start_workflows(self, count: int) -> list[str]:
        """Register a one-task workflow of the sleepy worker and start ``count`` of them; their ids."""
        self.client.register_workflow_def({
            "name": "dev_server_flow", "version": 1, "schemaVersion": 2,
            "tasks": [{"name": SLEEPY_TASK, "taskReferenceName": "nap",
                       "inputParameters": {"seconds": "${workflow.input.seconds}",
                                           "index": "${workflow.input.index}"}}],
            "outputParameters": {"pid": "${nap.output.pid}", "index": "${nap.output.index}"},
        })
        return [self.client.start_workflow("dev_server_flow", {"seconds": 0.01, "index": i}) for i in range(count)]

    def finished(self, ids: list[str]) -> list[dict[str, Any]]:
        """The workflows ``ids`` once none is RUNNING any more."""

        def all_finished() -> list[dict[str, Any]]:
            workflows = [self.client.get_workflow(i, include_tasks=False) for i in ids]
            return workflows if all(w["status"] != "RUNNING" for w in workflows) else []

        return wait_until(all_finished, "the workflows to finish", interval=0.1)

    def run_workflows(self, count: int) -> list[dict[str, Any]]:
        """Start ``count`` workflows and return them once they finished."""
        return self.finished(self.start_workflows(count))

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the server's admin API (``/__devserver__/<path>``, outside ``/api``)."""
        url = self.url.removesuffix("/api") + "/__devserver__/" + path
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def close(self) -> None:
        self.client.close()


def embedded_server(run: CliTree) -> EmbeddedServer:
    """The server the CLI ``run`` started, once its log names it."""
    return EmbeddedServer(run.wait_for(URL_LINE, "the dev server URL")[0].group(1))


@pytest.fixture
def default_port() -> Iterator[int]:
    """The default dev server port, once nothing listens on it (another run may still hold it)."""
    wait_until(lambda: port_is_free(DEFAULT_DEV_SERVER_PORT), f"port {DEFAULT_DEV_SERVER_PORT} to be free")
    yield DEFAULT_DEV_SERVER_PORT


def test_dev_server_option_runs_workflows_end_to_end(cli: StartCli, flavour: str) -> None:
    """``--dev-server=0``: the log names the embedded server's URL; a workflow registered and
    started through ``ConductorClient`` at that URL is run by the CLI's worker to completion; SIGTERM -> 0."""
    run = cli("--dev-server=0", SCENARIO, flavour=flavour)
    server = embedded_server(run)
    assert not server.url.endswith(":0/api")
    worker_pid = run.wait_ready(SLEEPY_TASK)
    try:
        workflows = server.run_workflows(20)
    finally:
        server.close()
    assert [w["status"] for w in workflows] == ["COMPLETED"] * 20
    assert [w["output"] for w in workflows] == [{"pid": worker_pid, "index": i} for i in range(20)]
    run.send(signal.SIGTERM)
    assert run.wait_exit() == EXIT_OK, run.tail()


@pytest.mark.parametrize("args", [("--dev-server", SCENARIO), (SCENARIO, "--dev-server")],
                         ids=["before the module", "after the module"])
def test_bare_dev_server_listens_on_the_default_port_and_runs_the_module(
    cli: StartCli, default_port: int, args: tuple[str, str]
) -> None:
    """A bare ``--dev-server`` before or after the module name: the module is imported (not read
    as a port), the server listens on the default port, tasks run there; SIGTERM -> 0."""
    run = cli(*args)
    server = embedded_server(run)
    assert server.url == f"http://127.0.0.1:{default_port}/api"
    worker_pid = run.wait_ready(SLEEPY_TASK)
    try:
        workflows = server.run_workflows(3)
    finally:
        server.close()
    assert [w["output"] for w in workflows] == [{"pid": worker_pid, "index": i} for i in range(3)]
    run.send(signal.SIGTERM)
    assert run.wait_exit() == EXIT_OK, run.tail()


def test_outbox_delivers_to_the_embedded_server(cli: StartCli) -> None:
    """With ``--dev-server`` (and ``CONDUCTOR_SERVER_URL`` pointing where nobody listens), a result
    whose updates all failed goes to the outbox, and the outbox delivers it to the embedded
    server once updates work again: the workflow completes there."""
    nowhere = f"http://127.0.0.1:{free_port()}/api"
    run = cli("--dev-server=0", SCENARIO, env={
        "CONDUCTOR_SERVER_URL": nowhere, "CONDUCTOR_ACTORS_RECOVERY_RETRY_BACKOFF_BASE": "0.1",
    })
    server = embedded_server(run)
    run.wait_ready(SLEEPY_TASK)
    try:
        server.admin("POST", "faults", {"endpoint": "update", "status": 503})
        ids = server.start_workflows(1)
        run.wait_for(rf"kept the result of {SLEEPY_TASK} task \S+ \(workflow {ids[0]}\) in the outbox",
                     "the result to reach the outbox")
        server.admin("DELETE", "faults")
        workflows = server.finished(ids)
    finally:
        server.close()
    assert [w["status"] for w in workflows] == ["COMPLETED"], run.tail()
    run.wait_for(rf"delivered the journalled result of {SLEEPY_TASK} task \S+ \(workflow {ids[0]}\)",
                 "the outbox's delivery line")
    run.send(signal.SIGTERM)
    assert run.wait_exit() == EXIT_OK, run.tail()
