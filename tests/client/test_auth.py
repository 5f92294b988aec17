"""The sans-I/O token schedule and the shared call flow, driven by a fake clock and scripted answers."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from _support.clock import FakeClock

from conductor_actors.client import (
    AuthorizationError,
    ConductorHTTPError,
    ConductorTransportError,
    NotFoundError,
)
from conductor_actors.client import _calls as protocol
from conductor_actors.client._auth import (
    NEED_TOKEN,
    Send,
    TokenAction,
    TokenSchedule,
    call_flow,
    record_fetch_error,
    refreshable_rejection,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def schedule(clock: FakeClock) -> TokenSchedule:
    return TokenSchedule(60.0, clock=clock)


def expired(code: str = "EXPIRED_TOKEN") -> bytes:
    return json.dumps({"message": "Token expired", "error": code}).encode()


def test_nothing_is_fetched_before_the_first_decision(schedule: TokenSchedule) -> None:
    assert schedule.decide().action is TokenAction.FETCH


def test_a_token_is_used_until_it_is_ttl_old(schedule: TokenSchedule, clock: FakeClock) -> None:
    schedule.fetched("tok-1")
    clock.advance(59.9)
    decision = schedule.decide()
    assert (decision.action, decision.token) == (TokenAction.SEND, "tok-1")
    clock.advance(0.1)
    assert schedule.decide().action is TokenAction.FETCH


def test_fetch_failures_back_off_exponentially_up_to_sixty_seconds(
    schedule: TokenSchedule, clock: FakeClock
) -> None:
    delays = []
    for _ in range(9):
        error = ConductorHTTPError(503, "token service down")
        delay = schedule.failed(error)
        delays.append(delay)
        # While backing off: the same kind of error again, a fresh object, without a fetch.
        clock.advance(delay - 0.01)
        with pytest.raises(ConductorHTTPError, match="token service down") as again:
            schedule.decide()
        assert again.value is not error and again.value.status == 503
        clock.advance(0.01)
        assert schedule.decide().action is TokenAction.FETCH
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_a_success_ends_the_backoff_and_an_accepted_request_resets_the_count(
    schedule: TokenSchedule, clock: FakeClock
) -> None:
    schedule.failed(ConductorTransportError("refused"))
    schedule.failed(ConductorTransportError("refused"))
    clock.advance(2)
    schedule.fetched("tok")
    assert schedule.decide().token == "tok"
    assert schedule.consecutive_failures == 2
    schedule.accepted()
    assert schedule.consecutive_failures == 0
    assert schedule.failed(ConductorTransportError("refused")) == 1


def test_a_rejected_token_is_replaced_once_but_not_a_newer_one(schedule: TokenSchedule) -> None:
    schedule.fetched("old")
    schedule.rejected("old")
    assert schedule.decide().action is TokenAction.FETCH
    schedule.fetched("new")
    schedule.rejected("old")  # a late rejection of the old token: keep the new one
    assert schedule.decide().token == "new"


def test_disabled_means_no_token_for_good(schedule: TokenSchedule, clock: FakeClock) -> None:
    schedule.fetched("tok")
    schedule.disable()
    for _ in range(3):
        clock.advance(1000)
        decision = schedule.decide()
        assert (decision.action, decision.token) == (TokenAction.SEND, None)


def test_a_404_disables_auth_with_one_warning(schedule: TokenSchedule, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "conductor_actors.client"):
        assert record_fetch_error(schedule, NotFoundError(404, "No static resource api/token."))
        assert record_fetch_error(schedule, NotFoundError(404, "again"))
    assert schedule.disabled
    assert len(caplog.records) == 1 and "no authentication" in caplog.records[0].getMessage()


def test_other_fetch_errors_start_the_backoff(schedule: TokenSchedule, clock: FakeClock) -> None:
    assert not record_fetch_error(schedule, AuthorizationError(401, "bad key"))
    assert schedule.backoff_until == clock.now + 1
    with pytest.raises(AuthorizationError):
        schedule.decide()


def test_bad_schedule_settings() -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        TokenSchedule(0)
    with pytest.raises(ValueError, match="first_backoff"):
        TokenSchedule(10, first_backoff=5, max_backoff=1)


def test_reprs_never_show_the_token(schedule: TokenSchedule) -> None:
    schedule.fetched("tok-secret-1")
    assert "tok-secret-1" not in repr(schedule)
    assert "tok-secret-1" not in repr(schedule.decide())
    assert "tok-secret-1" not in repr(Send("tok-secret-1"))


@pytest.mark.parametrize(
    ("status", "payload", "refreshable"),
    [
        (401, {"error": "EXPIRED_TOKEN"}, True),
        (403, {"error": "INVALID_TOKEN"}, True),
        (403, {"error": "ACCESS_DENIED", "message": "no"}, False),
        (401, "<html>login</html>", False),
        (500, {"error": "EXPIRED_TOKEN"}, False),
    ],
)
def test_refreshable_rejection(status: int, payload: Any, refreshable: bool) -> None:
    raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    found = refreshable_rejection(status, raw, method="GET", path="/x")
    assert (found is not None) is refreshable


def run_flow(schedule: TokenSchedule, tokens: list[str | None], answers: list[tuple[int, bytes]]) -> Any:
    """Drive ``call_flow`` like a client would, with scripted tokens and answers; record the sends."""
    sent: list[str | None] = []
    flow = call_flow(schedule, protocol.get_task("t1"))
    step = next(flow)
    try:
        while True:
            if step is NEED_TOKEN:
                step = flow.send(tokens.pop(0))
            else:
                sent.append(step.token)
                step = flow.send(answers.pop(0))
    except StopIteration as done:
        return sent, done.value
    finally:
        assert not tokens and not answers, "the flow did not use every scripted step"


TASK = json.dumps({"taskId": "t1"}).encode()


def test_flow_sends_once_with_the_token(schedule: TokenSchedule) -> None:
    schedule.failed(ConductorTransportError("x"))
    sent, task = run_flow(schedule, ["tok"], [(200, TASK)])
    assert sent == ["tok"] and task.task_id == "t1"
    assert schedule.consecutive_failures == 0  # the accepted request reset the count


def test_flow_refreshes_once_and_replays_after_an_expired_token(schedule: TokenSchedule) -> None:
    schedule.fetched("old")
    sent, task = run_flow(schedule, ["old", "new"], [(401, expired()), (200, TASK)])
    assert sent == ["old", "new"] and task.task_id == "t1"


def test_flow_does_not_loop_when_the_new_token_is_refused_too(schedule: TokenSchedule, clock: FakeClock) -> None:
    schedule.fetched("old")
    with pytest.raises(AuthorizationError) as caught:
        run_flow(schedule, ["old", "new"], [(401, expired()), (403, expired("INVALID_TOKEN"))])
    assert caught.value.status == 403
    # The next call does not even reach the server: the schedule backs off with that error.
    with pytest.raises(AuthorizationError):
        schedule.decide()
    clock.advance(1)
    assert schedule.decide().action is TokenAction.FETCH


def test_flow_does_not_replay_other_rejections(schedule: TokenSchedule) -> None:
    forbidden = json.dumps({"message": "not allowed", "error": "ACCESS_DENIED"}).encode()
    with pytest.raises(AuthorizationError, match="not allowed"):
        run_flow(schedule, ["tok"], [(403, forbidden)])


def test_flow_without_a_token_never_replays(schedule: TokenSchedule) -> None:
    with pytest.raises(AuthorizationError):
        run_flow(schedule, [None], [(401, expired())])
