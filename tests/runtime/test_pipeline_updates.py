"""Sending results: update-v2 with a fall back to v1 for good, concurrent updates, retries of
transient failures on timers that hold nothing up, final failures (the undeliverable callback, then
TaskUpdateFailure), refused credentials (retried, then handed over) and answers that are final at
once."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import itertools
import json
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

import pytest
from _support.pipeline_workers import GATES
from _support.waiting import wait_until
from runtime.conftest import WAIT

from conductor_actors import Worker
from conductor_actors.client import (
    AuthorizationError,
    ConductorHTTPError,
    NotFoundError,
    Task,
    TaskResult,
    TaskResultStatus,
)
from conductor_actors.client._errors import http_error_for
from conductor_actors.events import PollCompleted, TaskExecutionStarted, TaskUpdateFailure

if TYPE_CHECKING:
    from runtime.conftest import PipelineHarness


def _task_not_found(result: TaskResult) -> BaseException:
    """What the client raises when the server answers update-v2 with the real server's 404 for a task."""
    body = {"status": 404, "message": f"No such task found by id: {result.task_id}", "instance": "conductor",
            "retryable": False}
    return http_error_for(404, json.dumps(body).encode(), method="POST", path="/tasks/update-v2")


@pytest.mark.parametrize("status", [405, 404], ids=["405", "404-endpoint"])
def test_a_server_without_update_v2_gets_every_result_over_v1(pipeline: PipelineHarness, status: int) -> None:
    pipeline.server.faults.add("update_v2", status=status)  # for the whole test
    tasks = 20
    workflow_ids = pipeline.start_workflows([{"x": i} for i in range(tasks)])

    pipeline.runner(pipeline.worker("echo", thread_count=1))
    pipeline.complete(workflow_ids)

    stats = pipeline.server.stats()
    assert stats["update_v2"] == 1, "update-v2 must be tried once per process, then never again"
    assert stats["update_v1"] == tasks
    assert sum(p.tasks_received for p in pipeline.recorder.of(PollCompleted)) == tasks
    assert not pipeline.recorder.update_failures()
    outputs = {t["inputData"]["x"]: t["outputData"] for t in pipeline.server.tasks(task_type=pipeline.task_name())}
    assert outputs == {i: {"y": i} for i in range(tasks)}


def test_update_v2_probes_end_once_the_server_shows_it_lacks_the_endpoint(pipeline: PipelineHarness) -> None:
    """update-v2 is assumed (it saves a poll per task on every current server): results already in
    flight when the first 405 arrives try it once each, and after that nothing uses it again."""
    # The 405 takes 200 ms, so all four first results are in flight before the first answer.
    pipeline.server.faults.add("update_v2", status=405, delay_ms=200)
    workflow_ids = pipeline.start_workflows([{"x": i} for i in range(8)])

    pipeline.runner(pipeline.worker("echo", thread_count=4))
    pipeline.complete(workflow_ids)

    stats = pipeline.server.stats()
    assert stats["update_v1"] == 8
    assert 1 <= stats["update_v2"] <= 4, "more update-v2 tries than results in flight when the first 405 came"


def test_a_404_about_the_task_is_final_and_keeps_update_v2(pipeline: PipelineHarness) -> None:
    client = pipeline.recording_client()
    client.fail_next("update_task_v2", _task_not_found)
    first = pipeline.start_workflows([{"x": 1}])

    runner = pipeline.runner(pipeline.worker("echo"), client=client)
    failure = pipeline.recorder.wait_for(TaskUpdateFailure)[0]
    lost_task = pipeline.only_task(first[0])

    assert failure.task_id == lost_task["taskId"]
    assert isinstance(failure.cause, NotFoundError)
    assert failure.retry_count == 1
    assert [method for method, _, _ in client.results_for(lost_task["taskId"])] == ["update_task_v2"]
    wait_until(lambda: len(runner.ledger) == 0, what="the given-up result to be settled")
    assert pipeline.undeliverable.calls == [], "a 404 for a task cannot succeed later: nothing to journal"

    second = pipeline.start_workflows([{"x": 2}])
    pipeline.complete(second)
    assert pipeline.server.stats()["update_v1"] == 0, "a 404 about a task must not switch to v1"
    assert [method for method, _, _ in client.results_for(pipeline.only_task(second[0])["taskId"])] == [
        "update_task_v2"
    ]
    assert pipeline.server.get_task(lost_task["taskId"])["status"] == "IN_PROGRESS"


@pytest.mark.parametrize(
    ("fault", "runtime_attempts"),
    [
        ({"status": 500, "times": 2}, {3}),
        # The client's transport sends a request once more on a fresh connection when a reused one
        # fails before any answer byte, so one drop may never reach the runtime; two always do.
        ({"drop": True, "times": 1}, {1, 2}),
        ({"drop": True, "times": 2}, {2, 3}),
    ],
    ids=["500-twice", "dropped-once", "dropped-twice"],
)
def test_transient_update_failures_are_retried_with_the_configured_delays(
    pipeline: PipelineHarness, fault: dict[str, Any], runtime_attempts: set[int]
) -> None:
    delays = (0.2, 0.4)
    pipeline.server.faults.add("update_v2", **fault)
    client = pipeline.recording_client()
    workflow_ids = pipeline.start_workflows([{"x": 7}])

    pipeline.runner(
        pipeline.worker("echo"), client=client, settings=pipeline.settings(update_retry_delays=delays)
    )
    pipeline.complete(workflow_ids)

    task = pipeline.only_task(workflow_ids[0])
    assert task["outputData"] == {"y": 7}
    assert pipeline.server.stats()["update_v2"] == fault["times"] + 1
    attempts = client.results_for(task["taskId"])
    assert {method for method, _, _ in attempts} == {"update_task_v2"}
    assert len(attempts) in runtime_attempts
    gaps = [later[2] - earlier[2] for earlier, later in itertools.pairwise(attempts)]
    for gap, delay in zip(gaps, delays):
        assert delay <= gap < delay + 1.0, f"retry after {gap:.3f} s, configured {delay} s"
    assert not pipeline.recorder.update_failures()
    assert pipeline.undeliverable.calls == []


def test_an_update_failing_every_attempt_is_published_handed_over_and_frees_its_slot(pipeline: PipelineHarness) -> None:
    fault = pipeline.server.faults.add("update_v2", status=500)
    first = pipeline.start_workflows([{"x": 42}])

    runner = pipeline.runner(pipeline.worker("echo", thread_count=1))
    failure = pipeline.recorder.wait_for(TaskUpdateFailure)[0]
    task = pipeline.only_task(first[0])

    assert failure.task_id == task["taskId"]
    assert failure.workflow_instance_id == first[0]
    assert failure.retry_count == 3
    assert isinstance(failure.cause, ConductorHTTPError) and failure.cause.status == 500
    result = failure.task_result
    assert (result.task_id, result.workflow_instance_id) == (task["taskId"], first[0])
    assert result.status == TaskResultStatus.COMPLETED
    assert result.output_data == {"y": 42}

    task_type, handed_over, cause, attempts = pipeline.undeliverable.wait_for(1)[0]
    assert task_type == pipeline.task_name()
    assert handed_over.to_dict() == result.to_dict()
    assert cause is failure.cause
    assert attempts == 3
    assert pipeline.server.stats()["update_v2"] == 3
    wait_until(lambda: len(runner.ledger) == 0, what="the slot of the undeliverable result to be released")

    fault.remove()
    second = pipeline.start_workflows([{"x": 43}])
    pipeline.complete(second)
    assert pipeline.only_task(second[0])["outputData"] == {"y": 43}
    assert len(pipeline.recorder.update_failures()) == 1


def test_a_result_whose_update_v2_answer_is_too_large_is_sent_again_over_v1_only(pipeline: PipelineHarness) -> None:
    """The server accepted the result and chained a task larger than ``max_response_bytes``.
    Sending the result over update-v2 again would lease one more such task on every attempt (each
    then stranded until its response timeout) and end in a false "could not deliver"; it goes once
    more over POST /tasks instead, which leases nothing, and is never reported as failed."""
    pipeline.configuration.max_response_bytes = 64 * 1024
    small = pipeline.start_workflows([{"x": 1}])
    pipeline.start_workflows([{"x": "b" * 100_000} for _ in range(3)])  # chained after the small one

    pipeline.runner(pipeline.worker("echo", thread_count=1))
    pipeline.complete(small)
    wait_until(lambda: pipeline.server.stats()["update_v1"] == 1, what="the result to be sent again over v1")

    stats = pipeline.server.stats()
    assert (stats["update_v2"], stats["update_v1"]) == (1, 1)
    assert pipeline.only_task(small[0])["outputData"] == {"y": 1}
    assert not pipeline.recorder.update_failures()
    assert pipeline.undeliverable.calls == []


def test_a_400_answer_is_final_at_once(pipeline: PipelineHarness) -> None:
    pipeline.server.faults.add("update_v2", status=400)
    workflow_ids = pipeline.start_workflows([{"x": 1}])

    runner = pipeline.runner(pipeline.worker("echo"))
    failure = pipeline.recorder.wait_for(TaskUpdateFailure)[0]

    assert failure.retry_count == 1
    assert isinstance(failure.cause, ConductorHTTPError) and failure.cause.status == 400
    assert failure.task_result.status == TaskResultStatus.COMPLETED
    wait_until(lambda: len(runner.ledger) == 0, what="the rejected result to be settled")
    assert pipeline.undeliverable.calls == [], "a 400 will never succeed: nothing to journal"
    stats = pipeline.server.stats()
    assert (stats["update_v2"], stats["update_v1"]) == (1, 0)
    assert pipeline.only_task(workflow_ids[0])["status"] == "IN_PROGRESS"


def test_results_of_tasks_ending_together_are_sent_concurrently(pipeline: PipelineHarness) -> None:
    tasks, update_delay = 4, 0.5
    workflow_ids = pipeline.start_workflows([{"gate": "together"}] * tasks)
    client = pipeline.recording_client()
    pipeline.runner(pipeline.worker("hold", thread_count=tasks), client=client)
    pipeline.recorder.wait_for(TaskExecutionStarted, tasks)
    pipeline.server.faults.add("update_v2", delay_ms=update_delay * 1000, times=tasks)

    opened = time.monotonic()
    GATES.open("together")
    pipeline.complete(workflow_ids)
    for workflow_id in workflow_ids:
        client.wait_ended(pipeline.only_task(workflow_id)["taskId"])

    assert client.peak_in_flight == tasks, f"at most {client.peak_in_flight} of {tasks} updates were in flight at once"
    last_end = max(at for _, _, _, at in client.ended)
    assert last_end - opened < tasks * update_delay - 0.1, "the updates were sent one after another"
    assert pipeline.server.stats()["update_v2"] == tasks


def test_a_result_waiting_for_its_retry_holds_up_no_other_result(pipeline: PipelineHarness) -> None:
    """Task A's update fails once (retry in 1 s); meanwhile B's result is delivered and the task the
    server chains to it runs and is delivered too: no updater thread sleeps through the delay (the
    sync pool has one member here) and no executor waits for it."""
    retry_delay = 1.0
    client = pipeline.recording_client()
    first, second = pipeline.start_workflows([{"gate": "a"}, {"gate": "b"}])
    settings = pipeline.settings(update_retry_delays=(retry_delay,), updater_concurrency=1)
    pipeline.runner(pipeline.worker("hold", thread_count=2), client=client, settings=settings)
    pipeline.recorder.wait_for(TaskExecutionStarted, 2)
    task_a, task_b = pipeline.only_task(first)["taskId"], pipeline.only_task(second)["taskId"]
    GATES.open("c")
    [third] = pipeline.start_workflows([{"gate": "c"}])  # queued: update-v2 hands it out with B's answer
    pipeline.server.faults.add("update_v2", status=500, times=1)

    GATES.open("a")
    client.wait_ended(task_a)
    [(_, error, failed_at)] = client.ends_for(task_a)
    assert isinstance(error, ConductorHTTPError) and error.status == 500
    GATES.open("b")
    pipeline.complete([first, second, third], timeout=retry_delay + 5)
    task_c = pipeline.only_task(third)["taskId"]
    for task_id in (task_b, task_c):
        client.wait_ended(task_id)
    client.wait_ended(task_a, 2)

    [(_, b_error, b_delivered)] = client.ends_for(task_b)
    [(_, c_error, c_delivered)] = client.ends_for(task_c)
    retried_at = client.results_for(task_a)[1][2]
    assert b_error is None and c_error is None
    assert retried_at - failed_at >= retry_delay - 0.01
    assert b_delivered < c_delivered < retried_at, "a result waited behind the pending retry"
    assert c_delivered - failed_at < retry_delay
    assert [method for method, _, _ in client.results_for(task_a)] == ["update_task_v2", "update_task_v2"]
    assert not pipeline.recorder.update_failures()


def test_a_final_update_failure_is_handed_to_recovery_before_listeners_hear_of_it(pipeline: PipelineHarness) -> None:
    """A listener that raises or blocks on TaskUpdateFailure cannot delay the durable hand-off: the
    blocking one finds the result already with recovery."""
    pipeline.server.faults.add("update_v2", status=500)
    sink = pipeline.undeliverable
    found_with_recovery: list[bool] = []

    class RaisingListener:
        def on_task_update_failure(self, event: TaskUpdateFailure) -> None:
            raise RuntimeError("a listener bug")

    class BlockingListener:
        def on_task_update_failure(self, event: TaskUpdateFailure) -> None:
            try:
                sink.wait_for(1, timeout=3.0)
            except TimeoutError:
                found_with_recovery.append(False)
            else:
                found_with_recovery.append(True)

    workflow_ids = pipeline.start_workflows([{"x": 9}])
    runner = pipeline.runner(
        pipeline.worker("echo"), listeners=[RaisingListener(), BlockingListener(), pipeline.recorder]
    )
    failure = pipeline.recorder.wait_for(TaskUpdateFailure)[0]

    assert found_with_recovery == [True], "TaskUpdateFailure was published before the hand-off to recovery"
    [(_, handed_over, cause, attempts)] = sink.calls
    assert handed_over.task_id == pipeline.only_task(workflow_ids[0])["taskId"] == failure.task_id
    assert (cause, attempts) == (failure.cause, 3)
    wait_until(lambda: len(runner.ledger) == 0, what="the slot of the undeliverable result to be released")


@pytest.mark.parametrize("status", [401, 403])
def test_a_result_refused_for_its_credentials_is_retried_then_handed_to_recovery(
    pipeline: PipelineHarness, status: int
) -> None:
    pipeline.server.faults.add("update_v2", status=status)
    workflow_ids = pipeline.start_workflows([{"x": 5}])

    runner = pipeline.runner(pipeline.worker("echo"))
    failure = pipeline.recorder.wait_for(TaskUpdateFailure)[0]

    assert isinstance(failure.cause, AuthorizationError) and failure.cause.status == status
    assert failure.retry_count == 3
    task_type, handed_over, cause, attempts = pipeline.undeliverable.wait_for(1)[0]
    assert task_type == pipeline.task_name()
    assert handed_over.task_id == pipeline.only_task(workflow_ids[0])["taskId"]
    assert handed_over.output_data == {"y": 5}
    assert (cause, attempts) == (failure.cause, 3)
    stats = pipeline.server.stats()
    assert (stats["update_v2"], stats["update_v1"]) == (3, 0)
    wait_until(lambda: len(runner.ledger) == 0, what="the refused result to be settled")


def _runner_name() -> str:
    """What runs the code calling it: the thread (sync), or the coroutine on the loop (async)."""
    try:
        current = asyncio.current_task()
    except RuntimeError:  # no running loop: a thread of the sync flavour
        current = None
    return threading.current_thread().name if current is None else current.get_name()


def _note_runner(x: int) -> dict[str, Any]:
    """A sync worker saying which thread ran it."""
    return {"y": x, "ran_on": _runner_name()}


async def _note_runner_async(x: int) -> dict[str, Any]:
    """An async worker saying which coroutine ran it."""
    await asyncio.sleep(0)
    return {"y": x, "ran_on": _runner_name()}


def test_a_result_is_sent_by_the_thread_or_coroutine_that_ran_its_task_which_runs_the_chained_task(
    pipeline: PipelineHarness,
) -> None:
    """A hand-over to another thread costs a thread switch per result, and another per chained task;
    on the loop, a message and a new coroutine each. So the thread (sync) or coroutine (async) that ran
    a task sends its result's first attempt and runs what update-v2 chains to it."""
    sent_from: dict[str, str] = {}
    chained_on: dict[str, str] = {}  # chained task id -> the thread or coroutine whose send brought it

    def noted(sender: str, chained: Any) -> Any:
        if chained is not None:
            chained_on[chained.task_id] = sender
        return chained

    workflow_ids = pipeline.start_workflows([{"x": i} for i in range(8)])
    client = pipeline.recording_client()
    if pipeline.flavour == "sync":
        send = client.update_task_v2

        def noting(result: TaskResult) -> Any:
            sent_from[result.task_id] = sender = _runner_name()
            return noted(sender, send(result))

        client.update_task_v2 = noting  # type: ignore[method-assign]
        function: Any = _note_runner
    else:
        send_async = client.update_task_v2

        async def noting_async(result: TaskResult) -> Any:
            sent_from[result.task_id] = sender = _runner_name()
            return noted(sender, await send_async(result))

        client.update_task_v2 = noting_async  # type: ignore[method-assign]
        function = _note_runner_async
    pipeline.runner(Worker(pipeline.task_name(), function, thread_count=2), client=client)
    pipeline.complete(workflow_ids)

    tasks = [pipeline.only_task(w) for w in workflow_ids]
    ran_on = {task["taskId"]: task["outputData"]["ran_on"] for task in tasks}
    assert sent_from == ran_on
    assert chained_on, "update-v2 chained no task"
    assert {task_id: ran_on[task_id] for task_id in chained_on} == chained_on


def _say_started_then_hold(gate: str) -> dict[str, Any]:
    """A sync worker that opens ``<gate>-started`` once its function runs, then waits for ``gate``."""
    GATES.open(f"{gate}-started")
    return {"opened": GATES.get(gate).wait(WAIT)}


async def _say_started_then_hold_async(gate: str) -> dict[str, Any]:
    """The async twin of ``_say_started_then_hold``."""
    GATES.open(f"{gate}-started")
    return {"opened": await asyncio.to_thread(GATES.get(gate).wait, WAIT)}


def test_a_sent_result_is_not_held_while_the_task_chained_to_it_runs(pipeline: PipelineHarness) -> None:
    """The thread or coroutine that sent a result runs the chained task next; the result it sent (its
    output may be large) must be freed by then, not held until the chained task ends."""
    sent: list[weakref.ref[TaskResult]] = []
    client = pipeline.recording_client()
    if pipeline.flavour == "sync":
        send = client.update_task_v2

        def noting(result: TaskResult) -> Any:
            sent.append(weakref.ref(result))
            return send(result)

        client.update_task_v2 = noting  # type: ignore[method-assign]
    else:
        send_async = client.update_task_v2

        async def noting_async(result: TaskResult) -> Any:
            sent.append(weakref.ref(result))
            return await send_async(result)

        client.update_task_v2 = noting_async  # type: ignore[method-assign]
    GATES.open("freed-first")
    first, chained = pipeline.start_workflows([{"gate": "freed-first"}, {"gate": "freed-chained"}])
    function: Any = _say_started_then_hold if pipeline.flavour == "sync" else _say_started_then_hold_async
    pipeline.runner(Worker(pipeline.task_name(), function, thread_count=1), client=client)
    assert GATES.get("freed-chained-started").wait(WAIT), "the chained task did not run"

    gc.collect()
    assert len(sent) == 1
    assert sent[0]() is None, "the first task's result is still held while the chained task runs"
    GATES.open("freed-chained")
    pipeline.complete([first, chained])


#: Set by ``_leave_context_set`` and never reset.
_LEFT_SET: contextvars.ContextVar[str | None] = contextvars.ContextVar("left_set", default=None)


async def _leave_context_set(x: int) -> dict[str, Any]:
    """An async worker whose code sets a context variable and leaves it set."""
    seen = _LEFT_SET.get()
    _LEFT_SET.set(f"left by task {x}")
    return {"seen": seen}


@pytest.mark.parametrize("flavour", ["async"])
def test_an_async_task_does_not_see_context_variables_the_task_before_it_left_set(
    pipeline: PipelineHarness,
) -> None:
    """Each async task starts from a fresh copy of the executor's context, as in a coroutine of its
    own, also when update-v2 chained it to a task whose code left a context variable set."""
    workflow_ids = pipeline.start_workflows([{"x": i} for i in range(4)])
    pipeline.runner(Worker(pipeline.task_name(), _leave_context_set, thread_count=1))
    pipeline.complete(workflow_ids)

    outputs = [pipeline.only_task(w)["outputData"] for w in workflow_ids]
    assert [output["seen"] for output in outputs] == [None] * 4
    polled = sum(event.tasks_received for event in pipeline.recorder.of(PollCompleted))
    assert polled < 4, "no task was chained to the result before it"


def test_a_server_chaining_the_task_just_sent_keeps_the_slot(pipeline: PipelineHarness) -> None:
    """An odd server answers a result with the very task it was for: the task takes its own place in
    the ledger and runs again, and the slot stays in use until that run is settled."""
    client = pipeline.recording_client()
    inner = client.inner
    echoed: list[str] = []

    def echo(result: TaskResult, answer: Task | None) -> Task | None:
        if answer is not None or echoed:
            return answer
        echoed.append(result.task_id)
        return Task(task_id=result.task_id, workflow_instance_id=result.workflow_instance_id,
                    task_type=pipeline.task_name(), input_data={"x": 1}, response_timeout_seconds=60)

    if pipeline.flavour == "sync":
        send = inner.update_task_v2
        inner.update_task_v2 = lambda result: echo(result, send(result))  # type: ignore[method-assign]
    else:
        send_async = inner.update_task_v2

        async def echo_async(result: TaskResult) -> Task | None:
            return echo(result, await send_async(result))

        inner.update_task_v2 = echo_async  # type: ignore[method-assign]
    first = pipeline.start_workflows([{"x": 1}])
    runner = pipeline.runner(pipeline.worker("echo", thread_count=1), client=client)
    pipeline.complete(first)
    wait_until(lambda: len(runner.ledger) == 0, what="the task run again to be settled")

    later = pipeline.start_workflows([{"x": 2}])
    pipeline.complete(later)  # polled: the one slot was freed after the second run
    started = [e.task_id for e in pipeline.recorder.of(TaskExecutionStarted)]
    assert started.count(echoed[0]) == 2
