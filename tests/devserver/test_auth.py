"""Optional token auth: token issue, 401 bodies, expiry, and the OSS behaviour without auth."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from devserver._support import Api, wait_until

from conductor_actors.devserver import DevServer

KEY, SECRET = "key-id", "s3cret-value"


@pytest.fixture
def auth_server() -> Iterator[DevServer]:
    with DevServer(auth_key=KEY, auth_secret=SECRET) as server:
        yield server


def get_token(api: Api) -> str:
    reply = api.post("/api/token", {"keyId": KEY, "keySecret": SECRET})
    assert reply.status == 200, reply
    token = reply.json()["token"]
    assert isinstance(token, str) and token
    return str(token)


def test_a_token_opens_the_api(auth_server: DevServer, make_api: Callable[..., Api]) -> None:
    api = make_api(auth_server)
    api.token = get_token(api)
    assert api.get("/api/metadata/taskdefs").status == 200
    assert api.get("/api/tasks/poll/batch/echo?timeout=0").json() == []


def test_requests_without_a_token_get_401_invalid_token(auth_server: DevServer, make_api: Callable[..., Api]) -> None:
    api = make_api(auth_server)
    reply = api.get("/api/metadata/taskdefs")
    assert reply.status == 401
    body = reply.json()
    assert body["message"] == "Token cannot be null or empty"
    assert body["error"] == "INVALID_TOKEN" and body["status"] == 401 and body["timestamp"] > 0
    api.token = "made-up"
    unknown = api.get("/api/metadata/taskdefs").json()
    assert unknown["error"] == "INVALID_TOKEN" and "made-up" not in unknown["message"]


def test_wrong_credentials_get_401_without_echoing_the_secret(auth_server: DevServer,
                                                              make_api: Callable[..., Api]) -> None:
    api = make_api(auth_server)
    for body in ({"keyId": KEY, "keySecret": "bad-guess"}, {"keyId": "other", "keySecret": SECRET}, {}):
        reply = api.post("/api/token", body)
        assert reply.status == 401
        assert SECRET not in reply.text and "bad-guess" not in reply.text
    assert api.post("/api/token", [KEY]).status == 400
    assert SECRET not in repr(auth_server) and SECRET not in repr(auth_server._auth)


def test_expire_tokens_makes_every_token_expired(auth_server: DevServer, make_api: Callable[..., Api]) -> None:
    api = make_api(auth_server)
    api.token = get_token(api)
    auth_server.expire_tokens()
    reply = api.get("/api/metadata/taskdefs")
    assert reply.status == 401 and reply.json()["error"] == "EXPIRED_TOKEN"
    api.token = get_token(api)  # a fresh token works again
    assert api.get("/api/metadata/taskdefs").status == 200


def test_tokens_expire_after_their_ttl(make_api: Callable[..., Api]) -> None:
    with DevServer(auth_key=KEY, auth_secret=SECRET, token_ttl_seconds=0.2) as server:
        api = make_api(server)
        api.token = get_token(api)
        assert api.get("/api/metadata/taskdefs").status == 200
        expired = wait_until(lambda: api.get("/api/metadata/taskdefs").status == 401, what="the token to expire")
        assert expired
        assert api.get("/api/metadata/taskdefs").json()["error"] == "EXPIRED_TOKEN"


def test_admin_endpoints_need_no_token(auth_server: DevServer, make_api: Callable[..., Api]) -> None:
    api = make_api(auth_server)
    assert api.get("/__devserver__/stats").status == 200


def test_without_auth_the_token_endpoint_is_404_like_oss(dev_server: DevServer, api: Api) -> None:
    reply = api.post("/api/token", {"keyId": KEY, "keySecret": SECRET})
    assert reply.status == 404 and reply.json()["message"] == "No static resource api/token."
    assert api.get("/api/metadata/taskdefs").status == 200  # no header needed
    with pytest.raises(RuntimeError, match="without auth"):
        dev_server.expire_tokens()


def test_auth_needs_both_key_and_secret() -> None:
    with pytest.raises(ValueError, match="both"):
        DevServer(auth_key=KEY)
    with pytest.raises(ValueError):
        DevServer(auth_key="", auth_secret="")
