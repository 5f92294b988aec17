"""The task ledger: every accepted task until it is settled, with compare-and-set transitions."""

from __future__ import annotations

from conductor_actors.client import Task
from conductor_actors.runtime._pipeline import TaskLedger, TaskState


def task(n: int, **extra: object) -> Task:
    return Task.from_dict({"taskId": f"t{n}", "workflowInstanceId": f"w{n}", "taskType": "echo", **extra})


def test_ledger_tracks_every_task_until_settled_with_compare_and_set_transitions() -> None:
    ledger = TaskLedger()
    ledger.received(task(1))
    ledger.received(task(2))
    assert ledger.transition("t1", TaskState.RECEIVED, TaskState.RUNNING)
    assert not ledger.transition("t1", TaskState.RECEIVED, TaskState.RUNNING)  # lost the race: no change
    assert ledger.unsettled(TaskState.RUNNING) == [task(1)]
    assert ledger.count(TaskState.RECEIVED) == 1 and ledger.count() == 2
    assert ledger.state_of("t2") is TaskState.RECEIVED
    assert ledger.settled("t1")
    assert not ledger.settled("t1")  # settling twice is noticed
    assert not ledger.transition("t1", TaskState.RUNNING, TaskState.REPORTING)
    assert len(ledger) == 1


def test_ledger_wait_returns_when_the_last_task_leaves_a_state_or_times_out() -> None:
    import threading

    ledger = TaskLedger()
    ledger.received(task(1))
    assert ledger.wait_until_none(TaskState.RECEIVED, timeout=0.01) is False
    waiting = threading.Event()
    results: list[bool] = []

    def waiter() -> None:
        waiting.set()
        results.append(ledger.wait_until_none(timeout=10.0))

    thread = threading.Thread(target=waiter)
    thread.start()
    waiting.wait(5)
    ledger.transition("t1", TaskState.RECEIVED, TaskState.RUNNING)
    ledger.settled("t1")
    thread.join(10)
    assert results == [True]


def test_a_chained_task_takes_the_place_of_the_one_whose_result_brought_it_in_one_step() -> None:
    ledger = TaskLedger()
    sizes: list[int] = []
    ledger.on_change = lambda: sizes.append(len(ledger))
    ledger.received(task(1))
    ledger.received(task(2), replacing="t1")
    assert sizes == [1, 1], "the ledger looked empty while the slot passed on"
    assert ledger.unsettled() == [task(2)]

    ledger.received(task(2), replacing="t2")  # a server chaining the very task just sent
    assert ledger.unsettled() == [task(2)] and ledger.state_of("t2") is TaskState.RECEIVED
    ledger.received(task(3), replacing="t9")  # already handed over at the flush deadline
    assert len(ledger) == 2
