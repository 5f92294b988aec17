"""Connections and life cycle, both flavours: keep-alive reuse, no leaked responses, proxies read once,
closing, and construction errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
from _support.ports import free_port
from client._driver import Answer, ConnectionCounter, Driver, canned_client_kwargs, configuration_for

from conductor_actors.client import (
    AsyncConductorClient,
    ConductorClient,
    ConductorHTTPError,
    ConductorTransportError,
    ConfigurationError,
    NotFoundError,
)
from conductor_actors.client._standard_async import ShardedTransport


@pytest.fixture
def counted(counted_url: tuple[str, ConnectionCounter], make_driver: Callable[..., Driver]) -> CountedClient:
    url, counter = counted_url
    return make_driver(configuration_for(url)), counter


CountedClient = tuple[Driver, ConnectionCounter]


def test_sequential_calls_reuse_one_connection_and_release_every_response(counted: CountedClient) -> None:
    client, counter = counted
    for index in range(30):
        if index % 10 == 5:
            with pytest.raises(NotFoundError):  # error answers keep the connection too
                client.get_task_def("missing")
        else:
            client.get_task_defs()
    # A response left open would hold its connection and force the next call onto a new one.
    assert counter.opened == 1
    assert client.all_connections_idle()


def test_a_reset_connection_is_replaced_and_the_pool_stays_clean(counted: CountedClient, dev_server: Any) -> None:
    client, counter = counted
    client.get_task_defs()
    # The server reads the request and drops the connection: it may have processed it, so no
    # transport sends it again; the caller sees the failure.
    fault = dev_server.faults.add("taskdefs_list", drop=True, times=1)
    with pytest.raises(ConductorTransportError):
        client.get_task_defs()
    assert fault.hits == 1
    for _ in range(5):
        client.get_task_defs()
    assert counter.opened == 2
    assert client.all_connections_idle()


def test_concurrent_calls_use_at_most_pool_size_connections_then_reuse_them(
    counted_url: tuple[str, ConnectionCounter], make_driver: Callable[..., Driver]
) -> None:
    url, counter = counted_url
    client = make_driver(configuration_for(url), pool_size=4)
    for _ in range(3):
        results = client.gather([client.raw("get_task_defs")] * 4)
        assert results == [[]] * 4
    assert 1 <= counter.opened <= 4
    assert client.all_connections_idle()


def test_more_concurrent_calls_than_one_httpcore_pool_holds_stay_within_pool_size(
    counted_url: tuple[str, ConnectionCounter], make_driver: Callable[..., Driver]
) -> None:
    """The httpx transport splits its connections into small httpcore pools (``ShardedTransport``);
    together they open at most ``pool_size``, reuse them and release every response."""
    url, counter = counted_url
    client = make_driver(configuration_for(url), pool_size=20)
    for _ in range(3):
        results = client.gather([client.raw("get_task_defs")] * 20)
        assert results == [[]] * 20
    assert 1 <= counter.opened <= 20
    assert client.all_connections_idle()


@pytest.mark.parametrize(
    ("pool_size", "sizes"), [(1, [1]), (8, [8]), (9, [5, 4]), (22, [8, 7, 7]), (202, [8] * 20 + [7] * 6)]
)
def test_the_httpx_pool_is_split_into_pools_of_at_most_eight_that_add_up_to_pool_size(
    pool_size: int, sizes: list[int]
) -> None:
    transport = ShardedTransport(pool_size, verify=True, proxy=None)
    assert [shard._pool._max_connections for shard in transport.shards] == sizes
    assert transport.in_flight == [0] * len(sizes)


def test_proxy_settings_are_read_when_the_client_is_built(
    dev_server: Any, make_driver: Callable[..., Driver], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("no_proxy", "all_proxy", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    direct = make_driver(configuration_for(dev_server.url))

    dead_proxy = f"http://127.0.0.1:{free_port()}"  # a loopback port nobody listens on
    monkeypatch.setenv("http_proxy", dead_proxy)
    proxied = make_driver(configuration_for(dev_server.url, connect_timeout=1.0))
    assert direct.get_task_defs() == []  # built before the variable existed: the variable is not read now

    monkeypatch.delenv("http_proxy")
    with pytest.raises(ConductorTransportError):
        proxied.get_task_defs()  # built while it existed: keeps using the (dead) proxy


def test_closing(dev_server: Any, flavour: str) -> None:
    configuration = configuration_for(dev_server.url)
    if flavour == "sync":
        with ConductorClient(configuration) as sync_client:
            assert sync_client.get_task_defs() == []
        sync_client.close()  # idempotent
        with pytest.raises(RuntimeError, match="closed"):
            sync_client.get_task_defs()
        return

    async def scenario() -> None:
        async with AsyncConductorClient(configuration) as async_client:
            assert await async_client.get_task_defs() == []
        await async_client.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await async_client.get_task_defs()

    asyncio.run(scenario())


def test_a_client_does_not_close_a_session_it_was_given(dev_server: Any, flavour: str) -> None:
    configuration = configuration_for(dev_server.url)
    if flavour == "sync":
        with requests.Session() as session:
            ConductorClient(configuration, session=session).close()
            assert session.get(dev_server.url + "/metadata/taskdefs", timeout=5).status_code == 200
        return

    async def scenario() -> None:
        async with httpx.AsyncClient() as http_client:
            await AsyncConductorClient(configuration, http_client=http_client).aclose()
            assert (await http_client.get(dev_server.url + "/metadata/taskdefs")).status_code == 200

    asyncio.run(scenario())


def test_construction_errors(flavour: str) -> None:
    configuration = configuration_for("http://127.0.0.1:1/api")
    cls: Any = ConductorClient if flavour == "sync" else AsyncConductorClient
    with pytest.raises(ConfigurationError, match="pool_size"):
        cls(configuration, pool_size=0)
    if flavour == "async":
        with pytest.raises(ValueError, match="not both"):
            AsyncConductorClient(
                configuration, http_client=httpx.AsyncClient(), transport=httpx.AsyncHTTPTransport()
            )


def test_a_redirect_is_not_followed(make_driver: Callable[..., Driver], flavour: str) -> None:
    # Following it could carry the X-Authorization header to another host.
    seen: list[str] = []

    def handler(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        seen.append(path)
        return 302, b"", {"Location": "http://elsewhere.invalid/api/metadata/taskdefs"}

    client = make_driver(configuration_for("http://conductor.invalid/api"), **canned_client_kwargs(flavour, handler))
    with pytest.raises(ConductorHTTPError) as caught:
        client.get_task_defs()
    assert caught.value.status == 302 and not caught.value.retryable
    assert seen == ["/api/metadata/taskdefs"]
