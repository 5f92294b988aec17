"""Bounded reads: the read timeout bounds the whole answer on every transport, both flavours.

A scripted server drips its answer one byte at a time, each byte well within any per-read timeout,
so only a deadline on the whole answer can end the call. Every test runs on the lean transport and
on the library's own one (``http_transport``), with the sync and the async client (``flavour``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable

import pytest
from client._driver import Driver, configuration_for
from client._driver import make_driver as new_driver
from client._scripted import OK_EMPTY_LIST, Script, ScriptedServer, answer, drip, silence

from conductor_actors.client import AsyncConductorClient, ConductorTimeoutError

READ_TIMEOUT = 0.3
EVERY = 0.05  # seconds between dripped bytes: far below the read timeout
SLACK = 1.0  # scheduling allowance on a busy machine; the drip itself lasts 4 s

#: An answer whose head never ends (one more header byte at a time).
SLOW_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"a" * 1000
#: A head at once, then a body that never completes.
SLOW_BODY = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2000\r\n\r\n" + b" " * 2000


_HEAD_END = SLOW_BODY.index(b"\r\n\r\n") + 4


def in_pieces(pieces: list[bytes], every: float = 0.0, then: Script | None = None) -> Script:
    """Send ``pieces`` ``every`` seconds apart and keep the connection; or hand over to ``then``."""

    def script(conn: socket.socket, request: bytes) -> bool:
        pace = threading.Event()  # never set: waits pace the pieces
        for index, piece in enumerate(pieces):
            if index:
                pace.wait(every)
            conn.sendall(piece)
        return then(conn, request) if then is not None else True

    return script


def slow_head() -> Script:
    """The whole head at the pace of the drip (a per-read timeout never fires)."""
    return drip(SLOW_HEAD, EVERY)


def slow_body() -> Script:
    """The head at once, then one body byte at a time."""
    return in_pieces([SLOW_BODY[:_HEAD_END]], then=drip(SLOW_BODY[_HEAD_END:], EVERY))


@pytest.mark.parametrize(
    ("script", "call", "long_poll"),
    [
        (slow_head, lambda client: client.get_task_defs(), 0.0),
        (slow_body, lambda client: client.get_task_defs(), 0.0),
        (slow_body, lambda client: client.batch_poll("slow", count=1, timeout_ms=300), 0.3),
    ],
    ids=["dripped_head", "dripped_body", "dripped_poll_answer"],
)
def test_a_dripped_answer_times_out_at_the_read_timeout_and_its_connection_is_dropped(
    serve: Callable[..., ScriptedServer], make_driver: Callable[..., Driver],
    script: Callable[[], Script], call: Callable[[Driver], object], long_poll: float,
) -> None:
    server = serve([script(), answer(OK_EMPTY_LIST)])
    client = make_driver(configuration_for(server.api_url, read_timeout=READ_TIMEOUT, connect_timeout=2.0))
    deadline = READ_TIMEOUT + long_poll  # a poll's own wait is added to the read timeout
    started = time.monotonic()
    with pytest.raises(ConductorTimeoutError) as caught:
        call(client)
    elapsed = time.monotonic() - started
    assert caught.value.retryable
    assert f"{deadline} s" in str(caught.value)
    assert deadline - 0.05 <= elapsed < deadline + SLACK
    # The connection that timed out is not reused: the next call opens a fresh one and works.
    assert client.get_task_defs() == []
    assert server.connections == 2
    assert client.all_connections_idle()


def test_an_answer_that_arrives_in_pieces_within_the_deadline_is_read_whole(
    serve: Callable[..., ScriptedServer], make_driver: Callable[..., Driver]
) -> None:
    # Four pieces 0.1 s apart: more than one read each, well within the whole-answer deadline.
    body = b'[{"name": "a"}, {"name": "b"}]'
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    server = serve([in_pieces([raw[:10], raw[10:60], raw[60:75], raw[75:]], every=0.1), answer(OK_EMPTY_LIST)])
    client = make_driver(configuration_for(server.api_url, read_timeout=1.0))
    assert [d.name for d in client.get_task_defs()] == ["a", "b"]
    assert client.get_task_defs() == []
    assert server.connections == 1  # a complete answer keeps its connection


def test_cancelling_an_async_call_is_not_mistaken_for_a_timeout(serve: Callable[..., ScriptedServer]) -> None:
    """The async deadline on httpx's own transport works by cancelling the calling task: a
    cancellation from elsewhere must still arrive as a cancellation."""
    server = serve([silence])
    driver = new_driver("async", configuration_for(server.api_url, read_timeout=5.0))
    client = driver.client
    assert isinstance(client, AsyncConductorClient)

    async def scenario() -> None:
        call = asyncio.ensure_future(client.get_task_defs())
        while server.requests == 0:  # polled with the deadline below
            await asyncio.sleep(0.01)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    try:
        driver.run(asyncio.wait_for(scenario(), 5.0))
    finally:
        driver.close()
