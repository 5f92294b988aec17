"""Parent-side actors passed to ``TaskHandler(actors=[...])`` see the events of every worker process."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import queue
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from _support.cli_apps import WAIT, one_task_workflow, start_workflows, wait_until

from conductor_actors import (
    AsyncioActor,
    RuntimeSettings,
    TaskExecutionCompleted,
    TaskResultStatus,
    TaskUpdateFailure,
    ThreadActor,
    Worker,
)

if TYPE_CHECKING:
    from conductor_actors.devserver import DevServer

    from .conftest import MakeHandler, Scenario


class Recorder(ThreadActor):
    """Puts every event it is told into ``sink`` (its own thread; the test reads the queue)."""

    subscriptions = (TaskExecutionCompleted,)

    def __init__(self, sink: queue.Queue[Any]) -> None:
        self.sink = sink

    def on_receive(self, message: Any) -> None:
        self.sink.put(message)


class UpdateFailureRecorder(Recorder):
    """Puts every TaskUpdateFailure into ``sink``."""

    subscriptions = (TaskUpdateFailure,)


class FlakyRecorder(ThreadActor):
    """Raises on the first event any instance sees; records ``(incarnation, event)`` otherwise.

    ``incarnations`` numbers the instances the actor supervisor builds (0 = the first)."""

    subscriptions = (TaskExecutionCompleted,)

    def __init__(self, sink: queue.Queue[Any], raised: threading.Event, incarnations: Iterator[int]) -> None:
        self.sink, self.raised = sink, raised
        self.incarnation = next(incarnations)

    def on_receive(self, message: Any) -> None:
        if not self.raised.is_set():
            self.raised.set()
            raise RuntimeError("FlakyRecorder fails on its first event (on purpose)")
        self.sink.put((self.incarnation, message))


def drain(sink: queue.Queue[Any], count: int, what: str) -> list[Any]:
    """Take ``count`` items from ``sink``, waiting at most ``WAIT`` s for each."""
    items = []
    for _ in range(count):
        try:
            items.append(sink.get(timeout=WAIT))
        except queue.Empty:
            raise AssertionError(f"got {len(items)} of {count} {what}: {items}") from None
    return items


def task_ids(server: DevServer, workflow_ids: list[str]) -> dict[str, str]:
    """workflow id -> id of its (only) task."""
    return {w: server.get_workflow(w)["tasks"][0]["taskId"] for w in workflow_ids}


def test_actor_receives_completions_from_two_worker_processes(
    make_handler: MakeHandler, dev_server: DevServer, scenario: Scenario
) -> None:
    """One actor subscribed to TaskExecutionCompleted receives the completions of a sync worker
    process and of an async worker process: one event per task, with the task's ids."""
    sleepy = scenario("sleepy")
    sink: queue.Queue[Any] = queue.Queue()
    handler = make_handler(
        [Worker("h_sync", sleepy.sleepy_sync, poll_interval=20, thread_count=4),
         Worker("h_async", sleepy.sleepy_async, poll_interval=20, thread_count=4)],
        actors=[functools.partial(Recorder, sink)],
    )
    ids = []
    for task in ("h_sync", "h_async"):
        ids += start_workflows(dev_server, one_task_workflow(dev_server, task, ["seconds", "index"]),
                               ({"seconds": 0.01, "index": i} for i in range(10)))
    with handler:
        assert dev_server.wait_for_workflows(ids, WAIT) == dict.fromkeys(ids, "COMPLETED")
        events = drain(sink, len(ids), "completion events")
    expected = task_ids(dev_server, ids)
    assert sorted(e.task_id for e in events) == sorted(expected.values())
    assert {e.task_id: e.workflow_instance_id for e in events} == {t: w for w, t in expected.items()}
    assert {e.task_type for e in events} == {"h_sync", "h_async"}
    pids = {status.task_type: status.pid for status in handler.status()}
    assert pids["h_sync"] != pids["h_async"]
    for task_type, pid in pids.items():  # the default worker id is <host name>-<pid of the worker process>
        assert {e.worker_id for e in events if e.task_type == task_type} == {f"{socket.gethostname()}-{pid}"}
    assert sink.empty()


def test_actor_that_raises_is_restarted_and_keeps_receiving(
    make_handler: MakeHandler, dev_server: DevServer, scenario: Scenario
) -> None:
    """An actor raising on an event is replaced by a fresh instance behind the same ref: the
    workers are untouched and later events reach the new instance."""
    sleepy = scenario("sleepy")
    sink: queue.Queue[Any] = queue.Queue()
    raised = threading.Event()
    handler = make_handler(
        [Worker("h_flaky", sleepy.sleepy_sync, poll_interval=20)],
        actors=[functools.partial(FlakyRecorder, sink, raised, itertools.count())],
    )
    workflow = one_task_workflow(dev_server, "h_flaky", ["seconds", "index"])
    with handler:
        first = start_workflows(dev_server, workflow, [{"seconds": 0, "index": 0}])
        dev_server.wait_for_workflows(first, WAIT)
        wait_until(raised.is_set, "the actor to fail")

        def delivered_to_new_instance() -> bool:  # events told during the restart backoff are dropped
            ids = start_workflows(dev_server, workflow, [{"seconds": 0, "index": 1}])
            dev_server.wait_for_workflows(ids, WAIT)
            try:
                incarnation, _ = sink.get(timeout=0.5)
            except queue.Empty:
                return False
            return incarnation >= 1

        wait_until(delivered_to_new_instance, "an event at the restarted actor", interval=0)
        later = start_workflows(dev_server, workflow, ({"seconds": 0, "index": i} for i in range(2, 7)))
        assert dev_server.wait_for_workflows(later, WAIT) == dict.fromkeys(later, "COMPLETED")
        received = drain(sink, len(later), "events after the restart")
        assert {incarnation for incarnation, _ in received} == {1}
        assert sorted(e.task_id for _, e in received) == sorted(task_ids(dev_server, later).values())
        assert [s.restarts for s in handler.status()] == [0]


def test_update_failure_actor_gets_the_full_result(
    make_handler: MakeHandler, dev_server: DevServer, scenario: Scenario, flavour: str
) -> None:
    """With every result update failing (HTTP 500), an actor subscribed to TaskUpdateFailure gets one
    event per task after the configured attempts, carrying the full TaskResult (ids, COMPLETED,
    the output) and the cause."""
    sleepy = scenario("sleepy")
    function = sleepy.sleepy_sync if flavour == "sync" else sleepy.sleepy_async
    sink: queue.Queue[Any] = queue.Queue()
    handler = make_handler(
        [Worker("h_unlucky", function, poll_interval=20, thread_count=3)],
        actors=[functools.partial(UpdateFailureRecorder, sink)],
    )
    dev_server.faults.add("update", status=500)
    ids = start_workflows(dev_server, one_task_workflow(dev_server, "h_unlucky", ["seconds", "index"]),
                          ({"seconds": 0, "index": i} for i in range(3)))
    with handler:
        events = drain(sink, len(ids), "update failures")
        pid = handler.status()[0].pid
    expected = task_ids(dev_server, ids)
    by_task = {e.task_id: e for e in events}
    assert sorted(by_task) == sorted(expected.values())
    attempts = len(handler.runtime_settings.update_retry_delays) + 1
    for index, workflow_id in enumerate(ids):
        event = by_task[expected[workflow_id]]
        result = event.task_result
        assert event.task_type == "h_unlucky" and event.workflow_instance_id == workflow_id
        assert result.task_id == expected[workflow_id] and result.workflow_instance_id == workflow_id
        assert result.status == TaskResultStatus.COMPLETED
        assert result.output_data == {"index": index, "pid": pid}
        assert event.retry_count == attempts
        assert "500" in str(event.cause)
    assert dev_server.stats()["update_v2"] + dev_server.stats()["update_v1"] >= attempts * len(ids)



def test_update_failures_during_the_stop_reach_the_actor_before_stop_returns(
    make_handler: MakeHandler, dev_server: DevServer, scenario: Scenario, fast_runtime: RuntimeSettings, flavour: str
) -> None:
    """Results whose retries are still pending when the handler stops fail for good during the
    stop's flush; their TaskUpdateFailure events still reach the parent-side actor by the time
    ``stop_processes()`` returns (nothing the workers reported is lost on the way out)."""
    sleepy = scenario("sleepy")
    function = sleepy.sleepy_sync if flavour == "sync" else sleepy.sleepy_async
    sink: queue.Queue[Any] = queue.Queue()
    handler = make_handler(
        [Worker("h_late", function, poll_interval=20, thread_count=3)],
        actors=[functools.partial(UpdateFailureRecorder, sink)],
        runtime_settings=dataclasses.replace(fast_runtime, update_retry_delays=(30.0, 30.0)),
    )
    dev_server.faults.add("update", status=503)
    ids = start_workflows(dev_server, one_task_workflow(dev_server, "h_late", ["seconds", "index"]),
                          ({"seconds": 0, "index": i} for i in range(3)))
    handler.start_processes()
    wait_until(lambda: dev_server.stats()["update_v2"] >= len(ids), "every first update attempt to fail")
    assert sink.empty()  # the retries are 30 s away
    assert handler.stop_processes(WAIT) == 0
    received = [sink.get_nowait() for _ in range(sink.qsize())]
    assert sorted(e.task_id for e in received) == sorted(task_ids(dev_server, ids).values())
    assert {e.task_result.status for e in received} == {TaskResultStatus.COMPLETED}


def test_an_asyncio_actor_is_refused_as_a_parent_actor(scenario: Scenario, make_handler: MakeHandler) -> None:
    """Parent-side actors run on threads: an AsyncioActor subclass is refused at construction, with
    the fix named, before any process starts."""

    class LoopRecorder(AsyncioActor):
        subscriptions = (TaskExecutionCompleted,)

    sleepy = scenario("sleepy")
    with pytest.raises(TypeError, match=r"LoopRecorder.*subclass ThreadActor"):
        make_handler([Worker("h_refused", sleepy.sleepy_sync, poll_interval=20)], actors=[LoopRecorder])
