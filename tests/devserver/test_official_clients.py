"""The official SDK's own workflow, metadata and task clients (conductor-python 2.0.0) drive the dev
server: definitions registered, listed and deleted; workflows started, searched, paused, resumed,
terminated, restarted, retried, rerun, skipped, given variables, looked up by correlation id,
executed synchronously and removed; tasks finished by reference name.

The official package is installed from PyPI into a virtual environment of this test's own (never a
dependency of conductor_actors), once per session. The test skips, saying why, only when it
cannot be installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conductor_actors.devserver import DevServer

pytestmark = pytest.mark.slow

OFFICIAL_SDK = "conductor-python==2.0.0"
INSTALL_TIMEOUT = 600.0
RUN_TIMEOUT = 120.0

#: Runs against CONDUCTOR_SERVER_URL and prints one JSON object of what it saw.
PROGRAM = '''\
import json

from conductor.client.configuration.configuration import Configuration
from conductor.client.http.models.rerun_workflow_request import RerunWorkflowRequest
from conductor.client.http.models.skip_task_request import SkipTaskRequest
from conductor.client.http.models.start_workflow_request import StartWorkflowRequest
from conductor.client.http.models.workflow_def import WorkflowDef
from conductor.client.http.models.workflow_task import WorkflowTask
from conductor.client.orkes.orkes_metadata_client import OrkesMetadataClient
from conductor.client.orkes.orkes_task_client import OrkesTaskClient
from conductor.client.orkes.orkes_workflow_client import OrkesWorkflowClient

configuration = Configuration()
metadata = OrkesMetadataClient(configuration)
workflows = OrkesWorkflowClient(configuration)
tasks = OrkesTaskClient(configuration)
seen = {}


def simple(name):
    return WorkflowTask(name=name, task_reference_name=name + "_ref", type="SIMPLE",
                        input_parameters={"x": "${workflow.input.x}"}, retry_count=0)


metadata.register_workflow_def(WorkflowDef(name="sdk_two", version=1, schema_version=2, timeout_seconds=0,
                                           tasks=[simple("one"), simple("two")]), overwrite=True)
metadata.register_workflow_def(WorkflowDef(
    name="sdk_switch", version=1, schema_version=2, timeout_seconds=0,
    tasks=[WorkflowTask(name="route", task_reference_name="route", type="SWITCH", evaluator_type="value-param",
                        expression="kind", input_parameters={"kind": "${workflow.input.kind}"},
                        decision_cases={"a": [WorkflowTask(name="set", task_reference_name="set",
                                                           type="SET_VARIABLE", input_parameters={"v": 1})]},
                        default_case=[])],
    output_parameters={"v": "${workflow.variables.v}"}), overwrite=True)
seen["listed"] = sorted(d.name for d in metadata.get_all_workflow_defs())
seen["got_version"] = metadata.get_workflow_def("sdk_two").version

start = lambda: workflows.start_workflow(StartWorkflowRequest(name="sdk_two", version=1, input={"x": 1},
                                                              correlation_id="sdk-corr"))
first = start()
workflows.pause_workflow(first)
seen["paused"] = workflows.get_workflow(first, include_tasks=False).status
workflows.resume_workflow(first)
seen["resumed"] = workflows.get_workflow_status(first).status
tasks.update_task_by_ref_name(first, "one_ref", "COMPLETED", {"done": 1})
tasks.update_task_by_ref_name(first, "two_ref", "FAILED", {})
seen["failed"] = workflows.get_workflow(first).status
workflows.retry_workflow(first)
seen["retried"] = [t.status for t in workflows.get_workflow(first).tasks]
tasks.update_task_by_ref_name(first, "two_ref", "COMPLETED", {"done": 2})
seen["completed"] = workflows.get_workflow(first).status
one_task = workflows.get_workflow(first).tasks[0]
seen["rerun_id"] = workflows.rerun_workflow(first, RerunWorkflowRequest(re_run_from_task_id=one_task.task_id,
                                                                        task_input={"x": 9}))
seen["rerun_input"] = workflows.get_workflow(first).tasks[-1].input_data
workflows.terminate_workflow(first, reason="enough")
terminated = workflows.get_workflow(first, include_tasks=False)
seen["terminated"] = [terminated.status, terminated.reason_for_incompletion]
workflows.restart_workflow(first)
seen["restarted"] = workflows.get_workflow(first, include_tasks=False).status

second = start()
workflows.skip_task_from_workflow(second, "two_ref", SkipTaskRequest(task_output={"skipped": True}))
workflows.update_variables(second, {"k": "v"})
seen["variables"] = workflows.get_workflow_status(second, include_variables=True).variables
found = workflows.search(query="workflowType IN (sdk_two) AND status IN (RUNNING)")
seen["search"] = [len(found.results), sorted(s.workflow_id for s in found.results) == sorted([first, second])]
seen["correlated"] = sorted(len(v) for v in workflows.get_by_correlation_ids("sdk_two", ["sdk-corr"]).values())
run = workflows.execute_workflow(StartWorkflowRequest(name="sdk_switch", version=1, input={"kind": "a"}),
                                 request_id="req-1", wait_for_seconds=5)
seen["executed"] = [run.status, run.output]
workflows.terminate_workflow(second)
workflows.remove_workflow(second)
try:
    workflows.get_workflow(second)
    seen["removed"] = False
except Exception as exc:  # the official client raises ApiException for the 404
    seen["removed"] = getattr(exc, "status", None)
metadata.unregister_workflow_def("sdk_switch", 1)
seen["after_delete"] = sorted(d.name for d in metadata.get_all_workflow_defs())
print("SEEN " + json.dumps(seen), flush=True)
'''


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=INSTALL_TIMEOUT, stdin=subprocess.DEVNULL,
                          check=False)


@pytest.fixture(scope="session")
def official_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The python of a fresh virtual environment holding only the official SDK."""
    venv = tmp_path_factory.mktemp("official-clients") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=INSTALL_TIMEOUT)
    python = venv / "bin" / "python"
    installed = _pip(python, OFFICIAL_SDK)
    if installed.returncode != 0:
        last = (installed.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"{OFFICIAL_SDK} cannot be installed here: {last}")
    yield python


def test_the_official_clients_drive_the_management_endpoints(official_python: Path, dev_server: DevServer,
                                                             tmp_path: Path) -> None:
    program = tmp_path / "official_clients.py"
    program.write_text(PROGRAM)
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONDUCTOR_")}
    env["CONDUCTOR_SERVER_URL"] = dev_server.url
    done = subprocess.run([str(official_python), str(program)], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT, env=env, cwd=str(tmp_path), stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("SEEN "))
    seen: dict[str, Any] = json.loads(line[len("SEEN "):])
    assert seen["listed"] == ["sdk_switch", "sdk_two"] and seen["got_version"] == 1
    assert seen["paused"] == "PAUSED" and seen["resumed"] == "RUNNING"
    assert seen["failed"] == "FAILED"
    assert seen["retried"] == ["COMPLETED", "FAILED", "SCHEDULED"]
    assert seen["completed"] == "COMPLETED"
    assert seen["rerun_id"] and seen["rerun_input"] == {"x": 9}
    assert seen["terminated"] == ["TERMINATED", "enough"] and seen["restarted"] == "RUNNING"
    assert seen["variables"] == {"k": "v"}
    assert seen["search"] == [2, True] and seen["correlated"] == [2]
    assert seen["executed"] == ["COMPLETED", {"v": 1}]
    assert seen["removed"] == 404
    assert seen["after_delete"] == ["sdk_two"]
