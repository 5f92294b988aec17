"""``--dev-server=0``: the CLI runs an embedded server on a free port and its workers use it."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

from _support.cli_apps import SLEEPY_TASK, wait_until

from conductor_actors import ConductorClient, Configuration
from conductor_actors.cli import EXIT_OK

if TYPE_CHECKING:
    from .conftest import StartCli


def test_dev_server_option_runs_workflows_end_to_end(cli: StartCli, flavour: str) -> None:
    """``--dev-server=0``: the log names the embedded server's URL; a workflow registered and
    started through ``ConductorClient`` at that URL is run by the CLI's worker to completion; SIGTERM -> 0."""
    run = cli("--dev-server=0", "_support.cli_apps.sleepy", flavour=flavour)
    found = run.wait_for(r"embedded dev server at (http://127\.0\.0\.1:(\d+)/api)", "the dev server URL")
    url, port = found[0].group(1), int(found[0].group(2))
    assert port != 0
    worker_pid = run.wait_ready(SLEEPY_TASK)

    client = ConductorClient(Configuration(server_api_url=url))
    try:
        client.register_workflow_def({
            "name": "dev_server_flow", "version": 1, "schemaVersion": 2,
            "tasks": [{"name": SLEEPY_TASK, "taskReferenceName": "nap",
                       "inputParameters": {"seconds": "${workflow.input.seconds}",
                                           "index": "${workflow.input.index}"}}],
            "outputParameters": {"pid": "${nap.output.pid}", "index": "${nap.output.index}"},
        })
        ids = [client.start_workflow("dev_server_flow", {"seconds": 0.01, "index": i}) for i in range(20)]

        def all_finished() -> list[dict[str, Any]]:
            workflows = [client.get_workflow(i, include_tasks=False) for i in ids]
            return workflows if all(w["status"] != "RUNNING" for w in workflows) else []

        workflows = wait_until(all_finished, "the workflows to finish", interval=0.1)
    finally:
        client.close()
    assert [w["status"] for w in workflows] == ["COMPLETED"] * len(ids)
    assert [w["output"] for w in workflows] == [{"pid": worker_pid, "index": i} for i in range(len(ids))]
    run.send(signal.SIGTERM)
    assert run.wait_exit() == EXIT_OK, run.tail()
