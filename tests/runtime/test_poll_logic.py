"""The poller's sans-I/O decisions: the poll schedule and its backoffs, slots, and the validation of
arrivals."""

from __future__ import annotations

import logging

import pytest

from conductor_actors.client import (
    AuthorizationError,
    ConductorTimeoutError,
    ConductorTransportError,
    Task,
)
from conductor_actors.runtime._poll import (
    Polled,
    PollerLogic,
    PollNow,
    PollSchedule,
    WaitFor,
    empty_poll_delay,
    invalid_task_reason,
)
from conductor_actors.settings import RuntimeSettings

NO_JITTER = RuntimeSettings(backoff_jitter=0.0)


def test_empty_poll_delay_doubles_from_two_ms_and_reaches_the_interval_exactly() -> None:
    assert [empty_poll_delay(k, 0.1) for k in range(9)] == [
        0.0, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.1, 0.1,
    ]


@pytest.mark.parametrize("interval", [1.5, 5.0, 30.0])
def test_empty_poll_delay_reaches_intervals_of_several_seconds(interval: float) -> None:
    delays = [empty_poll_delay(k, interval) for k in range(1, 40)]
    assert delays == sorted(delays)
    assert delays[-1] == interval
    assert empty_poll_delay(10_000, interval) == interval  # no overflow for long idle periods


def test_schedule_spaces_poll_starts_so_a_long_poll_counts_toward_the_delay() -> None:
    schedule = PollSchedule(poll_interval=0.1, settings=NO_JITTER)
    assert schedule.delay(now=0.0) == 0.0
    for _ in range(10):  # ten empty polls: the delay is now the full interval
        schedule.poll_started(now=0.0)
        schedule.poll_succeeded(0, now=0.0)
    assert schedule.delay(now=0.0) == pytest.approx(0.1)
    assert schedule.delay(now=0.04) == pytest.approx(0.06)
    # A long-poll that itself took 100 ms: the next one may start at once.
    schedule.poll_started(now=1.0)
    schedule.poll_succeeded(0, now=1.1)
    assert schedule.delay(now=1.1) == 0.0


def test_tasks_reset_the_empty_backoff() -> None:
    schedule = PollSchedule(poll_interval=5.0, settings=NO_JITTER)
    for i in range(20):
        schedule.poll_started(now=float(i))
        schedule.poll_succeeded(0, now=float(i))
    schedule.poll_started(now=100.0)
    schedule.poll_succeeded(3, now=100.0)
    assert schedule.consecutive_empty == 0
    assert schedule.delay(now=100.0) == 0.0


def test_auth_and_other_failures_back_off_separately_capped_and_reset_on_success() -> None:
    settings = RuntimeSettings(
        backoff_jitter=0.0, auth_backoff_base=1.0, auth_backoff_cap=8.0,
        poll_error_backoff_base=0.5, poll_error_backoff_cap=3.0,
    )
    schedule = PollSchedule(poll_interval=0.1, settings=settings)
    auth = AuthorizationError(401, "denied")
    other = ConductorTransportError("refused")
    assert [schedule.poll_failed(auth, now=0.0) for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert [schedule.poll_failed(other, now=0.0) for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert schedule.delay(now=1.0) == pytest.approx(2.0)  # blocked until 0 + 3.0
    schedule.poll_started(now=10.0)
    schedule.poll_succeeded(1, now=10.0)
    assert (schedule.auth_failures, schedule.other_failures) == (0, 0)
    assert schedule.poll_failed(auth, now=10.0) == 1.0
    assert schedule.poll_failed(other, now=10.0) == 0.5


def test_failure_backoff_jitter_stays_within_the_configured_fraction() -> None:
    settings = RuntimeSettings(backoff_jitter=0.2, poll_error_backoff_base=10.0, poll_error_backoff_cap=10.0)
    low = PollSchedule(0.1, settings, rng=lambda: 0.0).poll_failed(ConductorTimeoutError("t"), now=0.0)
    high = PollSchedule(0.1, settings, rng=lambda: 1.0).poll_failed(ConductorTimeoutError("t"), now=0.0)
    assert (low, high) == (pytest.approx(8.0), pytest.approx(12.0))


SETTINGS = RuntimeSettings(backoff_jitter=0.0, update_retry_delays=(1.0, 2.0))


def task(n: int, **extra: object) -> Task:
    return Task.from_dict({"taskId": f"t{n}", "workflowInstanceId": f"w{n}", "taskType": "echo", **extra})


def poller(thread_count: int = 3, **kwargs: object) -> PollerLogic:
    return PollerLogic(thread_count, PollSchedule(0.1, SETTINGS), **kwargs)  # type: ignore[arg-type]


def test_poller_asks_for_exactly_the_free_slots() -> None:
    logic = poller(3)
    assert logic.on_tick(now=0.0) == PollNow(3)
    assert logic.on_polled([task(1), task(2)], now=0.0) == Polled((task(1), task(2)))
    assert logic.free == 1
    assert logic.on_tick(now=0.0) == PollNow(1)
    logic.on_polled([task(3)], now=0.0)
    assert logic.on_tick(now=0.0) is None  # no free slot: nothing to do until slots are freed
    assert logic.want_tick() is False
    logic.slots_freed(2)
    assert logic.want_tick() is True
    assert logic.want_tick() is False  # a tick is already pending
    assert logic.on_tick(now=0.0) == PollNow(2)


def test_poller_waits_after_empty_polls_and_then_polls() -> None:
    logic = poller(1)
    assert logic.on_tick(now=0.0) == PollNow(1)
    logic.on_polled([], now=0.0)
    assert logic.on_tick(now=0.0) == WaitFor(pytest.approx(0.002))
    assert logic.tick_pending  # the shell scheduled a timer tick
    assert logic.on_tick(now=0.002) == PollNow(1)
    logic.on_polled([], now=0.002)
    assert logic.on_tick(now=0.003) == WaitFor(pytest.approx(0.003))  # 4 ms after the start at 0.002


def test_one_poll_at_a_time_and_none_while_paused_or_stopping() -> None:
    logic = poller(2)
    assert logic.on_tick(0.0) == PollNow(2)
    assert logic.want_tick() is False  # a poll is in flight
    logic.on_polled([], 0.0)
    logic.paused = True
    assert logic.on_tick(1.0) is None and logic.want_tick() is False
    logic.paused = False
    logic.stopping = True
    assert logic.on_tick(1.0) is None


def test_tasks_beyond_the_free_slots_are_excess_holding_a_slot_until_handed_back() -> None:
    logic = poller(2)
    assert logic.on_tick(0.0) == PollNow(2)
    # A server that ignores ``count``: two tasks run, three must go back at once.
    assert logic.on_polled([task(n) for n in range(5)], 0.0) == Polled(
        (task(0), task(1)), (task(2), task(3), task(4))
    )
    assert logic.free == -3
    assert logic.want_tick() is False and logic.on_tick(0.0) is None
    logic.slots_freed(3)  # the three hand-backs settled
    assert logic.free == 0 and logic.want_tick() is False
    logic.slots_freed(1)  # a task that ran settled
    assert logic.on_tick(0.0) == PollNow(1)
    assert logic.on_polled([task(5), task(6)], 0.0) == Polled((task(5),), (task(6),))
    logic.slots_freed(5)
    assert logic.free == 2  # never above the capacity


def test_tasks_without_ids_are_skipped_without_taking_a_slot(caplog: pytest.LogCaptureFixture) -> None:
    logic = poller(3)
    logic.on_tick(0.0)
    broken = Task.from_dict({"taskType": "echo", "inputData": {"secret": "x"}})
    with caplog.at_level(logging.WARNING, logger="conductor_actors.runtime"):
        assert logic.on_polled([broken, task(1)], 0.0) == Polled((task(1),))
    assert logic.free == 2
    assert "missing taskId and workflowInstanceId" in caplog.text
    assert "secret" not in caplog.text  # input data is not logged


def test_poll_failure_backs_off_then_a_success_resets() -> None:
    logic = poller(1)
    logic.on_tick(0.0)
    assert logic.on_poll_failed(ConductorTransportError("refused"), now=0.0) == pytest.approx(0.25)
    assert logic.on_tick(0.1) == WaitFor(pytest.approx(0.15))
    assert logic.on_tick(0.25) == PollNow(1)
    logic.on_polled([task(1)], 0.3)
    assert logic.schedule.other_failures == 0


def _task(**fields: object) -> Task:
    base: dict = {"taskId": "t1", "workflowInstanceId": "w1", "taskType": "echo", "outputData": {"seen": 1}}
    base.update(fields)
    return Task.from_dict(base)


def test_tasks_without_ids_are_invalid() -> None:
    assert invalid_task_reason(_task()) is None
    assert invalid_task_reason(Task.from_dict({"taskType": "x"})) == "missing taskId and workflowInstanceId"
    no_workflow = Task.from_dict({"taskId": "t", "workflowInstanceId": ""})
    assert invalid_task_reason(no_workflow) == "missing workflowInstanceId"
