"""Token auth over loopback HTTP, both flavours: lazy fetch, header, TTL, replay, 404, backoff, secrets."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _support.clock import FakeClock
from client._driver import Driver, Recorder, configuration_for

from conductor_actors.client import (
    AuthenticationSettings,
    AuthorizationError,
    ConductorHTTPError,
    Configuration,
)

KEY = "app-key-id-0001"
SECRET = "app-secret-value-never-logged"


def auth_configuration(url: str, **kwargs: Any) -> Configuration:
    return configuration_for(url, authentication_settings=AuthenticationSettings(KEY, SECRET), **kwargs)


@pytest.fixture
def auth_server() -> Iterator[Any]:
    from conductor_actors.devserver import DevServer

    with DevServer(auth_key=KEY, auth_secret=SECRET) as server:
        yield server


def count(server: Any, endpoint: str) -> int:
    return int(server.stats().get(endpoint, 0))


def test_the_token_is_fetched_on_the_first_call_and_sent_raw(
    auth_server: Any, make_driver: Callable[..., Driver], flavour: str
) -> None:
    recorder = Recorder()
    client = make_driver(auth_configuration(auth_server.url), **recorder.client_kwargs(flavour))
    assert count(auth_server, "token") == 0  # nothing before the first request

    client.get_task_defs()
    client.get_task_defs()
    assert count(auth_server, "token") == 1
    (token,) = recorder.tokens()
    assert recorder.sent == [
        ("POST", "/token", None),
        ("GET", "/metadata/taskdefs", token),
        ("GET", "/metadata/taskdefs", token),
    ]
    assert not token.lower().startswith("bearer")


def test_get_token_returns_a_fresh_working_token_without_touching_the_clients_own(
    auth_server: Any, make_driver: Callable[..., Driver], flavour: str
) -> None:
    recorder = Recorder()
    client = make_driver(auth_configuration(auth_server.url), **recorder.client_kwargs(flavour))
    first, second = client.get_token(), client.get_token()
    assert isinstance(first, str) and first and first != second
    assert count(auth_server, "token") == 2
    client.get_task_defs()  # the client still fetches its own token, lazily
    assert count(auth_server, "token") == 3
    assert recorder.sent[-1][2] not in (first, second)


def test_a_wrong_secret_is_an_authorization_error_that_backs_off(
    auth_server: Any, make_driver: Callable[..., Driver]
) -> None:
    wrong = configuration_for(auth_server.url, authentication_settings=AuthenticationSettings(KEY, "wrong-secret"))
    client = make_driver(wrong, clock=FakeClock())
    for _ in range(2):
        with pytest.raises(AuthorizationError) as refused:
            client.get_task_defs()
        assert "wrong-secret" not in str(refused.value)
    assert count(auth_server, "token") == 1
    assert count(auth_server, "taskdefs_list") == 0


def test_without_credentials_an_auth_server_refuses(
    auth_server: Any, make_driver: Callable[..., Driver]
) -> None:
    client = make_driver(configuration_for(auth_server.url))
    with pytest.raises(AuthorizationError) as refused:
        client.get_task_defs()
    assert refused.value.status in (401, 403)
    assert count(auth_server, "token") == 0


def test_the_token_is_refreshed_once_it_is_ttl_old(auth_server: Any, make_driver: Callable[..., Driver]) -> None:
    clock = FakeClock()
    client = make_driver(auth_configuration(auth_server.url, auth_token_ttl_min=1.0), clock=clock)
    client.get_task_defs()
    clock.advance(59.0)
    client.get_task_defs()
    assert count(auth_server, "token") == 1
    clock.advance(1.0)
    client.get_task_defs()
    assert count(auth_server, "token") == 2


def test_an_expired_token_is_refreshed_once_and_the_request_replayed(
    auth_server: Any, make_driver: Callable[..., Driver], flavour: str
) -> None:
    recorder = Recorder()
    client = make_driver(auth_configuration(auth_server.url), **recorder.client_kwargs(flavour))
    client.get_task_defs()
    auth_server.expire_tokens()
    assert client.get_task_defs() == []
    assert count(auth_server, "token") == 2
    methods = [(method, path) for method, path, _ in recorder.sent]
    assert methods == [
        ("POST", "/token"),
        ("GET", "/metadata/taskdefs"),
        ("GET", "/metadata/taskdefs"),  # refused: expired
        ("POST", "/token"),
        ("GET", "/metadata/taskdefs"),  # replayed with the new token
    ]
    first, refused, replayed = (recorder.sent[i][2] for i in (1, 2, 4))
    assert first == refused != replayed


def test_no_endless_loop_when_the_new_token_is_refused_too(make_driver: Callable[..., Driver]) -> None:
    from conductor_actors.devserver import DevServer

    clock = FakeClock()
    # Tokens that expire a microsecond after they are issued: the refreshed token is refused as well.
    with DevServer(auth_key=KEY, auth_secret=SECRET, token_ttl_seconds=1e-6) as server:
        client = make_driver(auth_configuration(server.url), clock=clock)
        with pytest.raises(AuthorizationError) as refused:
            client.get_task_defs()
        assert refused.value.token_refreshable
        assert (count(server, "token"), count(server, "taskdefs_list")) == (2, 2)

        # The next call backs off without contacting the server...
        with pytest.raises(AuthorizationError):
            client.get_task_defs()
        assert (count(server, "token"), count(server, "taskdefs_list")) == (2, 2)
        # ...until the backoff is over: again at most one refresh and one replay.
        clock.advance(1.0)
        with pytest.raises(AuthorizationError):
            client.get_task_defs()
        assert (count(server, "token"), count(server, "taskdefs_list")) == (4, 4)
        with pytest.raises(AuthorizationError):
            client.get_task_defs()
        assert (count(server, "token"), count(server, "taskdefs_list")) == (4, 4)


def test_a_404_from_token_turns_auth_off_for_the_life_of_the_client(
    dev_server: Any, make_driver: Callable[..., Driver], flavour: str, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    client = make_driver(auth_configuration(dev_server.url), **recorder.client_kwargs(flavour))
    with caplog.at_level(logging.WARNING, "conductor_actors.client"):
        for _ in range(3):
            assert client.get_task_defs() == []
    assert count(dev_server, "token") == 1
    assert recorder.tokens() == set()
    warnings = [r for r in caplog.records if "no authentication" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "disabled" in repr(client.client)


def test_token_failures_back_off_exponentially(auth_server: Any, make_driver: Callable[..., Driver]) -> None:
    clock = FakeClock()
    client = make_driver(auth_configuration(auth_server.url), clock=clock)
    auth_server.faults.add("token", status=500)

    def attempt() -> None:
        with pytest.raises(ConductorHTTPError) as failed:
            client.get_task_defs()
        assert failed.value.status == 500

    attempt()
    expected_fetches = 1
    for delay in (1.0, 2.0, 4.0):
        clock.advance(delay - 0.001)
        attempt()  # still backing off: the same error, no request
        assert count(auth_server, "token") == expected_fetches
        clock.advance(0.001)
        attempt()  # backoff over: one more fetch, which fails again
        expected_fetches += 1
        assert count(auth_server, "token") == expected_fetches
    assert count(auth_server, "taskdefs_list") == 0

    auth_server.faults.clear()
    clock.advance(8.0)
    assert client.get_task_defs() == []
    assert count(auth_server, "token") == expected_fetches + 1


def test_concurrent_first_calls_fetch_one_token(auth_server: Any, make_driver: Callable[..., Driver]) -> None:
    client = make_driver(auth_configuration(auth_server.url))
    results = client.gather([client.raw("get_task_defs")] * 8)
    assert results == [[]] * 8
    assert count(auth_server, "token") == 1


def test_secrets_never_reach_logs_reprs_or_errors(
    auth_server: Any, make_driver: Callable[..., Driver], flavour: str, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    clock = FakeClock()
    configuration = auth_configuration(auth_server.url, auth_token_ttl_min=1.0)
    client = make_driver(configuration, clock=clock, **recorder.client_kwargs(flavour))
    errors: list[BaseException] = []
    with caplog.at_level(logging.DEBUG):  # every logger, libraries included
        client.get_task_defs()
        auth_server.expire_tokens()
        client.get_task_defs()
        clock.advance(60.0)
        client.get_task_defs()
        auth_server.faults.add("token", status=500, times=1)
        clock.advance(60.0)
        try:
            client.get_task_defs()
        except ConductorHTTPError as exc:
            errors.append(exc)
        clock.advance(1.0)
        client.get_task_defs()
    tokens = recorder.tokens()
    assert len(tokens) == 4  # first, after expiry, after the TTL, after the failed fetch
    assert len(errors) == 1
    texts = [caplog.text, repr(client.client), repr(configuration), str(configuration.authentication_settings)]
    texts += [str(e) + repr(e) + str(getattr(e, "body", "")) for e in errors]
    for text in texts:
        assert SECRET not in text
        for token in tokens:
            assert token not in text
