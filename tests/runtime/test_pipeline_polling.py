"""Polling through failures (errors, dropped connections, garbled answers, a poll hanging past the
read timeout, refused credentials, tasks without ids, a server that goes away and comes back), the
spacing of idle polls on an injected clock, and pausing (both flavours)."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from _support.pipeline_workers import GATES
from _support.waiting import wait_until

from conductor_actors.actors import ManualTimerService, TimerHandle
from conductor_actors.client import (
    AuthorizationError,
    ConductorHTTPError,
    ConductorTimeoutError,
    ConductorTransportError,
    Configuration,
    InvalidResponseError,
)
from conductor_actors.client._errors import http_error_for
from conductor_actors.events import PollCompleted, PollFailure, PollStarted, TaskExecutionStarted
from conductor_actors.runtime._messages import PollTick

if TYPE_CHECKING:
    from runtime.conftest import PipelineHarness

#: fault keyword arguments -> the client error a poll then fails with
POLL_FAULTS: dict[str, tuple[dict[str, Any], type[BaseException]]] = {
    "500": ({"status": 500}, ConductorHTTPError),
    "dropped": ({"drop": True}, ConductorTransportError),
    "html": ({"garbage": "html"}, InvalidResponseError),
    "truncated-json": ({"garbage": "truncated_json"}, InvalidResponseError),
}
#: How long (s) the poll fault lasts in the backoff test.
FAULT_WINDOW = 0.6


@pytest.mark.parametrize("kind", list(POLL_FAULTS))
def test_failing_polls_back_off_and_recover_when_the_fault_ends(pipeline: PipelineHarness, kind: str) -> None:
    fault_kwargs, error_type = POLL_FAULTS[kind]
    pipeline.runner(pipeline.worker("echo", thread_count=2))
    pipeline.recorder.wait_for(PollCompleted)  # polling works; now it breaks for FAULT_WINDOW seconds
    fault = pipeline.server.faults.add("poll_batch", seconds=FAULT_WINDOW, **fault_kwargs)
    workflow_ids = pipeline.start_workflows([{"x": 1}, {"x": 2}])

    failures = pipeline.recorder.wait_for(PollFailure, 3)
    assert all(isinstance(f.cause, error_type) for f in failures), [repr(f.cause) for f in failures]
    wait_until(lambda: not fault.active, what="the poll fault to expire")
    pipeline.complete(workflow_ids)

    # Backoff 10, 20, 40, then 50 ms: about 14 polls in the window; a tight loop makes hundreds.
    assert 3 <= fault.hits <= 30, f"{fault.hits} polls during a {FAULT_WINDOW} s fault"
    # Each PollFailure is a faulted poll (the transport may absorb a drop of a reused connection by
    # sending the poll once more on a fresh one, so a few faulted polls may not surface).
    assert 3 <= pipeline.recorder.count(PollFailure) <= fault.hits
    assert [t["outputData"] for t in map(pipeline.only_task, workflow_ids)] == [{"y": 1}, {"y": 2}]


def test_a_poll_hanging_past_the_read_timeout_fails_with_a_timeout_and_polling_recovers(
    pipeline: PipelineHarness,
) -> None:
    hang_ms, long_poll_ms, read_timeout = 3000, 100, 0.3
    pipeline.configuration = Configuration(server_api_url=pipeline.server.url, read_timeout=read_timeout)
    fault = pipeline.server.faults.add("poll_batch", delay_ms=hang_ms, times=1)

    pipeline.runner(pipeline.worker("echo"), poll_timeout=long_poll_ms)
    [failure] = pipeline.recorder.wait_for(PollFailure)
    assert isinstance(failure.cause, ConductorTimeoutError), repr(failure.cause)
    # The client gave up after the long-poll plus the read timeout, not when the server answered.
    assert long_poll_ms + read_timeout * 1000 - 50 <= failure.duration_ms < hang_ms - 500

    workflow_ids = pipeline.start_workflows([{"x": 3}])
    pipeline.complete(workflow_ids)
    assert pipeline.only_task(workflow_ids[0])["outputData"] == {"y": 3}
    assert fault.hits == 1
    assert pipeline.recorder.count(PollFailure) == 1


def test_polls_refused_for_wrong_credentials_back_off_on_the_auth_schedule(auth_pipeline: PipelineHarness) -> None:
    """A wrong secret: every poll fails with an AuthorizationError before it reaches the poll
    endpoint, and polls are spaced by the auth backoff (2**n growth, capped), not the much shorter
    backoff for other failures."""
    base, cap = 0.02, 0.16
    settings = auth_pipeline.settings(
        auth_backoff_base=base, auth_backoff_cap=cap, poll_error_backoff_base=0.001, poll_error_backoff_cap=0.001
    )
    auth_pipeline.runner(auth_pipeline.worker("echo", thread_count=2), settings=settings)
    recorder = auth_pipeline.recorder
    polls = 9
    failures = recorder.wait_for(PollFailure, polls)

    assert all(isinstance(f.cause, AuthorizationError) for f in failures), [repr(f.cause) for f in failures]
    schedule = [min(cap, base * 2**n) for n in range(polls - 1)]  # 0.02, 0.04, 0.08, then 0.16
    assert schedule[:4] == [0.02, 0.04, 0.08, 0.16] and schedule[-1] == cap
    starts = [at for at, _ in recorder.timed(PollStarted)][:polls]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    for n, (gap, delay) in enumerate(zip(gaps, schedule), start=1):
        assert gap >= delay - 0.005, f"poll {n + 1} came {gap:.3f} s after poll {n}; the auth backoff is {delay} s"
    # Rate: no more polls than the schedule allows in the time they took.
    assert starts[-1] - starts[0] >= sum(schedule) - 0.005
    stats = auth_pipeline.server.stats()
    assert stats["poll_batch"] == 0, "a poll without a token reached the server"
    assert 1 <= stats["token"] <= 3, "the client fetches tokens on its own (slower) backoff"


def test_polled_tasks_without_ids_are_skipped_with_a_warning(
    pipeline: PipelineHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="conductor_actors.runtime")
    fault = pipeline.server.faults.add("poll_batch", garbage="missing_ids", times=3)

    pipeline.runner(pipeline.worker("echo", thread_count=1))
    wait_until(lambda: not fault.active, what="three polls answered with tasks without ids")
    workflow_ids = pipeline.start_workflows([{"x": 5}])
    pipeline.complete(workflow_ids)

    skipped = [r for r in caplog.records
               if r.levelno == logging.WARNING and "missing taskId and workflowInstanceId" in r.getMessage()]
    assert len(skipped) == 3, [r.getMessage() for r in caplog.records]
    assert pipeline.recorder.started_task_ids() == [pipeline.only_task(workflow_ids[0])["taskId"]]
    assert not pipeline.recorder.of(PollFailure)


def test_the_worker_recovers_when_the_server_goes_away_and_comes_back(
    pipeline: PipelineHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="conductor_actors.runtime")
    server = pipeline.server
    settings = pipeline.settings(update_retry_delays=(0.3, 0.6, 1.2))
    pipeline.runner(pipeline.worker("hold", thread_count=3), settings=settings)
    before = pipeline.start_workflows([{"gate": "before"}] * 2)
    pipeline.recorder.wait_for(TaskExecutionStarted, 2)

    server.stop()
    polls_failed = pipeline.recorder.count(PollFailure)
    GATES.open("before")  # their results now meet a closed port
    wait_until(
        lambda: sum("retrying in" in r.getMessage() for r in caplog.records) >= 2,
        what="both result updates to fail and be scheduled for a retry",
    )
    pipeline.recorder.wait_for(PollFailure, polls_failed + 1)
    during = pipeline.start_workflows([{"gate": "during"}] * 3)
    GATES.open("during")
    server.start()

    pipeline.complete(before + during)
    assert not pipeline.recorder.update_failures()
    assert pipeline.undeliverable.calls == []


def test_a_paused_worker_does_not_poll_until_resumed(pipeline: PipelineHarness) -> None:
    workflow_ids = pipeline.start_workflows([{"x": 1}])

    runner = pipeline.runner(pipeline.worker("echo"), paused=True)
    assert pipeline.recorder.none_within(PollStarted, 0.4)
    assert pipeline.server.stats()["poll_batch"] == 0
    assert pipeline.only_task(workflow_ids[0])["status"] == "SCHEDULED"

    runner.resume()
    pipeline.complete(workflow_ids)


def test_pause_stops_new_polls_while_running_tasks_finish(pipeline: PipelineHarness) -> None:
    recorder = pipeline.recorder
    running = pipeline.start_workflows([{"gate": "running"}])
    runner = pipeline.runner(pipeline.worker("hold", thread_count=2))
    recorder.wait_for(TaskExecutionStarted, 1)
    recorder.wait_for(PollStarted, 2)  # the free slot is being polled for

    runner.pause()
    # Idle polls start about every 100 ms; a quiet 300 ms with none in flight means the pause holds
    # (a poll in flight when pause() was called may still finish).
    wait_until(
        lambda: recorder.none_within(PollStarted, 0.3) and recorder.polls_in_flight() == 0,
        what="polling to stop after pause()",
    )
    polls_at_pause = recorder.count(PollStarted)

    GATES.open("running")
    pipeline.complete(running)
    # The finished task's update may still be in flight; let it settle first.
    wait_until(lambda: len(runner.ledger) == 0, what="the finished task's update to settle")
    waiting = pipeline.start_workflows([{"gate": "later"}])
    assert recorder.none_within(PollStarted, 0.4)
    assert recorder.count(PollStarted) == polls_at_pause
    assert pipeline.only_task(waiting[0])["status"] == "SCHEDULED"

    GATES.open("later")
    runner.resume()
    pipeline.complete(waiting)


def test_a_paused_worker_takes_no_new_task_through_update_v2(pipeline: PipelineHarness) -> None:
    recorder = pipeline.recorder
    running = pipeline.start_workflows([{"gate": "running"}])
    runner = pipeline.runner(pipeline.worker("hold", thread_count=1))
    recorder.wait_for(TaskExecutionStarted, 1)
    runner.pause()
    waiting = pipeline.start_workflows([{"gate": "later"}])  # queued before the running task ends

    GATES.open("running")
    pipeline.complete(running)
    recorder.none_within(TaskExecutionStarted, 0.5)  # update-v2 chains within about 100 ms
    assert recorder.count(TaskExecutionStarted) == 1, "a paused worker started a new task"
    assert pipeline.only_task(waiting[0])["status"] == "SCHEDULED"


@pytest.mark.parametrize("flavour", ["sync"])
def test_a_result_sent_just_after_pause_takes_no_task_while_the_updater_is_busy(pipeline: PipelineHarness) -> None:
    """A sync executor thread sends its own result: the pause must hold for it at once, even while
    the updater thread, busy with another task's retry, has not read a message since."""
    client = pipeline.recording_client()
    client.fail_next("update_task_v2", lambda _: http_error_for(500, b"{}", method="POST", path="/tasks/update-v2"))
    # The retry of the first result then hangs on the server (and fails), keeping the one updater thread busy.
    pipeline.server.faults.add("update_v2", status=503, delay_ms=2000, times=1)
    first, second = pipeline.start_workflows([{"gate": "pause-a"}, {"gate": "pause-b"}])
    settings = pipeline.settings(update_retry_delays=(0.05, 0.05), updater_concurrency=1)
    runner = pipeline.runner(pipeline.worker("hold", thread_count=2), client=client, settings=settings)
    pipeline.recorder.wait_for(TaskExecutionStarted, 2)
    task_a, task_b = pipeline.only_task(first)["taskId"], pipeline.only_task(second)["taskId"]

    GATES.open("pause-a")
    wait_until(lambda: len(client.results_for(task_a)) == 2 and client.in_flight() == 1,
               what="the first result's retry to be in flight on the updater")
    runner.pause()
    third = pipeline.start_workflows([{"gate": "pause-c"}])  # queued: update-v2 would chain it
    GATES.open("pause-c")
    GATES.open("pause-b")
    client.wait_ended(task_b)

    assert [method for method, _, _ in client.results_for(task_b)] == ["update_task"]
    assert pipeline.recorder.none_within(TaskExecutionStarted, 0.3), "a paused worker started a chained task"
    runner.resume()
    pipeline.complete([first, second, *third])


class SteppedTimers(ManualTimerService):
    """The poller's timers and clock, stepped by the test; notes every wait for a poll tick."""

    def __init__(self) -> None:
        super().__init__(start=1000.0)
        self._cond = threading.Condition()
        self.tick_waits: list[float] = []

    def schedule(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        handle = super().schedule(delay, callback, *args)
        if args and isinstance(args[0], PollTick):
            with self._cond:
                self.tick_waits.append(delay)
                self._cond.notify_all()
        return handle

    def wait_for_tick_waits(self, count: int, timeout: float = 10.0) -> None:
        """Block until the poller scheduled its ``count``-th wait for a poll tick."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.tick_waits) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"the poller scheduled {len(self.tick_waits)} waits, expected {count}")
                self._cond.wait(remaining)


def test_an_idle_worker_spaces_its_polls_up_to_a_five_second_interval_exactly(pipeline: PipelineHarness) -> None:
    """Empty polls are spaced min(0.001 * 2**k, poll_interval) apart, reaching 5 s exactly; the
    poller's clock and waits are stepped by hand, so no poll waits in real time."""
    timers = SteppedTimers()
    starts: list[float] = []

    class ClockAtPollStart:
        def on_poll_started(self, event: PollStarted) -> None:
            starts.append(timers.now())

    pipeline.runner(
        pipeline.worker("echo"),
        settings=pipeline.settings(heartbeat_interval=3600.0),  # no liveness beat comes due on the stepped clock
        listeners=[pipeline.recorder, ClockAtPollStart()],
        poll_timers=timers,
        poll_interval=5000,
        poll_timeout=0,  # the server answers an empty poll at once
    )
    pipeline.recorder.wait_for(PollStarted, 1)
    expected = [min(0.001 * 2**k, 5.0) for k in range(1, 16)]  # 0.002, 0.004 ... 4.096, then 5 s
    assert expected[-4:] == [4.096, 5.0, 5.0, 5.0]
    for k, delay in enumerate(expected, start=1):
        timers.wait_for_tick_waits(k)
        assert timers.tick_waits[-1] == pytest.approx(delay, abs=1e-9)
        assert timers.advance(delay - 0.0005) == 0, f"poll {k + 1} came before its {delay} s wait"
        assert timers.advance(0.0005) == 1
        pipeline.recorder.wait_for(PollStarted, k + 1)

    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert gaps == pytest.approx(expected, abs=1e-9)
    assert max(timers.tick_waits) == pytest.approx(5.0, abs=1e-9)
    pipeline.recorder.wait_for(PollCompleted, len(starts))
    assert not pipeline.recorder.of(PollFailure)
    assert pipeline.server.stats()["poll_batch"] == len(starts) == len(expected) + 1
