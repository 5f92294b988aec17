"""Fixtures of the client tests (helpers live in ``_driver``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from client._driver import ConnectionCounter, Driver, make_driver
from client._scripted import Script, ScriptedServer

from conductor_actors.client import Configuration


@pytest.fixture(autouse=True, params=["lean", "standard"])
def http_transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every client test runs over both transports: the lean one (default) and the libraries' own."""
    monkeypatch.setenv("CONDUCTOR_ACTORS_HTTP_TRANSPORT", str(request.param))
    return str(request.param)


@pytest.fixture(name="make_driver")
def make_driver_fixture(flavour: str) -> Iterator[Callable[..., Driver]]:
    """``make_driver(configuration, **client_kwargs)`` -> a ``Driver`` of the test's flavour, closed after."""
    made: list[Driver] = []

    def make(configuration: Configuration, **kwargs: Any) -> Driver:
        driver = make_driver(flavour, configuration, **kwargs)
        made.append(driver)
        return driver

    yield make
    for driver in made:
        driver.close()


@pytest.fixture
def counted_url(dev_server: Any) -> Iterator[tuple[str, ConnectionCounter]]:
    """(URL of ``dev_server`` through a connection-counting relay, the relay)."""
    counter = ConnectionCounter(dev_server.url)
    yield counter.url, counter
    counter.close()


@pytest.fixture(name="serve")
def serve_fixture() -> Iterator[Callable[[list[Script]], ScriptedServer]]:
    """``serve(scripts)`` -> a running ``ScriptedServer`` (see ``_scripted``), closed after the test."""
    servers: list[ScriptedServer] = []

    def make(scripts: list[Script]) -> ScriptedServer:
        servers.append(ScriptedServer(scripts))
        return servers[-1]

    yield make
    for server in servers:
        server.close()
