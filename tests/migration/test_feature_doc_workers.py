"""The feature document's worker examples, with only their imports changed, run on conductor_actors.

The examples live in ``_support.migration`` (one module per section of the document). Each test
starts them in real worker processes against the test's dev server, the way the document does
(``python -m conductor_actors`` or ``with TaskHandler(...) as handler:``), runs workflows through
them and checks what the server recorded: outputs, statuses, task definitions, and what the
document's listeners printed.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _support.cli_apps import WAIT, one_task_workflow, wait_until
from _support.migration._doc_names import BATCH_SIZES, expensive_computation

from conductor_actors import ConductorClient, Configuration

pytestmark = pytest.mark.slow

#: ``launch(*argv, server=..., env=...)``: the fixture of this directory's conftest.
Launch = Callable[..., Any]

#: The dev server resource the HTTP examples fetch (a task definition: a small JSON document).
TARGET = {"name": "doc_target", "description": "fetched by the feature document's examples"}


def target_url(server: Any) -> str:
    server.register_task_def(TARGET)
    return f"{server.url}/metadata/taskdefs/{TARGET['name']}"


def start(server: Any, task_type: str, inputs: dict[str, Any], **options: Any) -> str:
    """Start a one-task workflow of ``task_type`` with ``inputs`` as the task's input."""
    workflow_name = one_task_workflow(server, task_type, list(inputs))
    return str(server.start_workflow(workflow_name, inputs, **options))


def only_task(server: Any, workflow_id: str) -> dict[str, Any]:
    tasks = server.get_workflow(workflow_id)["tasks"]
    assert len(tasks) == 1, tasks
    return tasks[0]  # type: ignore[no-any-return]


def completed_output(server: Any, workflow_id: str) -> dict[str, Any]:
    task = only_task(server, workflow_id)
    assert task["status"] == "COMPLETED", task
    return task["outputData"]  # type: ignore[no-any-return]


def wait_checkpointed(server: Any, workflow_id: str) -> dict[str, Any]:
    """The task once the worker returned TaskInProgress (the server re-queued it with a callback)."""
    return wait_until(  # type: ignore[no-any-return]
        lambda: next((t for t in server.get_workflow(workflow_id)["tasks"] if t["callbackAfterSeconds"]), None),
        f"the task of {workflow_id} to return TaskInProgress")


def fetched_target(document: Any) -> None:
    assert isinstance(document, dict), document
    assert {k: document[k] for k in TARGET} == TARGET


def output_size(output: dict[str, Any]) -> int:
    return len(json.dumps(output, separators=(",", ":")).encode())


def test_sync_async_long_running_and_performance_examples_run_under_the_cli(
    dev_server: Any, launch: Launch, tmp_path: Path
) -> None:
    """``process_data``/``fetch_data``, the TaskInProgress workers and the performance and concurrency
    workers run unchanged: each workflow's output is what the document's code computes, a
    TaskInProgress is re-queued with its callback and progress, a raised Exception FAILS the task
    with its message; SIGTERM then stops the tree with exit code 0."""
    url = target_url(dev_server)
    dev_server.register_task_def({"name": "wait_for_approval", "retryCount": 0})
    file_path = tmp_path / "input.txt"
    file_path.write_text("read by file_task")
    run = launch("-m", "conductor_actors", "_support.migration.worker_model", "_support.migration.long_running",
                 "_support.migration.performance", "_support.migration.concurrency", server=dev_server)

    ids = {
        "process_data": start(dev_server, "process_data", {"input_value": 10}),
        "fetch_data": start(dev_server, "fetch_data", {"url": url}),
        "batch_small": start(dev_server, "batch_processor", {"batch_id": "batch-small"}),
        "batch_large": start(dev_server, "batch_processor", {"batch_id": "batch-large"}),
        "approved": start(dev_server, "wait_for_approval", {"request_id": "req-approved"}),
        "pending": start(dev_server, "wait_for_approval", {"request_id": "req-pending"}),
        "rejected": start(dev_server, "wait_for_approval", {"request_id": "req-rejected"}),
        "compute_task": start(dev_server, "compute_task", {"data": [1, 2, 3, 4]}),
        "file_task": start(dev_server, "file_task", {"file_path": str(file_path)}),
        "api_task": start(dev_server, "api_task", {"url": url}),
        "mixed_task": start(dev_server, "mixed_task", {"url": url}),
        "api_calls": start(dev_server, "api_calls", {"url": url}),
    }
    checkpointed = {key: wait_checkpointed(dev_server, ids[key]) for key in ("batch_large", "pending")}
    finished = [workflow_id for key, workflow_id in ids.items() if key not in checkpointed]
    statuses = dev_server.wait_for_workflows(finished, timeout=WAIT)

    assert completed_output(dev_server, ids["process_data"]) == {"result": expensive_computation(10)}
    fetched_target(completed_output(dev_server, ids["fetch_data"])["data"])
    # poll_count is 1 on the first execution, so the document's code starts at item 100
    assert completed_output(dev_server, ids["batch_small"]) == {
        "status": "completed", "total_processed": BATCH_SIZES["batch-small"]}
    large = checkpointed["batch_large"]
    assert (large["status"], large["callbackAfterSeconds"], large["outputData"], large["pollCount"]) == (
        "SCHEDULED", 30, {"progress": 200}, 1)
    assert completed_output(dev_server, ids["approved"]) == {"status": "approved"}
    pending = checkpointed["pending"]
    assert (pending["callbackAfterSeconds"], pending["outputData"]) == (30, {"status": "waiting"})
    rejected = only_task(dev_server, ids["rejected"])
    assert statuses[ids["rejected"]] == "FAILED"
    assert (rejected["status"], rejected["reasonForIncompletion"]) == ("FAILED", "Request rejected: REJECTED")
    assert completed_output(dev_server, ids["compute_task"]) == {"result": expensive_computation([1, 2, 3, 4])}
    assert completed_output(dev_server, ids["file_task"]) == {"data": "read by file_task"}
    document = completed_output(dev_server, ids["api_task"])["data"]
    fetched_target(document)
    assert completed_output(dev_server, ids["mixed_task"]) == {
        "result": {"keys": len(document), "name": TARGET["name"]}}
    fetched_target(completed_output(dev_server, ids["api_calls"]))  # a dict result is the output itself

    assert run.stop(signal.SIGTERM) == 0
    assert len(run.matches(r"worker \S+ \(pid \d+\) exited: stopped")) == 9, run.log()


def test_async_none_results_registration_and_listeners_under_the_documented_task_handler(
    dev_server: Any, launch: Launch
) -> None:
    """The document's ``with TaskHandler(...) as handler: start_processes(); join_processes()`` with
    its listeners: async workers returning the JSON itself or None, task definitions registered
    (``overwrite_task_def=False`` keeps the server's), ``CustomMonitor`` printing every completed task
    with its real output size, and ``UpdateFailureHandler`` alerted and recovering a result whose
    updates failed; Ctrl-C then stops the workers gracefully."""
    url = target_url(dev_server)
    dev_server.register_task_def({"name": "stable_task", "description": "hand-edited", "retryCount": 7})
    run = launch("-m", "_support.migration.handler_main", "_support.migration.async_runner",
                 "_support.migration.registration", server=dev_server)

    order = {"order_id": "o-1", "amount": 12.5, "customer_id": 7}
    ids = {
        "fetch_data": start(dev_server, "fetch_data", {"url": url}),
        "log_event": start(dev_server, "log_event", {"event": "order o-1 shipped"}),
        "notify": start(dev_server, "notify", {"message": "your order is on its way"}),
        "process_order": start(dev_server, "process_order", {"order": order, "priority": 2}),
        "validate_order": start(dev_server, "validate_order", {"order_id": "o-1", "amount": 12.5}),
        "stable_task": start(dev_server, "stable_task", {"data": {"any": "thing"}}),
    }
    statuses = dev_server.wait_for_workflows(list(ids.values()), timeout=WAIT)
    assert set(statuses.values()) == {"COMPLETED"}, statuses
    outputs = {key: completed_output(dev_server, workflow_id) for key, workflow_id in ids.items()}
    fetched_target(outputs["fetch_data"])
    assert outputs["log_event"] == outputs["notify"] == outputs["validate_order"] == outputs["stable_task"] == {}
    assert outputs["process_order"] == {"status": "processed", "order_id": "o-1"}
    assert run.matches(r"AUDIT LOG pid=\d+: order o-1 shipped$")
    assert run.matches(r"NOTIFICATION pid=\d+: your order is on its way$")

    with ConductorClient(Configuration(server_api_url=dev_server.url, env={})) as client:
        for name in ("process_order", "validate_order"):
            registered = client.get_task_def(name)
            assert registered.name == name
            assert registered.input_schema is None  # schemas need register_schema, as in the official SDK
        stable = client.get_task_def("stable_task")
        assert (stable.description, stable.retry_count) == ("hand-edited", 7)

    # Worker processes share one output: the document's print() writes its text and its newline
    # separately, so another process's line can land in between. Match text, not whole lines.
    for key, workflow_id in ids.items():
        task_id = only_task(dev_server, workflow_id)["taskId"]
        assert run.matches(rf"Task {task_id} completed in \S+ms"), key
        assert run.matches(rf"AUDIT: {key} task {task_id} started on \S+$"), key
    sizes = [int(m.group(1)) for m in run.matches(r"Output size: (\d+) bytes")]
    assert sorted(sizes) == sorted(output_size(output) for output in outputs.values())

    outage = dev_server.faults.add("update", status=503, times=3)  # every attempt (FAST_ENV: 3) fails
    lost = start(dev_server, "notify", {"message": "delivered in the end"})
    assert dev_server.wait_for_workflows([lost], timeout=WAIT)[lost] == "COMPLETED"
    assert outage.hits == 3
    task_id = only_task(dev_server, lost)["taskId"]
    wait_until(lambda: run.matches(rf"CUSTOM UPDATE: delivered the result of task {task_id}$"), "the custom update")
    assert run.matches(rf"PAGERDUTY: CRITICAL: Task update failed after 3 attempts task_id={task_id} "
                     rf"workflow_id={lost}$")
    backups = [json.loads(m.group(1)) for m in run.matches(r"BACKUP DB: (\{.*\})$")]
    assert [(b["task_id"], b["result"]["status"], b["result"]["task_id"]) for b in backups] == [
        (task_id, "COMPLETED", task_id)]
    assert "503" in backups[0]["error"]

    assert run.stop(signal.SIGINT) == 0
    assert run.matches(r"stopped by Ctrl-C")
    clean = (r"conductor_actors\.runtime: worker \S+ stopped in \d+\.\d\d s: \d+ task\(s\) handed back, "
             r"0 abandoned at the deadline, 0 result\(s\) to recovery$")
    assert len(run.matches(clean)) == 6, run.log()


def test_environment_overrides_and_the_rollback_worker(dev_server: Any, launch: Launch) -> None:
    """The configuration example's variables give ``domain=production, thread_count=50`` (the
    document's "Result"), visible in the one-line summary; the worker then serves that domain, and
    the rollback ``def`` running ``asyncio.run`` works like the async original."""
    env = {
        "conductor.worker.all.domain": "production",
        "conductor.worker.all.thread_count": "20",
        "conductor.worker.process_order.thread_count": "50",
    }
    modules = ["_support.migration.configuration", "_support.migration.rollback"]
    listing = launch("-m", "conductor_actors", *modules, "--list", server=dev_server, env=env)
    assert listing.process.wait(WAIT) == 0, listing.log()
    assert listing.matches(
        r"^Conductor Worker\[name=process_order, status=active, poll_interval=1000ms, domain=production, "
        r"thread_count=50, poll_timeout=100ms, lease_extend=false, register_task_def=false\] \[sync\]$"), listing.log()
    assert listing.matches(r"^Conductor Worker\[name=fetch_data, .*domain=production, thread_count=20, .*\[sync\]$")

    url = target_url(dev_server)
    run = launch("-m", "conductor_actors", *modules, server=dev_server, env=env)
    production = {"*": "production"}
    ordered = start(dev_server, "process_order", {"order_id": "o-9"}, task_to_domain=production)
    fetched = start(dev_server, "fetch_data", {"url": url}, task_to_domain=production)
    dev_server.wait_for_workflows([ordered, fetched], timeout=WAIT)
    task = only_task(dev_server, ordered)
    assert (task["status"], task["domain"], task["outputData"]) == ("COMPLETED", "production", {})  # `pass`
    fetched_target(completed_output(dev_server, fetched)["fetched"])
    assert run.stop(signal.SIGTERM) == 0
