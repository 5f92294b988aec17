"""The ``conductor_workers`` fixture (``InProcessWorkers``): workers in this process against
``conductor_dev_server``, both fixtures coming from the plugin with no conftest import."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from _support.cli_apps import wait_until

from conductor_actors import (
    NonRetryableException,
    TaskExecutionCompleted,
    TaskExecutionStarted,
    worker_task,
)
from conductor_actors.testing import InProcessWorkers

#: Tasks that must run at the same time to meet (see ``meet``).
PARTY = 4


@worker_task(task_definition_name="kit_split_sync", thread_count=2)
def split(sentence: str) -> dict:
    if not sentence:
        raise NonRetryableException("nothing to split")
    return {"words": sentence.split()}


@worker_task(task_definition_name="kit_count_sync", thread_count=2)
def count(words: list[str]) -> dict:
    return {"count": len(words), "longest": max(words, key=len)}


@worker_task(task_definition_name="kit_split_async", thread_count=2)
async def split_async(sentence: str) -> dict:
    await asyncio.sleep(0)
    return split(sentence)


@worker_task(task_definition_name="kit_count_async", thread_count=2)
async def count_async(words: list[str]) -> dict:
    await asyncio.sleep(0)
    return count(words)


_barriers: dict[str, threading.Barrier] = {}
_arrived: dict[str, int] = {}
_arrived_lock = threading.Lock()


@worker_task(task_definition_name="kit_meet_sync")
def meet(group: str) -> dict:
    """Completes only when PARTY tasks of ``group`` run at once (a barrier; broken after 10 s)."""
    with _arrived_lock:
        barrier = _barriers.setdefault(group, threading.Barrier(PARTY, timeout=10))
    barrier.wait()
    return {"met": PARTY}


@worker_task(task_definition_name="kit_meet_async")
async def meet_async(group: str) -> dict:
    """Completes only when PARTY tasks of ``group`` run at once (gives up after 10 s)."""
    with _arrived_lock:
        _arrived[group] = _arrived.get(group, 0) + 1
    deadline = time.monotonic() + 10
    while _arrived[group] < PARTY:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {_arrived[group]} of {PARTY} tasks ran at the same time")
        await asyncio.sleep(0.005)
    return {"met": _arrived[group]}


WORKERS = {"sync": (split, count, meet), "async": (split_async, count_async, meet_async)}


def sentence_workflow(server: Any, flavour: str) -> str:
    name = f"kit_sentence_{flavour}"
    server.register_task_def({"name": f"kit_split_{flavour}", "retryCount": 0})
    server.register_workflow({
        "name": name, "version": 1, "schemaVersion": 2,
        "tasks": [
            {"name": f"kit_split_{flavour}", "taskReferenceName": "split",
             "inputParameters": {"sentence": "${workflow.input.sentence}"}},
            {"name": f"kit_count_{flavour}", "taskReferenceName": "count",
             "inputParameters": {"words": "${split.output.words}"}},
        ],
        "outputParameters": {"count": "${count.output.count}", "longest": "${count.output.longest}"},
    })
    return name


def test_several_workers_run_workflows_to_completion(
    conductor_dev_server: Any, conductor_workers: InProcessWorkers, flavour: str
) -> None:
    name = sentence_workflow(conductor_dev_server, flavour)
    split_worker, count_worker, _ = WORKERS[flavour]
    conductor_workers(split_worker, count_worker)

    workflow = conductor_workers.run_workflow(name, {"sentence": "workers run in this very process"})
    assert workflow["status"] == "COMPLETED", workflow
    assert workflow["output"] == {"count": 6, "longest": "workers"}

    sentences = [f"sentence number {n}" for n in range(10)] + [""]
    ids = [conductor_dev_server.start_workflow(name, {"sentence": s}) for s in sentences]
    statuses = conductor_workers.wait_for_workflows(ids)
    assert [statuses[i] for i in ids] == ["COMPLETED"] * 10 + ["FAILED"]
    failed = conductor_dev_server.get_workflow(ids[-1])["tasks"][0]
    assert (failed["status"], failed["reasonForIncompletion"]) == ("FAILED_WITH_TERMINAL_ERROR", "nothing to split")


def test_keyword_overrides_apply_to_every_worker_started(
    conductor_dev_server: Any, conductor_workers: InProcessWorkers, flavour: str
) -> None:
    """``conductor_workers(fn, thread_count=4)``: four tasks run at once (they only finish together)."""
    meet_worker = WORKERS[flavour][2]
    conductor_dev_server.register_workflow({
        "name": "kit_meet", "version": 1, "schemaVersion": 2,
        "tasks": [{"name": f"kit_meet_{flavour}", "taskReferenceName": "meet",
                   "inputParameters": {"group": "${workflow.input.group}"}}]})
    conductor_workers(meet_worker, thread_count=PARTY)
    assert [runner.worker_settings.worker_config.thread_count for runner in conductor_workers.runners] == [PARTY]
    group = f"{flavour}-{time.monotonic_ns()}"
    ids = [conductor_dev_server.start_workflow("kit_meet", {"group": group}) for _ in range(PARTY)]
    assert set(conductor_workers.wait_for_workflows(ids).values()) == {"COMPLETED"}


def test_a_workflow_that_does_not_finish_in_time_is_a_timeout(
    conductor_dev_server: Any, conductor_workers: InProcessWorkers
) -> None:
    name = sentence_workflow(conductor_dev_server, "sync")
    conductor_workers(split)  # nobody runs kit_count_sync
    with pytest.raises(TimeoutError, match="1 of 1 workflows still unfinished"):
        conductor_workers.run_workflow(name, {"sentence": "stuck in the middle"}, timeout=0.5)


class Recorder:
    """A listener: remembers the events it was given (called on the workers' threads)."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.lock = threading.Lock()

    def on_task_execution_started(self, event: TaskExecutionStarted) -> None:
        with self.lock:
            self.events.append(event)

    def on_task_execution_completed(self, event: TaskExecutionCompleted) -> None:
        with self.lock:
            self.events.append(event)


def test_in_process_workers_pass_events_to_listeners_and_stop_on_close(
    conductor_dev_server: Any, flavour: str
) -> None:
    """``InProcessWorkers`` outside pytest: listeners get the events; leaving the ``with`` block
    stops every worker (their threads end)."""
    recorder = Recorder()
    name = sentence_workflow(conductor_dev_server, flavour)
    before = set(threading.enumerate())
    with InProcessWorkers(conductor_dev_server, listeners=[recorder]) as workers:
        workers(*WORKERS[flavour][:2])
        started_threads = {t for t in set(threading.enumerate()) - before if t.name.startswith("kit_")}
        workflow = workers.run_workflow(name, {"sentence": "a b"})
    assert workflow["status"] == "COMPLETED"
    assert started_threads, "the workers run on threads of their own"
    assert workers.runners == []
    # Polling has ended when close() returns (the poller, or the async worker's loop, is joined);
    # the idle executor and updater threads finish on their own just after.
    assert [t.name for t in started_threads if t.name.endswith(("-poller", "-loop")) and t.is_alive()] == []
    wait_until(lambda: not any(t.is_alive() for t in started_threads), "every worker thread to end", timeout=10)
    kinds = [(type(e).__name__, e.task_type) for e in recorder.events]
    split_type, count_type = f"kit_split_{flavour}", f"kit_count_{flavour}"
    assert kinds == [("TaskExecutionStarted", split_type), ("TaskExecutionCompleted", split_type),
                     ("TaskExecutionStarted", count_type), ("TaskExecutionCompleted", count_type)]
    assert recorder.events[-1].output_size_bytes == len('{"count":2,"longest":"a"}')
