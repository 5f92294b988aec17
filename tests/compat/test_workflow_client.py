"""The workflow and metadata clients with the official SDK's names and signatures, both flavours.

Official code that registers definitions and starts workflows runs on conductor_actors with its
imports changed: ``OrkesMetadataClient`` / ``MetadataClient`` (task and workflow definitions),
``OrkesWorkflowClient`` / ``WorkflowClient`` and ``WorkflowExecutor`` (start with a
``StartWorkflowRequest``, get, terminate), ``OrkesClients``; the async twins have the same methods
as coroutines. Against the dev server over loopback, and against a recording loopback server for
the wire form of the calls the dev server does not answer.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from client._scripted import OK, ScriptedServer

from conductor_actors import (
    AsyncMetadataClient,
    AsyncWorkflowClient,
    AsyncWorkflowExecutor,
    ConductorClient,
    Configuration,
    MetadataClient,
    NotFoundError,
    OrkesClients,
    OrkesMetadataClient,
    OrkesWorkflowClient,
    StartWorkflowRequest,
    TaskDef,
    TaskResult,
    TaskResultStatus,
    Workflow,
    WorkflowClient,
    WorkflowDef,
    WorkflowExecutor,
    WorkflowRun,
    WorkflowTask,
)


class Blocking:
    """Calls either flavour's client with plain calls: coroutines run on this object's own loop."""

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop | None) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if self._loop is None:
            return value
        if not callable(value):  # an executor's metadata_client / workflow_client
            return Blocking(value, self._loop) if hasattr(value, "aclose") else value
        loop = self._loop

        def call(*args: Any, **kwargs: Any) -> Any:
            return loop.run_until_complete(value(*args, **kwargs))

        return call


Make = Callable[[str, str], Blocking]

_SYNC = {"metadata": MetadataClient, "workflow": WorkflowClient, "executor": WorkflowExecutor}
_ASYNC = {"metadata": AsyncMetadataClient, "workflow": AsyncWorkflowClient, "executor": AsyncWorkflowExecutor}


@pytest.fixture
def make(flavour: str) -> Iterator[Make]:
    """``make(kind, api_url)``: a metadata / workflow client or executor of the test's flavour."""
    loop = asyncio.new_event_loop() if flavour == "async" else None
    made: list[Any] = []

    def build(kind: str, api_url: str) -> Blocking:
        client = (_SYNC if loop is None else _ASYNC)[kind](Configuration(server_api_url=api_url))
        made.append(client)
        return Blocking(client, loop)

    yield build
    for client in made:
        if loop is None:
            client.close()
        else:
            loop.run_until_complete(client.aclose())
    if loop is not None:
        loop.close()


def complete_next_task(api_url: str, task_type: str, output: dict[str, Any]) -> None:
    """Play the worker: poll one task of ``task_type`` and complete it with ``output``."""
    with ConductorClient(Configuration(server_api_url=api_url)) as tasks:
        [task] = tasks.batch_poll(task_type, count=1, timeout_ms=1000)
        result = TaskResult(task_id=task.task_id, workflow_instance_id=task.workflow_instance_id,
                            status=TaskResultStatus.COMPLETED, output_data=output)
        tasks.update_task(result)


def test_task_definitions_round_trip(make: Make, dev_server: Any) -> None:
    metadata = make("metadata", dev_server.url)
    metadata.register_task_def(TaskDef(name="compat_wf_task", retry_count=2, timeout_seconds=60,
                                       response_timeout_seconds=30))
    got = metadata.get_task_def("compat_wf_task")
    assert isinstance(got, TaskDef)
    assert (got.name, got.retry_count, got.timeout_seconds, got.response_timeout_seconds) == (
        "compat_wf_task", 2, 60, 30)
    got.description = "changed"
    metadata.update_task_def(got)
    assert metadata.get_task_def("compat_wf_task").description == "changed"
    assert "compat_wf_task" in [d.name for d in metadata.get_all_task_defs()]
    metadata.unregister_task_def("compat_wf_task")
    with pytest.raises(NotFoundError):
        metadata.get_task_def("compat_wf_task")


def test_workflow_definitions_round_trip_with_model_and_json_tasks(make: Make, dev_server: Any) -> None:
    metadata = make("metadata", dev_server.url)
    definition = WorkflowDef(
        name="compat_wf", version=1, description="two steps",
        tasks=[WorkflowTask(name="compat_step_a", task_reference_name="a", type="SIMPLE",
                            input_parameters={"x": "${workflow.input.x}"}),
               {"name": "compat_step_b", "taskReferenceName": "b", "type": "SIMPLE",
                "inputParameters": {"y": "${a.output.y}"}}],
        output_parameters={"z": "${b.output.z}"}, schema_version=2, timeout_seconds=0,
    )
    metadata.register_workflow_def(definition, overwrite=True)
    got = metadata.get_workflow_def("compat_wf")
    assert isinstance(got, WorkflowDef)
    assert (got.name, got.version, got.description) == ("compat_wf", 1, "two steps")
    assert [(t.name, t.task_reference_name, t.type) for t in got.tasks] == [
        ("compat_step_a", "a", "SIMPLE"), ("compat_step_b", "b", "SIMPLE")]
    assert all(isinstance(t, WorkflowTask) for t in got.tasks)
    assert got.tasks[1].input_parameters == {"y": "${a.output.y}"}
    assert got.output_parameters == {"z": "${b.output.z}"}

    second = WorkflowDef(name="compat_wf", version=2, tasks=got.tasks, schema_version=2, timeout_seconds=0)
    metadata.update_workflow_def(second)
    assert metadata.get_workflow_def("compat_wf").version == 2
    assert metadata.get_workflow_def("compat_wf", version=1).description == "two steps"
    with pytest.raises(NotFoundError):
        metadata.get_workflow_def("compat_no_such_wf")


def test_start_get_and_complete_a_workflow(make: Make, dev_server: Any) -> None:
    metadata = make("metadata", dev_server.url)
    workflows = make("workflow", dev_server.url)
    metadata.register_workflow_def(WorkflowDef(
        name="compat_run", version=1, schema_version=2, timeout_seconds=0,
        tasks=[WorkflowTask(name="compat_run_task", task_reference_name="only", type="SIMPLE",
                            input_parameters={"n": "${workflow.input.n}"})],
        output_parameters={"doubled": "${only.output.doubled}"}))
    request = StartWorkflowRequest()
    request.name = "compat_run"
    request.version = 1
    request.input = {"n": 21}
    request.correlation_id = "order-7"
    workflow_id = workflows.start_workflow(start_workflow_request=request)
    assert isinstance(workflow_id, str) and workflow_id

    running = workflows.get_workflow(workflow_id)
    assert isinstance(running, Workflow)
    assert (running.status, running.workflow_id, running.correlation_id) == ("RUNNING", workflow_id, "order-7")
    assert running.is_running() and not running.is_completed()
    assert running.input == {"n": 21}
    assert [t.task_def_name for t in running.tasks] == ["compat_run_task"]
    assert running.current_task is not None and running.current_task.input_data == {"n": 21}

    complete_next_task(dev_server.url, "compat_run_task", {"doubled": 42})
    done = workflows.get_workflow(workflow_id, include_tasks=False)
    assert (done.status, done.output, done.tasks) == ("COMPLETED", {"doubled": 42}, [])
    assert done.is_completed() and done.is_successful()
    finished = workflows.get_workflow(workflow_id)
    assert finished.get_task(task_reference_name="only").output_data == {"doubled": 42}

    by_name = workflows.start_workflow_by_name("compat_run", {"n": 1}, version=1, correlationId="c-1")
    assert workflows.get_workflow(by_name).correlation_id == "c-1"
    with pytest.raises(NotFoundError):
        workflows.get_workflow("no-such-workflow")


def test_the_executor_registers_and_starts(make: Make, dev_server: Any) -> None:
    executor = make("executor", dev_server.url)
    executor.register_workflow(WorkflowDef(
        name="compat_exec", version=1, schema_version=2, timeout_seconds=0,
        tasks=[WorkflowTask(name="compat_exec_task", task_reference_name="only", type="SIMPLE")]), True)
    ids = executor.start_workflows(StartWorkflowRequest(name="compat_exec", input={"i": 1}),
                                   StartWorkflowRequest(name="compat_exec", input={"i": 2}))
    assert len(set(ids)) == 2
    assert [executor.get_workflow(i, True).input for i in ids] == [{"i": 1}, {"i": 2}]
    assert executor.metadata_client.get_workflow_def("compat_exec").name == "compat_exec"


def test_a_start_request_without_a_name_is_refused_before_anything_is_sent(make: Make) -> None:
    workflows = make("workflow", "http://127.0.0.1:9/api")  # nothing listens there
    with pytest.raises(ValueError, match=r"StartWorkflowRequest\.name"):
        workflows.start_workflow(StartWorkflowRequest(input={"a": 1}))
    with pytest.raises(ValueError, match="StartWorkflowRequest"):
        workflows.start_workflow({"name": "x"})


class Recorder:
    """A loopback server answering 200 to each request and keeping its request line and body."""

    def __init__(self, answers: int) -> None:
        self.seen: list[tuple[str, bytes]] = []

        def record(conn: socket.socket, request: bytes) -> bool:
            head, _, body = request.partition(b"\r\n\r\n")
            self.seen.append((head.split(b"\r\n")[0].decode(), body))
            conn.sendall(OK)
            return True

        self.server = ScriptedServer([record] * answers)


@pytest.fixture
def recorder() -> Iterator[Callable[[int], Recorder]]:
    made: list[Recorder] = []

    def build(answers: int) -> Recorder:
        made.append(Recorder(answers))
        return made[-1]

    yield build
    for rec in made:
        rec.server.close()


def test_terminate_and_remove_send_the_official_requests(make: Make, recorder: Callable[[int], Recorder]) -> None:
    rec = recorder(5)
    workflows = make("workflow", rec.server.api_url)
    workflows.terminate_workflow("wf-1", reason="no longer needed")
    workflows.terminate_workflow("wf-2", reason="bad", trigger_failure_workflow=True)
    workflows.terminate_workflow("wf 3")
    workflows.delete_workflow("wf-4", archive_workflow=False)
    workflows.remove_workflow("wf-5")
    assert [line for line, _ in rec.seen] == [
        "DELETE /api/workflow/wf-1?reason=no%20longer%20needed HTTP/1.1",
        "DELETE /api/workflow/wf-2?reason=bad&triggerFailureWorkflow=true HTTP/1.1",
        "DELETE /api/workflow/wf%203 HTTP/1.1",
        "DELETE /api/workflow/wf-4/remove?archiveWorkflow=false HTTP/1.1",
        "DELETE /api/workflow/wf-5/remove HTTP/1.1",
    ]


def test_executor_terminate_and_definition_removal_send_the_official_requests(
        make: Make, recorder: Callable[[int], Recorder]) -> None:
    rec = recorder(3)
    executor = make("executor", rec.server.api_url)
    executor.terminate("wf-9", reason="stop")
    executor.metadata_client.unregister_workflow_def("flow", 3)
    executor.metadata_client.register_workflow_def(WorkflowDef(name="flow", tasks=[]), overwrite=False)
    assert [line for line, _ in rec.seen] == [
        "DELETE /api/workflow/wf-9?reason=stop HTTP/1.1",
        "DELETE /api/metadata/workflow/flow/3 HTTP/1.1",
        "POST /api/metadata/workflow?overwrite=false HTTP/1.1",
    ]
    assert rec.seen[2][1] == b'{"name":"flow","tasks":[],"outputParameters":{},"enforceSchema":false}'


def test_official_names_and_the_factory() -> None:
    assert OrkesMetadataClient is MetadataClient
    assert OrkesWorkflowClient is WorkflowClient
    clients = OrkesClients(Configuration(server_api_url="http://127.0.0.1:9/api"))
    try:
        assert isinstance(clients.get_metadata_client(), MetadataClient)
        assert isinstance(clients.get_workflow_client(), WorkflowClient)
        assert isinstance(clients.get_workflow_executor(), WorkflowExecutor)
    finally:
        clients.close()


def test_start_workflow_request_matches_the_official_model() -> None:
    request = StartWorkflowRequest(name="flow", input={"a": 1}, task_to_domain={"*": "blue"}, priority=3)
    assert request.to_dict() == {
        "name": "flow", "version": None, "correlation_id": None, "input": {"a": 1},
        "task_to_domain": {"*": "blue"}, "workflow_def": None, "external_input_payload_storage_path": None,
        "priority": 3, "created_by": None, "idempotency_key": None, "idempotency_strategy": "FAIL",
    }
    assert request.to_wire() == {"name": "flow", "input": {"a": 1}, "taskToDomain": {"*": "blue"}, "priority": 3}
    empty = StartWorkflowRequest()
    assert (empty.name, empty.input, empty.version, empty.priority) == (None, None, None, None)
    assert StartWorkflowRequest(name="flow") == StartWorkflowRequest(name="flow")


def test_terminate_a_running_workflow(make: Make, dev_server: Any) -> None:
    executor = make("executor", dev_server.url)
    workflows = make("workflow", dev_server.url)
    executor.register_workflow(WorkflowDef(
        name="compat_stop", version=1, schema_version=2, timeout_seconds=0,
        tasks=[WorkflowTask(name="compat_stop_task", task_reference_name="only", type="SIMPLE")]), True)
    first = executor.start_workflow(StartWorkflowRequest(name="compat_stop"))
    second = executor.start_workflow(StartWorkflowRequest(name="compat_stop"))
    workflows.terminate_workflow(first, reason="not needed any more")
    executor.terminate(second, "also not needed")
    for workflow_id, reason in ((first, "not needed any more"), (second, "also not needed")):
        stopped = workflows.get_workflow(workflow_id)
        assert stopped.status == "TERMINATED", stopped
        assert reason in (stopped.reason_for_incompletion or "")
        assert stopped.is_completed() and not stopped.is_successful()
        assert [t.status for t in stopped.tasks] == ["CANCELED"]
    with pytest.raises(NotFoundError):
        workflows.terminate_workflow("no-such-workflow")


def test_list_and_unregister_workflow_definitions(make: Make, dev_server: Any) -> None:
    metadata = make("metadata", dev_server.url)
    for version in (1, 2):
        metadata.register_workflow_def(WorkflowDef(
            name="compat_listed", version=version, schema_version=2, timeout_seconds=0,
            tasks=[WorkflowTask(name="compat_listed_task", task_reference_name="only", type="SIMPLE")]))
    listed = [(d.name, d.version) for d in metadata.get_all_workflow_defs() if d.name == "compat_listed"]
    assert sorted(listed) == [("compat_listed", 1), ("compat_listed", 2)]
    metadata.unregister_workflow_def("compat_listed", 2)
    assert metadata.get_workflow_def("compat_listed").version == 1


def test_execute_waits_for_the_end_of_the_workflow(make: Make, dev_server: Any) -> None:
    """``WorkflowExecutor.execute`` (the official hello world's call) answers when the workflow
    ended; with nothing to wait for it answers at once, RUNNING."""
    executor = make("executor", dev_server.url)
    executor.register_workflow(WorkflowDef(
        name="compat_execute", version=1, schema_version=2, timeout_seconds=0,
        tasks=[WorkflowTask(name="compat_execute_task", task_reference_name="only", type="SIMPLE",
                            input_parameters={"n": "${workflow.input.n}"})],
        output_parameters={"doubled": "${only.output.doubled}"}), True)

    early = executor.execute("compat_execute", workflow_input={"n": 1}, wait_for_seconds=0)
    assert isinstance(early, WorkflowRun)
    assert early.status == "RUNNING" and early.is_running()
    assert early.current_task is not None and early.current_task.task_def_name == "compat_execute_task"
    complete_next_task(dev_server.url, "compat_execute_task", {"doubled": 2})

    worker = threading.Thread(target=complete_next_task, args=(dev_server.url, "compat_execute_task", {"doubled": 8}))
    worker.start()
    try:
        run = executor.execute(name="compat_execute", version=1, workflow_input={"n": 4}, wait_for_seconds=20,
                               correlation_id="exec-1")
    finally:
        worker.join(10)
    assert (run.status, run.output, run.correlation_id) == ("COMPLETED", {"doubled": 8}, "exec-1")
    assert run.is_completed() and run.is_successful()
    assert run.get_task(task_reference_name="only").output_data == {"doubled": 8}
    request = StartWorkflowRequest(name="compat_execute", input={"n": 3})
    with pytest.raises(ValueError, match="version"):
        make("workflow", dev_server.url).execute_workflow(request, wait_for_seconds=0)
    assert executor.execute_workflow(request, wait_for_seconds=0).status == "RUNNING"
    assert request.version is None  # the executor resolved the latest version on a copy
