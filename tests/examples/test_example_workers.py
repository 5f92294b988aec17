"""The testing kit on the examples' workers: ``run_task`` (no server, no process) and the
``conductor_workers`` fixture (workers in this process against ``conductor_dev_server``).

This is how a user tests workers like the examples'; the tests double as a check that the examples'
functions do what their scripts print.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conductor_actors import TaskResultStatus
from conductor_actors.testing import InProcessWorkers, run_task, run_task_async

COMPLETED = TaskResultStatus.COMPLETED

#: The ``example`` fixture (this directory's conftest): imports a module of ``examples/``.
LoadExample = Callable[[str], ModuleType]


def test_run_task_on_the_sync_and_async_workers(example: LoadExample, conductor_dev_server: Any) -> None:
    """process_data computes, fetch_data fetches from a real server (an HTTP error fails the task),
    and the async workers that return None complete with an empty output."""
    workers = example("sync_and_async_workers")
    conductor_dev_server.register_task_def({"name": "process_data", "description": "sum of squares"})

    assert run_task(workers.process_data, {"input_value": 10}).output_data == {"result": 385}
    fetched = run_task(workers.fetch_data, {"url": f"{conductor_dev_server.url}/metadata/taskdefs/process_data"})
    assert fetched.status == COMPLETED
    assert (fetched.output_data["data"]["name"], fetched.output_data["data"]["description"]) == (
        "process_data", "sum of squares")
    missing = run_task(workers.fetch_data, {"url": f"{conductor_dev_server.url}/metadata/taskdefs/nothing"})
    assert missing.status == TaskResultStatus.FAILED
    assert "404" in missing.reason_for_incompletion
    for function, parameter in ((workers.log_event, "event"), (workers.notify, "message")):
        result = run_task(function, {parameter: "order 42 shipped"})
        assert (result.status, result.output_data) == (COMPLETED, {})


def test_run_task_converts_the_order_dataclass_and_names_a_missing_field(example: LoadExample) -> None:
    definitions = example("task_definitions")
    order = {"order_id": "o-1", "amount": "99.5", "customer_id": 7}
    result = run_task(definitions.process_order, {"order": order, "priority": 2})
    assert (result.status, result.output_data) == (COMPLETED, {"status": "processed", "order_id": "o-1"})

    partial = run_task(definitions.process_order, {"order": {"order_id": "o-2", "amount": 5.0}})
    assert partial.status == TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert "order.customer_id" in partial.reason_for_incompletion


def test_run_task_drives_the_checkpointing_batch_processor(example: LoadExample) -> None:
    """The poll count decides the offset: the first executions checkpoint with TaskInProgress (and a
    task log), the last one completes."""
    long_running = example("long_running_tasks")
    inputs = {"batch_id": "batch-7", "total_items": 250}

    first = run_task(long_running.process_batch, inputs, poll_count=1)
    assert (first.status, first.callback_after_seconds, first.output_data) == (
        TaskResultStatus.IN_PROGRESS, long_running.CALLBACK_SECONDS, {"progress": 100})
    assert [log.log for log in first.logs] == ["processed items 0..99 of batch-7"]
    last = run_task(long_running.process_batch, inputs, poll_count=3)
    assert (last.status, last.output_data) == (COMPLETED, {"status": "completed", "total_processed": 250})


def test_run_task_on_wait_for_approval_follows_the_approval_system(
    example: LoadExample, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    long_running = example("long_running_tasks")
    monkeypatch.setenv(long_running.APPROVALS_VARIABLE, str(tmp_path))

    waiting = run_task(long_running.wait_for_approval, {"request_id": "r-1"})
    assert (waiting.status, waiting.output_data) == (TaskResultStatus.IN_PROGRESS, {"status": "waiting"})
    (tmp_path / "r-1").write_text("APPROVED")
    assert run_task(long_running.wait_for_approval, {"request_id": "r-1"}).output_data == {"status": "approved"}
    (tmp_path / "r-2").write_text("REJECTED")
    rejected = run_task(long_running.wait_for_approval, {"request_id": "r-2"})
    assert rejected.status == TaskResultStatus.FAILED
    assert rejected.reason_for_incompletion == "Request rejected: REJECTED"


def test_run_task_on_the_class_based_workers(example: LoadExample) -> None:
    classes = example("class_based_workers")
    reversed_text = run_task(classes.ReverseText(), {"text": "abc def"})
    assert (reversed_text.status, reversed_text.output_data) == (COMPLETED, {"reversed": "fed cba"})
    assert reversed_text.worker_id == "test-worker"
    assert run_task(classes.CountWords(), {"text": "one two three"}).output_data == {"words": 3}


def test_run_task_on_the_performance_workers(
    example: LoadExample, conductor_dev_server: Any, tmp_path: Path
) -> None:
    """compute_task sums squares, file_task reads the file, api_task and mixed_task fetch from a real
    server (mixed_task digests the JSON); an HTTP error fails the async ones."""
    workloads = example("performance_workloads")
    conductor_dev_server.register_task_def({"name": "compute_task", "description": "sum of squares"})
    url = f"{conductor_dev_server.url}/metadata/taskdefs/compute_task"
    (tmp_path / "order.txt").write_text("two items")

    assert run_task(workloads.cpu_task, {"data": [1, 2, 3]}).output_data == {"result": 14}
    assert run_task(workloads.io_sync, {"file_path": str(tmp_path / "order.txt")}).output_data == {"data": "two items"}
    fetched = run_task(workloads.io_async, {"url": url})
    assert (fetched.status, fetched.output_data["data"]["description"]) == (COMPLETED, "sum of squares")
    mixed = run_task(workloads.mixed_task, {"url": url})
    assert mixed.output_data["result"] == {"keys": len(fetched.output_data["data"]), "name": "compute_task"}
    for function in (workloads.io_async, workloads.mixed_task):
        missing = run_task(function, {"url": f"{conductor_dev_server.url}/metadata/taskdefs/nothing"})
        assert missing.status == TaskResultStatus.FAILED and "404" in missing.reason_for_incompletion
    unreadable = run_task(workloads.io_sync, {"file_path": str(tmp_path / "absent.txt")})
    assert unreadable.status == TaskResultStatus.FAILED and "absent.txt" in unreadable.reason_for_incompletion


def test_the_slow_api_counts_concurrent_api_calls(example: LoadExample) -> None:
    """make_api_call returns the API's JSON; calls awaited together overlap at the API (one loop)."""
    concurrency = example("concurrent_api_calls")
    api = concurrency.SlowApi(delay=1.0)  # long enough for all five to be in flight together
    serving = threading.Thread(target=api.serve_forever, daemon=True)
    serving.start()
    try:
        async def five_at_once() -> list[Any]:
            return list(await asyncio.gather(*(
                run_task_async(concurrency.make_api_call, {"url": f"{api.url}/orders/{n}"}) for n in range(5))))

        results = asyncio.run(five_at_once())
    finally:
        api.shutdown()
        api.server_close()
        serving.join(timeout=5)
    assert [result.output_data for result in results] == [{"path": f"/orders/{n}", "status": "ok"} for n in range(5)]
    assert (api.served, api.peak) == (5, 5)


def test_run_task_on_the_rolled_back_def_worker(example: LoadExample, conductor_dev_server: Any) -> None:
    """The def that wraps asyncio.run still fetches; it runs its coroutine in the calling thread."""
    rollback = example("rollback_to_def")
    assert not inspect.iscoroutinefunction(rollback.fetch_data)
    conductor_dev_server.register_task_def({"name": "charge_payment"})
    result = run_task(rollback.fetch_data, {"url": f"{conductor_dev_server.url}/metadata/taskdefs/charge_payment"})
    assert (result.status, result.output_data) == (
        COMPLETED, {"name": "charge_payment", "thread": threading.current_thread().name})


def test_conductor_workers_run_the_sync_and_async_example_workflow(
    example: LoadExample, conductor_dev_server: Any, conductor_workers: InProcessWorkers
) -> None:
    workers = example("sync_and_async_workers")
    conductor_dev_server.register_workflow(workers.WORKFLOW)
    conductor_workers(workers.process_data, workers.fetch_data, workers.log_event, workers.notify)
    workflow = conductor_workers.run_workflow(workers.WORKFLOW["name"], {
        "value": 4, "url": f"{conductor_dev_server.url}/metadata/workflow/{workers.WORKFLOW['name']}",
        "event": "shipped"})
    assert workflow["status"] == "COMPLETED", workflow
    assert workflow["output"] == {"result": 30, "fetched": workers.WORKFLOW["name"]}
    assert [task["outputData"] for task in workflow["tasks"][2:]] == [{}, {}]


def test_conductor_workers_run_the_discovered_package(
    example: LoadExample, conductor_dev_server: Any, conductor_workers: InProcessWorkers
) -> None:
    discovery = example("worker_discovery")
    greetings = example("discovered.greetings")
    invoices = example("discovered.billing.invoices")
    conductor_dev_server.register_workflow(discovery.WORKFLOW)
    conductor_workers(greetings.greet_sync, greetings.greet_async, invoices.create_invoice)
    workflow = conductor_workers.run_workflow(discovery.WORKFLOW["name"], {"name": "bo", "amount": 3})
    assert workflow["output"] == {"greeting": "Hello again, bo!", "invoice": "INV-BO-3.00"}


def test_the_event_example_listeners_see_workers_running_in_this_process(
    example: LoadExample, conductor_dev_server: Any, conductor_workers: InProcessWorkers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """CostTracker adds up the ml_task time, SLAMonitor alerts on a slow task and CustomMonitor
    prints each completion; a failing task reaches no completion listener."""
    events = example("event_listeners")
    cost = events.CostTracker(cost_per_second={"ml_task": 0.05})
    conductor_workers.listeners.extend([events.CustomMonitor(), events.SLAMonitor(threshold_ms=100), cost])
    conductor_dev_server.register_task_def({"name": "score_lead", "retryCount": 0})
    for name, inputs in (("score_lead", ("lead_id", "delay_ms")), ("ml_task", ("text",))):
        conductor_dev_server.register_workflow(events.workflow(name, *inputs))
    conductor_workers(events.score_lead, events.ml_task)

    slow = conductor_workers.run_workflow("score_lead_flow", {"lead_id": "slow", "delay_ms": 150})
    bad = conductor_workers.run_workflow("score_lead_flow", {"lead_id": "bad-1", "delay_ms": 0})
    scored = conductor_workers.run_workflow("ml_task_flow", {"text": "a good day"})

    assert (slow["status"], bad["status"], scored["status"]) == ("COMPLETED", "FAILED", "COMPLETED")
    assert scored["tasks"][0]["outputData"] == {"label": "positive"}
    assert 0.05 * 0.05 <= cost.total_cost < 0.05 * 1.0  # 0.05 $/s for a task of 50 ms (and less than 1 s)
    printed = capsys.readouterr().out
    assert "ALERT: SLA breach: score_lead took" in printed
    assert printed.count(" completed in ") == 2
