"""Fixtures shared by the whole suite.

``flavour`` parametrises a test over the two worker flavours ("sync": threads + requests,
"async": one event loop + httpx). ``dev_server`` is a fresh embedded Conductor server on a free
loopback port, stopped after the test.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

FLAVOURS = ("sync", "async")


def pytest_configure(config: pytest.Config) -> None:
    """Tests stop the programs they start with SIGINT. A shell that starts the run in the
    background ignores SIGINT, that stays ignored in every program the tests start, and Python then
    installs no KeyboardInterrupt handler: with a handler here, the programs start with the default."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own outbox journal directory (worker processes inherit it): no test sees
    another's journal, and nothing is written to the user's state directory."""
    monkeypatch.setenv("CONDUCTOR_ACTORS_STATE_DIR", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> str:
    """Run the test once per worker flavour."""
    return str(request.param)


@pytest.fixture
def dev_server() -> Iterator[DevServer]:
    """A running embedded Conductor server (no auth) on a free port."""
    from conductor_actors.devserver import DevServer

    with DevServer() as server:
        yield server


if False:  # pragma: no cover - typing only
    from conductor_actors.devserver import DevServer
