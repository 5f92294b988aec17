"""Fixtures of the dev-server suite (helpers live in ``_support``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from devserver._support import Api, RawConnection, one_task_workflow

from conductor_actors.devserver import DevServer


@pytest.fixture
def make_api(dev_server: DevServer) -> Iterator[Callable[..., Api]]:
    """``make_api(server=dev_server, token=None)`` -> an ``Api`` closed after the test."""
    made: list[Api] = []

    def make(server: DevServer | None = None, token: str | None = None) -> Api:
        api = Api(server or dev_server, token)
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """An ``Api`` on the ``dev_server`` fixture."""
    return make_api()


@pytest.fixture
def polled(dev_server: DevServer, api: Api) -> dict[str, Any]:
    """One ``wf`` workflow (see ``one_task_workflow``) started and its ``echo`` task polled (IN_PROGRESS)."""
    one_task_workflow(dev_server)
    dev_server.start_workflow("wf", {"x": 1})
    return api.poll_one("echo")


@pytest.fixture
def conn(dev_server: DevServer) -> Iterator[RawConnection]:
    """A ``RawConnection`` to ``dev_server``, closed after the test."""
    connection = RawConnection(dev_server)
    yield connection
    connection.close()
