"""The updater's sans-I/O decisions: update-v2 or v1, retry, fall back or give up."""

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
)
from conductor_actors.runtime._messages import Purpose, Report
from conductor_actors.runtime._update import (
    GiveUp,
    Resend,
    Retry,
    Settled,
    UpdateFailureAction,
    UpdaterLogic,
    decide_update_failure,
    v2_unsupported,
)
from conductor_actors.settings import RuntimeSettings

SETTINGS = RuntimeSettings(backoff_jitter=0.0, update_retry_delays=(1.0, 2.0))


def task(n: int, **extra: object) -> Task:
    return Task.from_dict({"taskId": f"t{n}", "workflowInstanceId": f"w{n}", "taskType": "echo", **extra})


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
