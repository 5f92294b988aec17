"""The sans-I/O pipeline decisions: poll schedule, update failure handling, leases, special results."""

from __future__ import annotations

import pytest

from conductor_actors.client import (
    AuthorizationError,
    ConductorHTTPError,
    ConductorTimeoutError,
    ConductorTransportError,
    InvalidResponseError,
    NotFoundError,
    Task,
    TaskResultStatus,
)
from conductor_actors.runtime._execute import handback_result, lease_extension_result, lease_interval
from conductor_actors.runtime._poll import PollSchedule, empty_poll_delay, invalid_task_reason
from conductor_actors.runtime._update import UpdateFailureAction, decide_update_failure, v2_unsupported
from conductor_actors.settings import RuntimeSettings, RuntimeSettingsError

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


@pytest.mark.parametrize(
    ("error", "unsupported"),
    [
        (ConductorHTTPError(405, "Request method 'POST' is not supported"), True),
        (NotFoundError(404, "No static resource tasks/update-v2."), True),
        (NotFoundError(404, "No such task found by id: t1"), False),
        (NotFoundError(404, "No such workflow found by id: w1"), False),
        (ConductorHTTPError(500, "boom"), False),
        (ConductorTransportError("reset"), False),
    ],
)
def test_v2_unsupported_only_for_a_missing_endpoint(error: Exception, unsupported: bool) -> None:
    assert v2_unsupported(error) is unsupported


def test_update_failures_retry_only_what_can_succeed_with_the_configured_delays() -> None:
    settings = RuntimeSettings()  # 4 attempts: 10, 20, 30 s
    transient = [
        ConductorTransportError("reset"),
        ConductorTimeoutError("slow"),
        InvalidResponseError("half a body"),
        ConductorHTTPError(503, "busy"),
        ConductorHTTPError(429, "slow down"),
        # Refused credentials: often fixed by a redeploy, so retried and then journalled.
        AuthorizationError(401, "token expired", error_code="EXPIRED_TOKEN"),
        AuthorizationError(403, "forbidden"),
    ]
    for error in transient:
        decisions = [decide_update_failure(error, n, settings, using_v2=True) for n in (1, 2, 3, 4)]
        assert [d.action for d in decisions] == [UpdateFailureAction.RETRY] * 3 + [UpdateFailureAction.GIVE_UP]
        assert [d.delay for d in decisions[:3]] == [10.0, 20.0, 30.0]
        assert decisions[-1].journal is True
    for final in (
        ConductorHTTPError(400, "bad"),
        ConductorHTTPError(409, "conflict"),
        NotFoundError(404, "No such task found by id: t"),
    ):
        decision = decide_update_failure(final, 1, settings, using_v2=True)
        assert decision.action is UpdateFailureAction.GIVE_UP and decision.journal is False


def test_a_missing_v2_endpoint_falls_back_to_v1_but_a_v1_404_is_final() -> None:
    missing = ConductorHTTPError(405, "not supported")
    assert decide_update_failure(missing, 1, RuntimeSettings(), using_v2=True).action is UpdateFailureAction.FALLBACK_V1
    assert decide_update_failure(missing, 1, RuntimeSettings(), using_v2=False).action is UpdateFailureAction.GIVE_UP


def test_retry_delays_are_configurable() -> None:
    settings = RuntimeSettings(update_retry_delays=(0.01,))
    error = ConductorHTTPError(500, "x")
    assert decide_update_failure(error, 1, settings, using_v2=False).delay == 0.01
    assert decide_update_failure(error, 2, settings, using_v2=False).action is UpdateFailureAction.GIVE_UP
    assert settings.update_attempts == 2


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"update_retry_delays": (10.0, -1.0)}, "update_retry_delays=-1.0"),
        ({"shutdown_grace": float("nan")}, "shutdown_grace=nan"),
        ({"heartbeat_interval": 0}, "heartbeat_interval=0"),
        ({"updater_concurrency": -2}, "updater_concurrency=-2"),
        ({"backoff_jitter": 1.5}, "backoff_jitter=1.5"),
        ({"auth_backoff_base": 10.0, "auth_backoff_cap": 1.0}, "auth_backoff_cap"),
    ],
)
def test_bad_runtime_settings_name_the_setting(kwargs: dict, fragment: str) -> None:
    with pytest.raises(RuntimeSettingsError, match=fragment.replace("(", r"\(").replace(".", r"\.")):
        RuntimeSettings(**kwargs)


def _task(**fields: object) -> Task:
    base: dict = {"taskId": "t1", "workflowInstanceId": "w1", "taskType": "echo", "outputData": {"seen": 1}}
    base.update(fields)
    return Task.from_dict(base)


def test_lease_interval_is_a_fraction_of_the_response_timeout() -> None:
    settings = RuntimeSettings()
    assert lease_interval(_task(responseTimeoutSeconds=100), settings) == pytest.approx(80.0)
    assert lease_interval(_task(responseTimeoutSeconds=0), settings) is None
    assert lease_interval(_task(), settings) is None
    assert lease_interval(_task(responseTimeoutSeconds=1), settings) == pytest.approx(0.8)


def test_handback_requeues_now_and_keeps_the_output_the_task_had() -> None:
    result = handback_result(_task(), "host-1")
    assert result.status is TaskResultStatus.IN_PROGRESS
    assert result.callback_after_seconds == 0
    assert result.to_wire()["outputData"] == {"seen": 1}
    assert result.worker_id == "host-1"


def test_lease_extension_result_is_an_in_progress_extend_lease_update() -> None:
    body = lease_extension_result(_task(), "host-1").to_wire()
    assert body["extendLease"] is True and body["status"] == "IN_PROGRESS"
    assert (body["taskId"], body["workflowInstanceId"]) == ("t1", "w1")


def test_tasks_without_ids_are_invalid() -> None:
    assert invalid_task_reason(_task()) is None
    assert invalid_task_reason(Task.from_dict({"taskType": "x"})) == "missing taskId and workflowInstanceId"
    no_workflow = Task.from_dict({"taskId": "t", "workflowInstanceId": ""})
    assert invalid_task_reason(no_workflow) == "missing workflowInstanceId"
