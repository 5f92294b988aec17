"""The official SDK's own workflow, metadata and task clients (conductor-python 2.0.0) drive the dev
server: definitions registered, listed and deleted; workflows started, searched, paused, resumed,
terminated, restarted, retried, rerun, skipped, given variables, looked up by correlation id,
executed synchronously and removed; tasks finished by reference name.

The official package is installed from PyPI into a virtual environment of this test's own (never a
dependency of conductor_actors), once per session. The test skips, saying why, only when it
cannot be installed.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import subprocess
import sys
import threading
import urllib.request
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


#: The official SDK's workflow-as-code classes, as its README shows them: ``ConductorWorkflow`` sends
#: its definition with the start request (never registered) and each task type has its class.
#: HTTP_URL is a loopback server of the test's; prints one JSON object of what it saw.
DSL_PROGRAM = '''\
import json
import sys

from conductor.client.configuration.configuration import Configuration
from conductor.client.orkes_clients import OrkesClients
from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.task.do_while_task import LoopTask
from conductor.client.workflow.task.dynamic_fork_task import DynamicForkTask
from conductor.client.workflow.task.dynamic_task import DynamicTask
from conductor.client.workflow.task.fork_task import ForkTask
from conductor.client.workflow.task.http_task import HttpTask
from conductor.client.workflow.task.human_task import HumanTask
from conductor.client.workflow.task.inline import InlineTask
from conductor.client.workflow.task.join_task import JoinTask
from conductor.client.workflow.task.json_jq_task import JsonJQTask
from conductor.client.workflow.task.set_variable_task import SetVariableTask
from conductor.client.workflow.task.sub_workflow_task import SubWorkflowTask
from conductor.client.workflow.task.switch_task import SwitchTask
from conductor.client.workflow.task.terminate_task import TerminateTask, WorkflowStatus
from conductor.client.workflow.task.wait_task import WaitForDurationTask

clients = OrkesClients(Configuration())
executor, workflows, tasks = clients.get_workflow_executor(), clients.get_workflow_client(), clients.get_task_client()
seen = {}


def flow(name, *steps, output=None):
    workflow = ConductorWorkflow(executor=executor, name=name, version=1)
    for step in steps:
        workflow.add(step)
    if output is not None:
        workflow.output_parameters(output)
    return workflow


def inline(ref, script, **bindings):
    return InlineTask(ref, "(function () { return " + script + "; })();", bindings=bindings)


def variable(ref, **values):
    task = SetVariableTask(ref)
    task.input_parameters.update(values)
    return task


route = SwitchTask("route", "${workflow.input.kind}")
route.switch_case("a", [variable("picked_a", picked="a")]).default_case([variable("picked_other", picked="other")])
by_js = SwitchTask("by_js", "$.n > 1 ? 'big' : 'small'", use_javascript=True)
by_js.input_parameters.update({"n": "${workflow.input.n}"})
by_js.switch_case("big", [variable("big", size="big")])
run = flow("dsl_switch", route, by_js, output={"picked": "${workflow.variables.picked}",
                                               "size": "${workflow.variables.size}"}).execute({"kind": "a", "n": 2})
seen["switch"] = [run.status, run.output]

fork = ForkTask("fork", [[inline("left", "$.a + 1", a="${workflow.input.a}")],
                         [inline("right", "$.a * 2", a="${workflow.input.a}")]], join_on=["left", "right"])
loop = LoopTask("loop", 3, [inline("body", "1")])
jq = JsonJQTask("jq", ".a + .b")
jq.input_parameters.update({"a": "${left.output.result}", "b": "${right.output.result}"})
call = HttpTask("call", {"uri": sys.argv[1], "method": "GET"})
run = flow("dsl_mixed", fork, loop, jq, call,
           output={"sum": "${jq.output.result}", "iterations": "${loop.output.iteration}",
                   "status": "${call.output.response.statusCode}", "body": "${call.output.response.body}"}
           ).execute({"a": 3})
seen["mixed"] = [run.status, run.output]

child = flow("dsl_child", variable("in_child", child=True), output={"from_child": "yes"})
child.register(overwrite=True)
ending = flow("dsl_end", SubWorkflowTask("sub", "dsl_child", 1),
              TerminateTask("stop", WorkflowStatus.COMPLETED, "done early"), variable("never", never=True))
run = ending.execute({})
seen["sub_and_terminate"] = [run.status, [t.reference_task_name for t in run.tasks], run.output]

spread = DynamicForkTask("spread", join_task=JoinTask("spread_join"))
spread.input_parameters.update({
    "dynamicTasks": [{"name": "d1", "taskReferenceName": "d1", "type": "INLINE",
                      "inputParameters": {"evaluatorType": "javascript", "expression": "$.v * 10", "v": 4}}],
    "dynamicTasksInputs": {"d1": {"v": 4}}})
pick = DynamicTask("${workflow.input.worker}", "pick")
approve = HumanTask("approve")
later = flow("dsl_later", spread, pick, approve, WaitForDurationTask("nap", 3600),
             output={"spread": "${spread_join.output}", "picked": "${pick.output.result.r}",
                     "approved": "${approve.output.result.ok}"})  # the client sends the output as {"result": ...}
workflow_id = later.start_workflow_with_input({"worker": "some_worker"}, correlation_id="dsl")
tasks.update_task_by_ref_name(workflow_id, "pick", "COMPLETED", {"r": 7})
tasks.update_task_by_ref_name(workflow_id, "approve", "COMPLETED", {"ok": True})
state = workflows.get_workflow(workflow_id, include_tasks=True)
seen["later"] = [state.status, [(t.reference_task_name, t.task_type, t.status) for t in state.tasks]]
seen["later_id"] = workflow_id
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


def test_the_official_workflow_as_code_classes_run_every_task_type(official_python: Path, dev_server: DevServer,
                                                                   tmp_path: Path) -> None:
    pytest.importorskip("py_mini_racer", reason="JavaScript needs the js extra: pip install 'conductor-actors[js]'")
    pytest.importorskip("jq", reason="JSON_JQ_TRANSFORM needs the jq extra: pip install 'conductor-actors[jq]'")
    program = tmp_path / "official_dsl.py"
    program.write_text(DSL_PROGRAM)
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONDUCTOR_")}
    env["CONDUCTOR_SERVER_URL"] = dev_server.url
    with _loopback_json_server({"hello": "world"}) as url:
        done = subprocess.run([str(official_python), str(program), url], capture_output=True, text=True,
                              timeout=RUN_TIMEOUT, env=env, cwd=str(tmp_path), stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("SEEN "))
    seen: dict[str, Any] = json.loads(line[len("SEEN "):])
    assert seen["switch"] == ["COMPLETED", {"picked": "a", "size": "big"}]
    assert seen["mixed"] == ["COMPLETED", {"sum": 10, "iterations": 3, "status": 200, "body": {"hello": "world"}}]
    status, refs, output = seen["sub_and_terminate"]
    assert status == "COMPLETED" and refs == ["sub", "stop"] and output == {}
    status, steps = seen["later"]
    assert status == "RUNNING"
    assert [step[0] for step in steps] == ["spread", "d1", "spread_join", "pick", "approve", "nap"], steps
    assert steps[-1] == ["nap", "WAIT", "IN_PROGRESS"]
    # The hour of the WAIT passes on the server clock; the definition was never registered.
    dev_server.advance_clock(3600)
    workflow_id = seen["later_id"]
    assert dev_server.wait_for_workflows([workflow_id], timeout=30) == {workflow_id: "COMPLETED"}
    output = dev_server.get_workflow(workflow_id)["output"]
    assert output == {"spread": {"d1": {"result": 40}}, "picked": 7, "approved": True}
    assert "dsl_later" not in [d["name"] for d in json.loads(_get(dev_server.url + "/metadata/workflow"))]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=RUN_TIMEOUT) as reply:
        return str(reply.read().decode())


@contextlib.contextmanager
def _loopback_json_server(body: Any) -> Iterator[str]:
    """A loopback HTTP server answering every GET with ``body`` as JSON; yields its URL."""
    payload = json.dumps(body).encode()

    class _Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hello"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
