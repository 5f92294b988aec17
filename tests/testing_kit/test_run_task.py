"""``conductor_actors.testing.run_task``: one worker, one task, a real task context, no server.

Every behaviour is checked for both flavours: each worker below has a ``def`` and an ``async def``
twin (function workers) or a sync and an async ``execute`` (class workers), picked by ``flavour``.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any

import pytest

import conductor_actors.testing
from conductor_actors import (
    NonRetryableException,
    Task,
    TaskInProgress,
    TaskResultStatus,
    WorkerInterface,
    get_task_context,
    worker_task,
)
from conductor_actors.testing import run_task, run_task_async

# -- workers ---------------------------------------------------------------------------------------


@dataclass
class Address:
    city: str
    zip_code: str = "00000"


@dataclass
class Customer:
    name: str
    address: Address
    tags: list[str] = field(default_factory=list)


def _describe(customer: Customer, quantities: list[int], note: str | None, express: bool) -> dict:
    assert isinstance(customer, Customer) and isinstance(customer.address, Address)
    return {"who": f"{customer.name} in {customer.address.city} ({customer.address.zip_code})",
            "tags": customer.tags, "total": sum(quantities), "note": note, "express": express}


def describe_order(
    customer: Customer, quantities: list[int], note: str | None = None, express: bool = False
) -> dict:
    return _describe(customer, quantities, note, express)


async def describe_order_async(
    customer: Customer, quantities: list[int], note: str | None = None, express: bool = False
) -> dict:
    await asyncio.sleep(0)
    return _describe(customer, quantities, note, express)


def _context_report(task: Task) -> dict:
    ctx = get_task_context()
    ctx.add_log("looked at the context")
    ctx.add_log(f"attempt {ctx.get_retry_count() + 1}")
    ctx.set_output({"from_set_output": True, "overridden": "by set_output"})
    return {
        "task_id": ctx.get_task_id(), "workflow_id": ctx.get_workflow_instance_id(), "retry": ctx.get_retry_count(),
        "poll": ctx.get_poll_count(), "def_name": ctx.get_task_def_name(), "input": ctx.get_input(),
        "same_task": task is ctx.task, "shutting_down": ctx.is_shutting_down(), "overridden": "by return",
    }


def context_report(task: Task, word: str) -> dict:
    return _context_report(task)


async def context_report_async(task: Task, word: str) -> dict:
    await asyncio.sleep(0)
    return _context_report(task)


def fail(kind: str) -> dict:
    if kind == "terminal":
        raise NonRetryableException("the order was cancelled")
    raise ValueError(f"cannot handle {kind}")


async def fail_async(kind: str) -> dict:
    await asyncio.sleep(0)
    return fail(kind)


def checkpoint(step: int) -> Any:
    get_task_context().set_callback_after(7)
    return TaskInProgress(callback_after_seconds=5, output={"step": step}) if step < 3 else {"done": step}


async def checkpoint_async(step: int) -> Any:
    await asyncio.sleep(0)
    return checkpoint(step)


@worker_task(task_definition_name="kit_decorated_sync", thread_count=3)
def decorated(value: int) -> dict:
    return {"double": value * 2, "task_type": get_task_context().task.task_type}


@worker_task(task_definition_name="kit_decorated_async", thread_count=3)
async def decorated_async(value: int) -> dict:
    await asyncio.sleep(0)
    return {"double": value * 2, "task_type": get_task_context().task.task_type}


class ShoutSync(WorkerInterface):
    task_definition_name = "kit_shout"

    def execute(self, task: Task) -> Any:
        get_task_context().add_log("shouting")
        if task.input_data.get("text") == "boom":
            raise RuntimeError("nothing to shout")
        result = self.get_task_result_from_task(task)
        result.status = TaskResultStatus.COMPLETED
        result.output_data = {"loud": task.input_data["text"].upper(), "task_id": task.task_id}
        return result


class ShoutAsync(WorkerInterface):
    task_definition_name = "kit_shout"

    async def execute(self, task: Task) -> Any:
        await asyncio.sleep(0)
        get_task_context().add_log("shouting")
        if task.input_data.get("text") == "boom":
            raise RuntimeError("nothing to shout")
        return {"loud": task.input_data["text"].upper(), "task_id": task.task_id}


TWINS: dict[str, dict[str, Any]] = {
    "describe": {"sync": describe_order, "async": describe_order_async},
    "context": {"sync": context_report, "async": context_report_async},
    "fail": {"sync": fail, "async": fail_async},
    "checkpoint": {"sync": checkpoint, "async": checkpoint_async},
    "decorated": {"sync": decorated, "async": decorated_async},
    "shout": {"sync": ShoutSync, "async": ShoutAsync},
}


def pick(name: str, flavour: str) -> Any:
    return TWINS[name][flavour]


# -- tests -----------------------------------------------------------------------------------------


def test_input_is_bound_by_name_and_converted(flavour: str) -> None:
    """Nested dataclasses, lists and Optional are converted from the JSON input; defaults apply."""
    customer = {"name": "Ada", "address": {"city": "Turin"}, "tags": ["vip"]}
    result = run_task(pick("describe", flavour), {"customer": customer, "quantities": ["2", 3], "express": "true"})
    assert result.status == TaskResultStatus.COMPLETED, result.reason_for_incompletion
    assert result.output_data == {"who": "Ada in Turin (00000)", "tags": ["vip"], "total": 5, "note": None,
                                  "express": True}


def test_input_that_cannot_be_bound_fails_naming_the_parameter(flavour: str) -> None:
    missing = run_task(pick("describe", flavour), {"quantities": [1]})
    assert missing.status == TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert "'customer'" in missing.reason_for_incompletion
    wrong = run_task(pick("describe", flavour), {"customer": {"name": "Bo", "address": {"city": "X"}},
                                                 "quantities": ["many"]})
    assert wrong.status == TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert "quantities" in wrong.reason_for_incompletion


def test_the_task_context_carries_the_task_fields_given(flavour: str) -> None:
    """Ids, retry and poll counts come from ``task_fields``; logs added in the function are in the
    result; ``set_output`` is merged under the returned keys; a ``Task`` parameter gets the task."""
    result = run_task(pick("context", flavour), {"word": "hi"}, task_id="t-1", workflow_instance_id="wf-1",
                      retry_count=2, poll_count=4)
    assert result.status == TaskResultStatus.COMPLETED, result.reason_for_incompletion
    assert (result.task_id, result.workflow_instance_id) == ("t-1", "wf-1")
    assert result.output_data == {
        "task_id": "t-1", "workflow_id": "wf-1", "retry": 2, "poll": 4, "def_name": pick("context", flavour).__name__,
        "input": {"word": "hi"}, "same_task": True, "shutting_down": False, "overridden": "by return",
        "from_set_output": True,
    }
    assert [log.log for log in result.logs] == ["looked at the context", "attempt 3"]
    assert {log.task_id for log in result.logs} == {"t-1"}


def test_generated_ids_are_fresh_for_every_run(flavour: str) -> None:
    first = run_task(pick("context", flavour), {"word": "a"})
    second = run_task(pick("context", flavour), {"word": "b"})
    assert first.output_data["task_id"] == first.task_id != second.task_id
    assert first.output_data["workflow_id"] == first.workflow_instance_id != second.workflow_instance_id
    assert (first.output_data["retry"], first.output_data["poll"]) == (0, 1)


def test_an_exception_fails_the_task_with_its_message_and_traceback(flavour: str) -> None:
    result = run_task(pick("fail", flavour), {"kind": "oops"})
    assert (result.status, result.reason_for_incompletion) == (TaskResultStatus.FAILED, "cannot handle oops")
    assert any("ValueError: cannot handle oops" in log.log and "Traceback" in log.log for log in result.logs)


def test_a_non_retryable_exception_fails_terminally(flavour: str) -> None:
    result = run_task(pick("fail", flavour), {"kind": "terminal"})
    assert result.status == TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert result.reason_for_incompletion == "the order was cancelled"


def test_task_in_progress_and_the_callback_set_in_the_context(flavour: str) -> None:
    """A returned TaskInProgress gives IN_PROGRESS with its callback and output (what is returned
    wins over the context, as for output keys); otherwise the context's callback is sent."""
    waiting = run_task(pick("checkpoint", flavour), {"step": 1})
    assert (waiting.status, waiting.callback_after_seconds, waiting.output_data) == (
        TaskResultStatus.IN_PROGRESS, 5, {"step": 1})
    done = run_task(pick("checkpoint", flavour), {"step": 3})
    assert (done.status, done.callback_after_seconds, done.output_data) == (
        TaskResultStatus.COMPLETED, 7, {"done": 3})


def test_a_decorated_function_runs_under_its_registered_name(flavour: str) -> None:
    result = run_task(pick("decorated", flavour), {"value": "21"})
    assert result.output_data == {"double": 42, "task_type": f"kit_decorated_{flavour}"}


def test_task_definition_name_names_a_plain_function(flavour: str) -> None:
    result = run_task(pick("context", flavour), {"word": "x"}, task_definition_name="kit_named")
    assert result.output_data["def_name"] == "kit_named"


def test_class_based_workers(flavour: str) -> None:
    """A class worker's execute (sync or async) gets the Task; its context works; an exception
    fails the task."""
    worker = pick("shout", flavour)()
    result = run_task(worker, {"text": "hey"}, task_id="t-9")
    assert (result.status, result.output_data) == (TaskResultStatus.COMPLETED, {"loud": "HEY", "task_id": "t-9"})
    assert [log.log for log in result.logs] == ["shouting"]
    failed = run_task(worker, {"text": "boom"})
    assert (failed.status, failed.reason_for_incompletion) == (TaskResultStatus.FAILED, "nothing to shout")


def test_unknown_task_fields_are_rejected_by_name() -> None:
    with pytest.raises(TypeError, match="unknown Task field\\(s\\): not_a_field, retries"):
        run_task(describe_order, {}, retries=1, not_a_field=2)



# -- run_task_async: the awaitable twin ------------------------------------------------------------


def _same_fields(result: Any) -> tuple[Any, ...]:
    return (result.status, result.output_data, result.reason_for_incompletion, result.callback_after_seconds,
            [log.log.splitlines()[-1] for log in result.logs])


CASES = [
    ("describe", {"customer": {"name": "Ada", "address": {"city": "Turin"}}, "quantities": [1, "2"]}),
    ("describe", {"quantities": [1]}),
    ("context", {"word": "hi"}),
    ("fail", {"kind": "oops"}),
    ("fail", {"kind": "terminal"}),
    ("checkpoint", {"step": 1}),
    ("checkpoint", {"step": 3}),
    ("decorated", {"value": "21"}),
    ("shout", {"text": "hey"}),
    ("shout", {"text": "boom"}),
]


@pytest.mark.parametrize("name, input_data", CASES)
def test_run_task_async_gives_what_run_task_gives(flavour: str, name: str, input_data: dict) -> None:
    """Same arguments, same result: binding, context, failures, IN_PROGRESS, class workers."""
    target = pick(name, flavour)
    target = target() if isinstance(target, type) else target
    fields = {"task_id": "t-1", "workflow_instance_id": "wf-1", "retry_count": 1}
    expected = run_task(target, input_data, **fields)

    async def main() -> Any:
        return await run_task_async(target, input_data, **fields)

    result = asyncio.run(main())
    assert (result.task_id, result.workflow_instance_id, result.worker_id) == ("t-1", "wf-1", "test-worker")
    assert _same_fields(result) == _same_fields(expected)


def _where_am_i() -> dict:
    return {"thread": threading.get_ident(), "task_id": get_task_context().get_task_id()}


def report_thread_sync(release: Any) -> dict:
    """Waits (in its thread) for the loop to signal it: proves the loop kept running meanwhile."""
    loop, started, go_on = release
    loop.call_soon_threadsafe(started.set)
    if not go_on.wait(timeout=10):
        raise TimeoutError("the event loop was blocked while the sync worker ran")
    return _where_am_i()


async def report_loop_async(release: Any) -> dict:
    """Awaits an asyncio.Event of the caller's loop: only possible on that very loop."""
    loop, started, go_on = release
    assert asyncio.get_running_loop() is loop
    started.set()
    await go_on.wait()
    return _where_am_i()


def test_run_task_async_runs_sync_workers_in_a_thread_and_async_ones_on_the_callers_loop(flavour: str) -> None:
    async def main() -> dict:
        loop = asyncio.get_running_loop()
        started = asyncio.Event()
        go_on: Any = threading.Event() if flavour == "sync" else asyncio.Event()
        target = report_thread_sync if flavour == "sync" else report_loop_async
        # run_task_async hands input values to the worker as they are (no JSON round trip), so
        # the live loop and events can travel in the input.
        running = asyncio.ensure_future(run_task_async(target, {"release": (loop, started, go_on)}, task_id="t-7"))
        await asyncio.wait_for(started.wait(), timeout=10)
        go_on.set()
        result = await asyncio.wait_for(running, timeout=10)
        assert result.status == TaskResultStatus.COMPLETED, result.reason_for_incompletion
        return {"loop_thread": threading.get_ident(), **result.output_data}

    report = asyncio.run(main())
    assert report["task_id"] == "t-7"
    if flavour == "sync":
        assert report["thread"] != report["loop_thread"]
    else:
        assert report["thread"] == report["loop_thread"]


def test_run_task_inside_a_running_loop_points_to_run_task_async(flavour: str) -> None:
    """An async worker cannot be run by run_task inside a loop: a clear error, no stray coroutine.
    A sync worker still runs (in the calling thread)."""

    async def main() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "coroutine ... was never awaited" would fail the test
            if flavour == "async":
                with pytest.raises(RuntimeError) as info:
                    run_task(decorated_async, {"value": 1})
                gc.collect()
                return str(info.value)
            return run_task(decorated, {"value": 1})

    outcome = asyncio.run(main())
    if flavour == "async":
        assert outcome == (
            "run_task cannot run the async worker 'kit_decorated_async' inside a running event loop (it would"
            " need asyncio.run); in async code use `await run_task_async(...)`, which takes the same arguments"
        )
    else:
        assert outcome.output_data == {"double": 2, "task_type": "kit_decorated_sync"}


def test_run_task_async_rejects_unknown_task_fields() -> None:
    with pytest.raises(TypeError, match="unknown Task field\\(s\\): retries"):
        asyncio.run(run_task_async(describe_order_async, {}, retries=1))


def test_run_task_async_is_exported() -> None:
    assert "run_task_async" in conductor_actors.testing.__all__
    assert conductor_actors.testing.run_task_async is run_task_async
