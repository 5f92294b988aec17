"""Executing one task: return values, failures, the task context, both flavours."""

from __future__ import annotations

import asyncio
import datetime
import json
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

from conductor_actors.client import TaskExecLog, TaskResult, TaskResultStatus
from conductor_actors.worker import (
    BoundWorker,
    NonRetryableException,
    TaskContext,
    TaskContextError,
    TaskInProgress,
    Worker,
    WorkerInterface,
    execute_async,
    execute_sync,
    get_task_context,
)

# --- worker functions (module level: workers must be re-importable) ------------------------


def returns_dict(x: int) -> dict:
    return {"doubled": x * 2}


def returns_none(x: int) -> None:
    return None


@dataclass
class Line:
    sku: str
    qty: int = 1


@dataclass
class Receipt:
    total: float
    lines: list[Line] = field(default_factory=list)


def returns_dataclass(x: int) -> Receipt:
    return Receipt(total=x * 1.5, lines=[Line("a"), Line("b", 3)])


def returns_scalar(value: Any) -> Any:
    return value


def returns_in_progress(x: int) -> TaskInProgress:
    return TaskInProgress(callback_after_seconds=30, output={"step": x})


def returns_default_in_progress() -> TaskInProgress:
    return TaskInProgress()


def returns_task_result(x: int) -> TaskResult:
    result = TaskResult(status=TaskResultStatus.FAILED, output_data={"x": x}, reason_for_incompletion="nope")
    result.log("from the result")
    return result


class Opaque:
    """An object JSON cannot carry (the official SDK would send its attributes or its str())."""


def returns_opaque() -> dict:
    return {"ok": 1, "nested": {"when": Opaque()}}


def returns_nan() -> dict:
    return {"ratio": float("nan")}


def returns_unicode() -> dict:
    return {"name": "Zoë ✓"}


def raises_value_error(x: int) -> dict:
    raise ValueError(f"bad x {x}")


def raises_empty_error() -> dict:
    raise RuntimeError()


def raises_long_error() -> dict:
    raise RuntimeError("x" * 800)


def raises_non_retryable() -> dict:
    raise NonRetryableException("card declined")


def raises_keyboard_interrupt() -> dict:
    raise KeyboardInterrupt


def raises_system_exit() -> dict:
    raise SystemExit(3)


def uses_context() -> dict:
    ctx = get_task_context()
    ctx.add_log("first")
    ctx.add_log("second")
    ctx.set_output({"from_ctx": 1, "shared": "ctx"})
    ctx.set_callback_after(12.2)
    return {
        "shared": "returned",
        "task_id": ctx.get_task_id(),
        "workflow": ctx.get_workflow_instance_id(),
        "retry": ctx.get_retry_count(),
        "polls": ctx.get_poll_count(),
        "input": ctx.get_input(),
        "def_name": ctx.get_task_def_name(),
        "wf_task_type": ctx.get_workflow_task_type(),
        "callback": ctx.get_callback_after_seconds(),
        "same_task": ctx.task.task_id == ctx.get_task_id(),
    }


def edits_the_context_result() -> dict:
    result = get_task_context().get_task_result()
    assert get_task_context().task_result is result
    result.output_data["via_result"] = True
    result.callback_after_seconds = 7
    return {"seen": [result.task_id, result.workflow_instance_id, result.worker_id]}


def writes_through_the_context_views() -> dict:
    ctx = get_task_context()
    ctx.output["written"] = 1
    ctx.logs.append(TaskExecLog(log="appended"))
    return {"returned": 2}


def logs_from_two_threads() -> dict:
    ctx = get_task_context()
    both = threading.Barrier(2)

    def add(label: str) -> None:
        both.wait(5)
        ctx.add_log(label)

    threads = [threading.Thread(target=add, args=(label,)) for label in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {}


def context_then_fail() -> dict:
    ctx = get_task_context()
    ctx.add_log("before failing")
    ctx.set_output({"partial": True})
    raise ValueError("late failure")


def reports_shutdown() -> dict:
    return {"stopping": get_task_context().is_shutting_down()}


def bad_set_output() -> dict:
    get_task_context().set_output({"when": Opaque()})
    raise ValueError("boom")


# --- returns -----------------------------------------------------------------------------


def test_dict_is_the_output(run_task):
    outcome = run_task(returns_dict, {"x": 4})
    assert outcome.result.status is TaskResultStatus.COMPLETED
    assert outcome.result.output_data == {"doubled": 8}
    assert outcome.failed is False and outcome.cause is None
    assert outcome.result.task_id == "task-1"
    assert outcome.result.workflow_instance_id == "wf-1"
    assert outcome.result.worker_id == "worker-7"
    assert outcome.output_size_bytes == len(b'{"doubled":8}')
    assert outcome.duration >= 0.0


def test_none_is_an_empty_output(run_task):
    outcome = run_task(returns_none, {"x": 1})
    assert outcome.result.status is TaskResultStatus.COMPLETED
    assert outcome.result.output_data == {}
    assert outcome.output_size_bytes == 2


def test_dataclass_becomes_a_dict_recursively(run_task):
    outcome = run_task(returns_dataclass, {"x": 2})
    assert outcome.result.output_data == {
        "total": 3.0,
        "lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 3}],
    }


@pytest.mark.parametrize("value", ["text", 7, 2.5, True, [1, "two"]])
def test_other_json_values_are_wrapped_in_result(run_task, value):
    outcome = run_task(returns_scalar, {"value": value})
    assert outcome.result.output_data == {"result": value}
    assert outcome.failed is False


def test_task_in_progress(run_task):
    outcome = run_task(returns_in_progress, {"x": 5})
    assert outcome.result.status is TaskResultStatus.IN_PROGRESS
    assert outcome.result.callback_after_seconds == 30
    assert outcome.result.output_data == {"step": 5}
    assert outcome.failed is False
    wire = outcome.result.to_wire()
    assert wire["callbackAfterSeconds"] == 30 and wire["status"] == "IN_PROGRESS"


def test_task_in_progress_defaults(run_task):
    outcome = run_task(returns_default_in_progress)
    assert outcome.result.callback_after_seconds == 60
    assert outcome.result.output_data == {}


def test_task_in_progress_rejects_negative_callback():
    with pytest.raises(ValueError, match="callback_after_seconds must be a number of seconds >= 0"):
        TaskInProgress(callback_after_seconds=-1)


def test_returned_task_result_is_addressed_to_this_task_and_worker(run_task):
    outcome = run_task(returns_task_result, {"x": 3})
    result = outcome.result
    assert result.status is TaskResultStatus.FAILED
    assert (result.task_id, result.workflow_instance_id, result.worker_id) == ("task-1", "wf-1", "worker-7")
    assert result.output_data == {"x": 3}
    assert result.reason_for_incompletion == "nope"
    assert [log.log for log in result.logs] == ["from the result"]
    assert outcome.failed is False  # the function chose the status; it did not raise


def test_unserialisable_output_fails_terminally_naming_type_and_path(run_task):
    outcome = run_task(returns_opaque)
    result = outcome.result
    assert result.status is TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert outcome.failed is True
    assert "Opaque" in result.reason_for_incompletion
    assert "'nested.when'" in result.reason_for_incompletion
    assert result.output_data == {}
    assert isinstance(outcome.cause, ValueError)


def test_nan_is_not_json(run_task):
    outcome = run_task(returns_nan)
    assert outcome.result.status is TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert "'ratio'" in outcome.result.reason_for_incompletion and "nan" in outcome.result.reason_for_incompletion


def test_output_size_counts_utf8_bytes(run_task):
    outcome = run_task(returns_unicode)
    expected = json.dumps({"name": "Zoë ✓"}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert outcome.output_size_bytes == len(expected)


# --- failures ----------------------------------------------------------------------------


def test_exception_fails_with_reason_and_traceback_log(run_task):
    outcome = run_task(raises_value_error, {"x": 9})
    result = outcome.result
    assert result.status is TaskResultStatus.FAILED
    assert result.reason_for_incompletion == "bad x 9"
    assert outcome.failed is True
    assert isinstance(outcome.cause, ValueError)
    (log,) = result.logs
    assert "Traceback" in log.log and "raises_value_error" in log.log and "ValueError: bad x 9" in log.log
    assert log.task_id == "task-1"
    assert abs(log.created_time / 1000 - datetime.datetime.now().timestamp()) < 60  # milliseconds


def test_empty_exception_message_uses_the_class_name(run_task):
    assert run_task(raises_empty_error).result.reason_for_incompletion == "RuntimeError"


def test_reason_is_truncated_to_500_characters(run_task):
    assert len(run_task(raises_long_error).result.reason_for_incompletion) == 500


def test_non_retryable_exception_is_terminal(run_task):
    outcome = run_task(raises_non_retryable)
    assert outcome.result.status is TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert outcome.result.reason_for_incompletion == "card declined"
    assert outcome.failed is True


@pytest.mark.parametrize(
    "func, reason", [(raises_keyboard_interrupt, "KeyboardInterrupt"), (raises_system_exit, "SystemExit: 3")]
)
def test_a_base_exception_fails_the_task_instead_of_propagating(run_task, func, reason):
    """What a task's own code raises never ends its worker process: the reason names the type."""
    outcome = run_task(func)
    assert (outcome.result.status, outcome.result.reason_for_incompletion) == (TaskResultStatus.FAILED, reason)
    assert outcome.failed is True and type(outcome.cause).__name__ == reason.split(":")[0]
    assert reason.split(":")[0] in outcome.result.logs[-1].log  # the traceback


async def raises_cancelled_error() -> dict:
    raise asyncio.CancelledError("a library gave up")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.10 cannot tell who cancelled a task")
def test_a_cancelled_error_the_task_raises_itself_fails_it(task_factory):
    bound = BoundWorker(Worker("test_task", raises_cancelled_error), "w")
    outcome = asyncio.run(execute_async(bound, task_factory(), lambda: False))
    assert outcome.result.status is TaskResultStatus.FAILED
    assert outcome.result.reason_for_incompletion == "CancelledError: a library gave up"


async def waits_forever() -> dict:
    await asyncio.Event().wait()
    return {}


def test_the_runtime_cancelling_a_task_still_propagates(task_factory):
    """A cancellation the runtime asked for (shutdown deadline, overdue task) ends the coroutine."""
    bound = BoundWorker(Worker("test_task", waits_forever), "w")

    async def cancel_it() -> None:
        running = asyncio.ensure_future(execute_async(bound, task_factory(), lambda: False))
        await asyncio.sleep(0)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    asyncio.run(cancel_it())


def test_context_logs_and_output_survive_a_failure(run_task):
    result = run_task(context_then_fail).result
    assert result.status is TaskResultStatus.FAILED
    assert result.output_data == {"partial": True}
    assert result.logs[0].log == "before failing"
    assert "late failure" in result.logs[-1].log


def test_unserialisable_set_output_is_dropped_with_a_log_on_failure(run_task):
    result = run_task(bad_set_output).result
    assert result.reason_for_incompletion == "boom"
    assert result.output_data == {}
    assert any("set_output data dropped" in log.log and "Opaque" in log.log for log in result.logs)


# --- task context ------------------------------------------------------------------------


def test_context_exposes_the_task_and_merges_into_the_result(run_task, task_factory):
    task = task_factory(
        {"a": 1}, retry_count=2, poll_count=3, workflow_task={"type": "SIMPLE", "name": "test_task"}
    )
    outcome = run_task(uses_context, task=task)
    out = outcome.result.output_data
    assert out["task_id"] == "task-1" and out["workflow"] == "wf-1"
    assert (out["retry"], out["polls"]) == (2, 3)
    assert out["input"] == {"a": 1}
    assert out["def_name"] == "test_task" and out["wf_task_type"] == "SIMPLE"
    assert out["callback"] == 13  # rounded up to whole seconds
    assert out["same_task"] is True
    # set_output is merged; the function's returned keys win
    assert out["from_ctx"] == 1 and out["shared"] == "returned"
    assert [log.log for log in outcome.result.logs] == ["first", "second"]
    assert all(isinstance(log.created_time, int) for log in outcome.result.logs)
    assert outcome.result.callback_after_seconds == 13


def test_the_context_result_is_addressed_and_what_the_function_puts_in_it_is_sent(run_task):
    outcome = run_task(edits_the_context_result)
    result = outcome.result
    assert result.output_data["seen"] == [result.task_id, result.workflow_instance_id, result.worker_id]
    assert result.worker_id is not None
    assert result.output_data["via_result"] is True and result.callback_after_seconds == 7


def test_what_is_written_into_the_context_output_and_logs_is_sent(run_task):
    outcome = run_task(writes_through_the_context_views)
    assert outcome.result.output_data == {"written": 1, "returned": 2}
    assert [log.log for log in outcome.result.logs] == ["appended"]


def test_logs_added_from_two_threads_of_one_task_are_both_sent(run_task, monkeypatch):
    """Both threads find the context without its result; making the result holds each of them up
    until the other arrives too (or a second has passed), so without the context's lock both would
    make one and the log of the first would be lost."""
    import conductor_actors.worker._execution as execution

    arrived = threading.Barrier(2)

    class SlowToMake(execution.TaskResult):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            try:
                arrived.wait(1.0)
            except threading.BrokenBarrierError:
                pass  # the other thread waits for the lock this one holds
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(execution, "TaskResult", SlowToMake)
    outcome = run_task(logs_from_two_threads)
    assert sorted(log.log for log in outcome.result.logs) == ["one", "two"]


def test_is_shutting_down_calls_the_runtime_callable(run_task):
    assert run_task(reports_shutdown).result.output_data == {"stopping": False}
    assert run_task(reports_shutdown, shutting_down=lambda: True).result.output_data == {"stopping": True}


def test_context_outside_a_task_raises():
    with pytest.raises(TaskContextError, match="outside a running task"):
        get_task_context()


def test_context_is_cleared_after_execution(run_task):
    run_task(uses_context)
    with pytest.raises(TaskContextError):
        get_task_context()


def test_context_setters_validate(task_factory):
    ctx = TaskContext(task_factory(), shutting_down=lambda: False)
    with pytest.raises(ValueError):
        ctx.set_callback_after(-5)
    with pytest.raises(ValueError, match="set_output expects a dict"):
        ctx.set_output(["not", "a", "dict"])  # type: ignore[arg-type]


def blocking_context_probe(tag: str) -> dict:
    ctx = get_task_context()
    ctx.add_log(tag)
    _BARRIER.wait(timeout=10)  # all threads are inside their task at the same time
    return {"tag": tag, "seen_input": ctx.get_input()["tag"], "seen_task": get_task_context().get_task_id()}


_BARRIER = threading.Barrier(4)


def test_context_does_not_bleed_between_threads(task_factory):
    bound = BoundWorker(Worker("probe_threads", blocking_context_probe), "w")
    outcomes: dict[str, Any] = {}

    def run(tag: str) -> None:
        task = task_factory({"tag": tag}, task_id=f"id-{tag}")
        outcomes[tag] = execute_sync(bound, task, lambda: False)

    threads = [threading.Thread(target=run, args=(tag,)) for tag in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert sorted(outcomes) == list("abcd")
    for tag, outcome in outcomes.items():
        assert outcome.result.output_data == {"tag": tag, "seen_input": tag, "seen_task": f"id-{tag}"}
        assert [log.log for log in outcome.result.logs] == [tag]


async def interleaved_probe(tag: str) -> dict:
    ctx = get_task_context()
    ctx.add_log(f"start {tag}")
    assert _STARTED is not None
    await _STARTED.wait()
    ctx.add_log(f"end {tag}")
    return {"tag": tag, "task": get_task_context().get_task_id(), "input": get_task_context().get_input()["tag"]}


_STARTED: asyncio.Event | None = None


def test_context_does_not_bleed_between_coroutines(task_factory):
    bound = BoundWorker(Worker("probe_coroutines", interleaved_probe), "w")
    assert bound.is_async

    async def main() -> list[Any]:
        global _STARTED
        _STARTED = asyncio.Event()
        runs = [
            asyncio.ensure_future(execute_async(bound, task_factory({"tag": t}, task_id=f"id-{t}"), lambda: False))
            for t in "abcdef"
        ]
        await asyncio.sleep(0)
        _STARTED.set()  # every coroutine is now suspended inside its task
        return await asyncio.gather(*runs)

    try:
        outcomes = asyncio.run(main())
    finally:
        _STARTED = None
    for tag, outcome in zip("abcdef", outcomes):
        assert outcome.result.output_data == {"tag": tag, "task": f"id-{tag}", "input": tag}
        assert [log.log for log in outcome.result.logs] == [f"start {tag}", f"end {tag}"]


# --- class-based workers and runtime guards ----------------------------------------------


class SyncClassWorker(WorkerInterface):
    def execute(self, task):
        get_task_context().add_log("class")
        return {"echo": task.input_data["v"]}


class AsyncClassWorker(WorkerInterface):
    async def execute(self, task):
        await asyncio.sleep(0)
        get_task_context().add_log("class")
        return {"echo": task.input_data["v"]}


class ClassReturnsTaskResult(WorkerInterface):
    def execute(self, task):
        result = self.get_task_result_from_task(task)
        result.status = TaskResultStatus.COMPLETED
        result.add_output_data("k", "v")
        return result


class FailingClassWorker(WorkerInterface):
    async def execute(self, task):
        raise NonRetryableException("class failure")


def _run_class(flavour: str, worker: WorkerInterface, task):
    bound = BoundWorker(worker, "w-9")
    if flavour == "sync":
        return execute_sync(bound, task, lambda: False)
    return asyncio.run(execute_async(bound, task, lambda: False))


def test_class_based_worker_receives_the_task(flavour, task_factory):
    worker = SyncClassWorker("cls") if flavour == "sync" else AsyncClassWorker("cls")
    assert worker.is_async is (flavour == "async")
    outcome = _run_class(flavour, worker, task_factory({"v": 42}))
    assert outcome.result.output_data == {"echo": 42}
    assert [log.log for log in outcome.result.logs] == ["class"]
    assert outcome.result.worker_id == "w-9"


def test_class_based_worker_may_return_a_task_result(task_factory):
    outcome = _run_class("sync", ClassReturnsTaskResult("cls"), task_factory())
    assert outcome.result.output_data == {"k": "v"}
    assert (outcome.result.task_id, outcome.result.worker_id) == ("task-1", "w-9")


def test_async_class_based_worker_failure(task_factory):
    outcome = _run_class("async", FailingClassWorker("cls"), task_factory())
    assert outcome.result.status is TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert outcome.failed


async def async_worker(x: int) -> dict:
    return {"x": x}


def test_execute_sync_refuses_an_async_worker(task_factory):
    bound = BoundWorker(Worker("a", async_worker), "w")
    with pytest.raises(TypeError, match="execute_async"):
        execute_sync(bound, task_factory({"x": 1}), lambda: False)


def returns_a_coroutine(x: int) -> Any:
    return async_worker(x)


def test_a_sync_function_returning_a_coroutine_fails_clearly(task_factory):
    bound = BoundWorker(Worker("c", returns_a_coroutine), "w")
    outcome = execute_sync(bound, task_factory({"x": 1}), lambda: False)
    assert outcome.result.status is TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert "async def" in outcome.result.reason_for_incompletion


def test_worker_execute_is_official_sdk_compatible(task_factory):
    assert Worker("d", returns_dict).execute(task_factory({"x": 2})).output_data == {"doubled": 4}
    result = asyncio.run(Worker("e", async_worker).execute(task_factory({"x": 3})))
    assert result.output_data == {"x": 3}


@dataclass
class HoldsALock:
    lock: Any


def returns_uncopyable_dataclass() -> HoldsALock:
    return HoldsALock(threading.Lock())


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("cannot print me")


def raises_unprintable() -> dict:
    raise UnprintableError()


class ExplodingDict(dict):
    """A dict whose items cannot be read (user code running while the output is converted)."""

    def items(self):  # type: ignore[override]
        raise RuntimeError("no items for you")


def returns_exploding_dict() -> dict:
    return {"wrapped": ExplodingDict(a=datetime.date(2024, 1, 1))}


def test_a_dataclass_holding_a_non_json_value_names_the_field(run_task):
    outcome = run_task(returns_uncopyable_dataclass)
    assert outcome.result.status is TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert outcome.result.reason_for_incompletion == "output is not JSON-serialisable: value at 'lock' has type lock"
    assert outcome.failed


def test_a_return_value_that_cannot_be_converted_fails_instead_of_raising(run_task):
    outcome = run_task(returns_exploding_dict)
    assert outcome.result.status is TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert outcome.result.reason_for_incompletion == (
        "cannot turn the value returned by the worker function into a task result: no items for you"
    )
    assert outcome.failed


def test_an_exception_whose_str_fails_is_reported_by_class_name(run_task):
    outcome = run_task(raises_unprintable)
    assert outcome.result.status is TaskResultStatus.FAILED
    assert outcome.result.reason_for_incompletion == "UnprintableError"


@dataclass
class RefusedOrder:
    """An input type whose own check ends with a ``BaseException`` (user code run while binding)."""

    n: int

    def __post_init__(self) -> None:
        raise SystemExit("refused by __post_init__")


def takes_refused_order(order: RefusedOrder) -> dict:
    return {"never": order.n}


class InterruptingDict(dict):
    """A dict whose items raise ``KeyboardInterrupt`` while the output is converted."""

    def items(self):  # type: ignore[override]
        raise KeyboardInterrupt("pressed while converting")


def returns_interrupting_dict() -> dict:
    return {"wrapped": InterruptingDict(a=datetime.date(2024, 1, 1))}


def test_a_base_exception_while_binding_the_input_names_its_type(run_task):
    """User code run to convert the input (a dataclass check) may raise a ``BaseException`` too: the
    task fails terminally and the reason says which, not only its message."""
    outcome = run_task(takes_refused_order, {"order": {"n": 1}})
    assert outcome.result.status is TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert outcome.result.reason_for_incompletion == "SystemExit: refused by __post_init__"
    assert outcome.failed


def test_a_base_exception_while_converting_the_output_names_its_type(run_task):
    outcome = run_task(returns_interrupting_dict)
    assert outcome.result.status is TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert outcome.result.reason_for_incompletion == (
        "cannot turn the value returned by the worker function into a task result: "
        "KeyboardInterrupt: pressed while converting"
    )
    assert outcome.failed
