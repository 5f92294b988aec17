"""Tasks that could not be decoded, in the poller's and the updater's state machines: a task whose
ids were read holds a slot until its failure settles; one whose ids were not is logged at ERROR
and holds none."""

from __future__ import annotations

import logging

import pytest

from conductor_actors.client import Task, TaskResultStatus, UndecodableTask
from conductor_actors.runtime._poll import Polled, PollerLogic, PollNow, PollSchedule, undecodable_result
from conductor_actors.runtime._update import Settled, UpdaterLogic
from conductor_actors.settings import RuntimeSettings

SETTINGS = RuntimeSettings(backoff_jitter=0.0)


def task(n: int) -> Task:
    return Task.from_dict({"taskId": f"t{n}", "workflowInstanceId": f"w{n}", "taskType": "echo"})


def broken(n: int, *, ids: bool = True) -> UndecodableTask:
    return UndecodableTask(
        "invalid UTF-8 at byte 40 of the answer", f"t{n}" if ids else None, f"w{n}", "echo", position=n, size=90
    )


def poller(thread_count: int) -> PollerLogic:
    return PollerLogic(thread_count, PollSchedule(0.1, SETTINGS))


def test_a_broken_task_with_ids_takes_a_slot_until_its_failure_settles() -> None:
    logic = poller(3)
    assert logic.on_tick(0.0) == PollNow(3)
    assert logic.on_polled([task(1)], 0.0, [broken(2)]) == Polled((task(1),), (), (broken(2),))
    assert logic.free == 1
    assert logic.on_tick(0.0) == PollNow(1)
    logic.on_polled([task(3)], 0.0)
    assert logic.on_tick(0.0) is None  # no free slot while the three are out
    logic.slots_freed(1)  # the task's result settled
    assert logic.free == 1
    logic.slots_freed(1)  # the failure of the broken one settled
    assert logic.free == 2
    logic.slots_freed(1)  # task 3 settled
    assert logic.free == 3


def test_a_broken_task_without_ids_takes_no_slot_and_is_logged_at_error(caplog: pytest.LogCaptureFixture) -> None:
    logic = poller(2)
    logic.on_tick(0.0)
    with caplog.at_level(logging.ERROR, logger="conductor_actors.runtime"):
        assert logic.on_polled([task(1)], 0.0, [broken(2, ids=False)]) == Polled((task(1),))
    assert logic.free == 1
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert "its ids cannot be read" in record.getMessage()
    assert "taskId unreadable, workflowInstanceId 'w2', taskType 'echo' (item 2 of the answer, 90 bytes)" in (
        record.getMessage())


def test_a_poll_of_only_broken_tasks_is_not_an_empty_poll() -> None:
    logic = poller(2)
    logic.on_tick(0.0)
    logic.on_polled([], 0.0, [broken(1)])
    assert logic.schedule.consecutive_empty == 0 and logic.free == 1


def test_broken_tasks_are_failed_first_when_the_server_returns_more_than_the_free_slots() -> None:
    logic = poller(2)
    logic.on_tick(0.0)
    # Handing a broken task back would only bring it back broken: it is failed, and a valid task
    # beyond the free slots is handed back instead.
    assert logic.on_polled([task(1), task(2)], 0.0, [broken(3)]) == Polled((task(1),), (task(2),), (broken(3),))
    assert logic.free == -1


def test_a_broken_task_chained_by_update_v2_keeps_the_slot_to_be_failed(caplog: pytest.LogCaptureFixture) -> None:
    logic = UpdaterLogic(SETTINGS)
    assert logic.on_success(broken(4)) == Settled(None, broken(4))
    with caplog.at_level(logging.ERROR, logger="conductor_actors.runtime"):
        assert logic.on_success(broken(5, ids=False)) == Settled(None, None)  # the slot is freed
    assert "the update-v2 answer's task could not be decoded" in caplog.text
    assert logic.on_success(task(6)) == Settled(task(6))


def test_the_failure_of_a_broken_task_is_terminal_and_names_the_problem() -> None:
    result = undecodable_result(broken(7), "worker-1")
    assert (result.task_id, result.workflow_instance_id, result.worker_id) == ("t7", "w7", "worker-1")
    assert result.status is TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert result.reason_for_incompletion == "the task could not be decoded: invalid UTF-8 at byte 40 of the answer"
