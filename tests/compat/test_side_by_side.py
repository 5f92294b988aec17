"""``conductor-python`` 2.0.0 and conductor_actors installed in one fresh virtual environment work
together, as docs/migrating.md describes: one program registers a workflow with the official SDK's
metadata client, starts it once with each package's workflow client, runs the workers with
conductor_actors, and reads each workflow back with the other package's client, against the
test's dev server.

The environment is built once per test session from PyPI (the official SDK) and a copy of this
checkout (a regular, non-editable install). The test skips, saying why, only when the official package cannot
be installed; a failure to install conductor_actors fails it.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _support.cli_apps import WAIT, wait_until
from _support.cli_tree import CliTree, hermetic_env

pytestmark = pytest.mark.slow

OFFICIAL_SDK = "conductor-python==2.0.0"
REPO = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 600.0
#: What a copy of the checkout leaves out: environments, history, build output and caches.
_NOT_SOURCE = (".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".work", ".mypy_cache",
               ".ruff_cache", ".pytest_cache", "tests")

#: The program: official clients for the workflow, conductor_actors for the workers.
PROGRAM = '''\
import sys

from conductor.client.configuration.configuration import Configuration as OfficialConfiguration
from conductor.client.http.models.start_workflow_request import StartWorkflowRequest
from conductor.client.http.models.workflow_def import WorkflowDef
from conductor.client.http.models.workflow_task import WorkflowTask
from conductor.client.orkes.orkes_metadata_client import OrkesMetadataClient
from conductor.client.orkes.orkes_workflow_client import OrkesWorkflowClient

from conductor_actors import Configuration, TaskHandler, WorkflowClient, worker_task
from conductor_actors import StartWorkflowRequest as OurStartWorkflowRequest


@worker_task(task_definition_name="side_by_side_shout")
def shout(text: str) -> dict:
    return {"loud": text.upper()}


@worker_task(task_definition_name="side_by_side_count")
async def count(text: str) -> dict:
    return {"letters": len(text)}


if __name__ == "__main__":
    official = OfficialConfiguration()  # CONDUCTOR_SERVER_URL, as for conductor_actors
    OrkesMetadataClient(official).register_workflow_def(WorkflowDef(
        name="side_by_side", version=1, schema_version=2, timeout_seconds=0,
        tasks=[WorkflowTask(name="side_by_side_shout", task_reference_name="shout", type="SIMPLE",
                            input_parameters={"text": "${workflow.input.text}"}),
               WorkflowTask(name="side_by_side_count", task_reference_name="count", type="SIMPLE",
                            input_parameters={"text": "${shout.output.loud}"})],
        output_parameters={"loud": "${shout.output.loud}", "letters": "${count.output.letters}"},
    ), overwrite=True)
    workflows = OrkesWorkflowClient(official)
    workflow_id = workflows.start_workflow(StartWorkflowRequest(name="side_by_side", version=1,
                                                                input={"text": "both at once"}))
    ours = WorkflowClient(Configuration())
    our_id = ours.start_workflow(OurStartWorkflowRequest(name="side_by_side", input={"text": "ours"}))
    print("Workflow started:", workflow_id, our_id, flush=True)
    try:
        with TaskHandler(configuration=Configuration()) as handler:
            handler.join_processes()
    except KeyboardInterrupt:
        pass
    for read_by, other_id in ((workflows, our_id), (ours, workflow_id)):
        workflow = read_by.get_workflow(other_id, include_tasks=False)
        print("Final:", type(read_by).__module__, workflow.status, workflow.output, flush=True)
    sys.exit(0)
'''


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=INSTALL_TIMEOUT, stdin=subprocess.DEVNULL,
                          check=False)


@pytest.fixture(scope="session")
def both_installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The python of a fresh virtual environment holding both packages."""
    venv = tmp_path_factory.mktemp("side-by-side") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=INSTALL_TIMEOUT)
    python = venv / "bin" / "python"
    official = _pip(python, OFFICIAL_SDK)
    if official.returncode != 0:
        last = (official.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"{OFFICIAL_SDK} cannot be installed here: {last}")
    # From a clean copy of the checkout: an in-tree build would reuse (and leave) a build/ folder.
    source = venv.parent / "conductor-actors"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*_NOT_SOURCE))
    ours = _pip(python, str(source))
    assert ours.returncode == 0, f"installing conductor_actors next to {OFFICIAL_SDK} failed:\n{ours.stderr}"
    yield python


def test_both_packages_import_in_one_environment(both_installed: Path) -> None:
    done = subprocess.run(
        [str(both_installed), "-c",
         "import conductor.client, conductor_actors, importlib.metadata as m;"
         "print(m.version('conductor-python'), m.version('conductor-actors'), conductor_actors.__version__)"],
        capture_output=True, text=True, timeout=WAIT, check=False, cwd=str(both_installed.parent))
    assert done.returncode == 0, done.stderr
    official, ours, module_version = done.stdout.split()
    assert official == "2.0.0"
    assert ours == module_version


def test_official_workflow_client_and_our_workers_complete_a_workflow(
        both_installed: Path, dev_server: Any, tmp_path: Path) -> None:
    program = tmp_path / "side_by_side.py"
    program.write_text(PROGRAM)
    run = CliTree([str(program)], hermetic_env(tmp_path / "state", server_url=dev_server.url),
                  tmp_path / "side_by_side.log", python=str(both_installed))
    try:
        started = wait_until(lambda: re.search(r"^Workflow started: (\S+) (\S+)$", run.log(), re.MULTILINE),
                             "the program to start its workflows")
        ids = list(started.groups())
        assert dev_server.wait_for_workflows(ids, timeout=WAIT) == dict.fromkeys(ids, "COMPLETED")
        assert run.stop(signal.SIGINT) == 0
        lines = run.log().splitlines()
        assert ("Final: conductor.client.orkes.orkes_workflow_client COMPLETED {'loud': 'OURS', 'letters': 4}"
                in lines)
        assert ("Final: conductor_actors.client._workflows COMPLETED {'loud': 'BOTH AT ONCE', 'letters': 12}"
                in lines)
    finally:
        print(run.log()[-6000:])
        assert not run.kill_leftovers()
