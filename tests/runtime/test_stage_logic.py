"""Poller and updater state machines, the task ledger, the metrics accumulator and the telemetry hub."""

from __future__ import annotations

import logging
import pickle

import pytest

from conductor_actors.client import (
    AuthorizationError,
    ConductorHTTPError,
    ConductorTransportError,
    NotFoundError,
    Task,
    TaskResult,
)
from conductor_actors.events import (
    PollCompleted,
    PollFailure,
    PollStarted,
    TaskExecutionCompleted,
    TaskExecutionFailure,
    TaskExecutionStarted,
    TaskUpdateFailure,
)
from conductor_actors.metrics import MetricsAccumulator
from conductor_actors.metrics._catalog import TIME_BUCKETS
from conductor_actors.runtime._messages import Purpose, Report, picklable_event
from conductor_actors.runtime._pipeline import TaskLedger, TaskState
from conductor_actors.runtime._poll import Polled, PollerLogic, PollNow, PollSchedule, WaitFor
from conductor_actors.runtime._telemetry import Telemetry
from conductor_actors.runtime._update import GiveUp, Resend, Retry, Settled, UpdaterLogic
from conductor_actors.settings import RuntimeSettings

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


def report(attempt: int = 1, purpose: Purpose = Purpose.RESULT) -> Report:
    t = task(1)
    return Report(t, t.to_result(), purpose, attempt)


def test_updater_uses_v2_for_results_and_v1_for_handbacks_and_while_draining() -> None:
    logic = UpdaterLogic(SETTINGS)
    assert logic.uses_v2(report()) is True
    assert logic.uses_v2(report(purpose=Purpose.HANDBACK)) is False
    logic.draining = True
    assert logic.uses_v2(report()) is False


def test_updater_falls_back_to_v1_for_good() -> None:
    logic = UpdaterLogic(SETTINGS)
    outcome = logic.on_failure(report(), ConductorHTTPError(405, "not supported"), sent_v2=True)
    assert outcome == Resend(report())
    assert logic.use_v2 is False and logic.uses_v2(report()) is False


def test_updater_retries_transient_failures_then_gives_up_for_the_journal() -> None:
    logic = UpdaterLogic(SETTINGS)
    first = logic.on_failure(report(1), ConductorHTTPError(503, "busy"), sent_v2=True)
    assert isinstance(first, Retry) and first.delay == 1.0 and first.report.attempt == 2
    second = logic.on_failure(first.report, ConductorTransportError("reset"), sent_v2=True)
    assert isinstance(second, Retry) and second.delay == 2.0
    last = logic.on_failure(second.report, ConductorTransportError("reset"), sent_v2=True)
    assert isinstance(last, GiveUp) and last.journal is True


def test_updater_retries_refused_credentials_then_journals_the_result() -> None:
    logic = UpdaterLogic(SETTINGS)
    refused = AuthorizationError(403, "forbidden")
    first = logic.on_failure(report(1), refused, sent_v2=True)
    assert isinstance(first, Retry) and first.delay == 1.0
    second = logic.on_failure(first.report, refused, sent_v2=True)
    assert isinstance(second, Retry) and second.delay == 2.0
    last = logic.on_failure(second.report, refused, sent_v2=True)
    assert isinstance(last, GiveUp) and last.journal is True and last.cause is refused


def test_updater_gives_up_at_once_on_a_4xx_and_does_not_journal_it() -> None:
    unknown = NotFoundError(404, "No such task found by id: t1")
    outcome = UpdaterLogic(SETTINGS).on_failure(report(), unknown, sent_v2=True)
    assert isinstance(outcome, GiveUp) and outcome.journal is False


def test_while_draining_a_transient_failure_goes_to_the_journal_without_waiting() -> None:
    logic = UpdaterLogic(SETTINGS)
    logic.draining = True
    outcome = logic.on_failure(report(), ConductorHTTPError(500, "down"), sent_v2=False)
    assert isinstance(outcome, GiveUp) and outcome.journal is True


def test_a_chained_task_without_ids_is_ignored() -> None:
    logic = UpdaterLogic(SETTINGS)
    assert logic.on_success(Task.from_dict({"taskType": "echo"})) == Settled(None)
    assert logic.on_success(task(2)) == Settled(task(2))


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


def test_accumulator_pre_aggregates_histograms_counters_and_gauges() -> None:
    acc = MetricsAccumulator()
    acc.inc("task_poll_total", ("echo",))
    acc.inc("task_poll_total", ("echo",), 2)
    for value in (0.0005, 0.003, 0.003, 20.0):
        acc.observe("task_execute_time_seconds", ("echo", "SUCCESS"), value)
    acc.set_gauge("task_in_flight", ("echo",), 4)
    delta = acc.drain()
    assert delta.counters == {("task_poll_total", ("echo",)): 3.0}
    row = delta.histograms[("task_execute_time_seconds", ("echo", "SUCCESS"))]
    assert len(row) == len(TIME_BUCKETS) + 3
    assert row[0] == 1 and row[1] == 2 and row[len(TIME_BUCKETS)] == 1  # le=0.001, le=0.005, +Inf
    assert row[-1] == 4 and row[-2] == pytest.approx(20.0065)
    assert delta.gauges == {("task_in_flight", ("echo",)): 4.0}
    assert not delta.samples
    assert not acc.drain()  # drained
    pickle.loads(pickle.dumps(delta))


def test_accumulator_keeps_bounded_samples_for_quantiles_only_when_asked() -> None:
    acc = MetricsAccumulator(keep_samples=True, max_samples=3)
    for value in (1.0, 2.0, 3.0, 4.0):
        acc.observe("task_poll_time_seconds", ("echo", "SUCCESS"), value)
    acc.observe("task_result_size_bytes", ("echo",), 10.0)  # not a quantile metric
    samples = acc.drain().samples
    assert samples == {("task_poll_time_seconds", ("echo", "SUCCESS")): [2.0, 3.0, 4.0]}
    with pytest.raises(ValueError, match="task_poll_total is a counter"):
        acc.observe("task_poll_total", ("echo",), 1.0)


class Recorder:
    def __init__(self) -> None:
        self.events: list[object] = []

    def on_poll_started(self, e: object) -> None:
        self.events.append(e)

    def on_poll_completed(self, e: object) -> None:
        self.events.append(e)

    def on_poll_failure(self, e: object) -> None:
        self.events.append(e)

    def on_task_execution_started(self, e: object) -> None:
        self.events.append(e)

    def on_task_execution_completed(self, e: object) -> None:
        self.events.append(e)

    def on_task_execution_failure(self, e: object) -> None:
        self.events.append(e)

    def on_task_update_failure(self, e: object) -> None:
        self.events.append(e)


def test_telemetry_publishes_the_official_events_with_true_values_and_records_metrics() -> None:
    recorder = Recorder()
    forwarded: list[object] = []
    acc = MetricsAccumulator()
    hub = Telemetry("echo", "host-1", listeners=[recorder], forward=forwarded.append,
                    forward_types=[TaskUpdateFailure], metrics=acc)
    hub.poll_started(5)
    hub.poll_completed(0.002, 1)
    hub.poll_failed(0.5, ConductorTransportError("refused"))
    hub.execution_started(task(1))
    hub.execution_finished(task(1), failed=False, cause=None, duration=0.25, output_size=17)
    hub.execution_finished(task(2), failed=True, cause=KeyError("x"), duration=0.1, output_size=2)
    result = TaskResult(task_id="t3", workflow_instance_id="w3")
    hub.update_failed(task(3), result, ConductorHTTPError(500, "down"), 4)
    kinds = [type(e) for e in recorder.events]
    assert kinds == [PollStarted, PollCompleted, PollFailure, TaskExecutionStarted,
                     TaskExecutionCompleted, TaskExecutionFailure, TaskUpdateFailure]
    started, completed, failure = recorder.events[0], recorder.events[4], recorder.events[5]
    assert (started.worker_id, started.poll_count) == ("host-1", 5)  # type: ignore[attr-defined]
    assert completed.duration_ms == pytest.approx(250.0) and completed.output_size_bytes == 17  # type: ignore[attr-defined]
    assert isinstance(failure.cause, KeyError)  # type: ignore[attr-defined]
    assert [type(e) for e in forwarded] == [TaskUpdateFailure]
    assert forwarded[0].task_result is result  # type: ignore[attr-defined]
    delta = acc.drain()
    assert delta.counters[("task_poll_error_total", ("echo", "ConductorTransportError"))] == 1
    assert delta.counters[("task_execute_error_total", ("echo", "KeyError"))] == 1
    assert delta.histograms[("task_result_size_bytes", ("echo",))][-2] == 19.0


class Unpicklable(Exception):
    def __init__(self, a: int, b: int) -> None:  # pickling calls Unpicklable("msg") and fails
        super().__init__(f"{a}/{b}")


def test_an_event_whose_cause_cannot_be_pickled_crosses_processes_as_a_remote_error() -> None:
    event = TaskExecutionFailure("echo", "t1", "w", "wf", Unpicklable(1, 2), 3.0)
    safe = picklable_event(event)
    copy = pickle.loads(pickle.dumps(safe))
    assert type(copy.cause).__name__ == "RemoteError"
    assert copy.cause.type_name.endswith("Unpicklable") and str(copy.cause) == "1/2"
    plain = TaskExecutionFailure("echo", "t1", "w", "wf", ValueError("v"), 3.0)
    assert picklable_event(plain) is plain
