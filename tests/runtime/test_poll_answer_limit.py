"""A poll answered with a body over ``max_response_bytes`` is a failed poll: the poller reports it
(``PollFailure`` with ``ResponseTooLargeError``), backs off on the schedule for poll errors and
polls again; nothing crashes and no poll is sent twice. Both flavours, both transports.

The server streams a chunked body that never ends (generated piece by piece, never held), and the
limit is set low, so the test allocates nothing large.
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from client._scripted import Script, ScriptedServer
from runtime.conftest import PipelineHarness

from conductor_actors.client import Configuration, ResponseTooLargeError
from conductor_actors.events import PollFailure, PollStarted

LIMIT = 64 * 1024
POLLS = 6
BASE, CAP = 0.02, 0.16  # the poll-error backoff of this test: 0.02, 0.04, 0.08, then 0.16 s


def endless_answer(conn: socket.socket, request: bytes) -> bool:
    """A 200 whose chunked body goes on until the client hangs up (at most 64 MiB)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"4000\r\n" + b"[" * 0x4000 + b"\r\n"
    for _ in range(4096):
        try:
            conn.sendall(piece)
        except OSError:
            break
    return False


@pytest.fixture(params=["lean", "standard"])
def huge_answers(request: pytest.FixtureRequest, flavour: str) -> Iterator[tuple[PipelineHarness, ScriptedServer]]:
    scripts: list[Script] = [endless_answer] * 100
    server = ScriptedServer(scripts)
    configuration = Configuration(
        server_api_url=server.api_url, env={}, http_transport=str(request.param), max_response_bytes=LIMIT
    )
    dev_server: Any = None  # no Conductor here: the scripted server answers every poll
    harness = PipelineHarness(dev_server, flavour, request.node.name, configuration)
    try:
        yield harness, server
    finally:
        harness.close()
        server.close()


def test_a_poll_answer_over_the_limit_is_a_failed_poll_that_backs_off(
    huge_answers: tuple[PipelineHarness, ScriptedServer],
) -> None:
    harness, server = huge_answers
    settings = harness.settings(poll_error_backoff_base=BASE, poll_error_backoff_cap=CAP)
    harness.runner(harness.worker("echo", thread_count=4), settings=settings)
    recorder = harness.recorder

    failures = recorder.wait_for(PollFailure, POLLS)
    for failure in failures:
        assert isinstance(failure.cause, ResponseTooLargeError), repr(failure.cause)
        assert failure.cause.limit == LIMIT and failure.cause.size > LIMIT
        assert f"max_response_bytes={LIMIT}" in str(failure.cause)
    schedule = [min(CAP, BASE * 2**n) for n in range(POLLS - 1)]
    starts = [at for at, _ in recorder.timed(PollStarted)][:POLLS]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    for n, (gap, delay) in enumerate(zip(gaps, schedule), start=1):
        assert gap >= delay - 0.005, f"poll {n + 1} came {gap:.3f} s after poll {n}; the backoff is {delay} s"
    # Each poll reached the server once: the transport repeats nothing.
    assert server.requests <= recorder.count(PollStarted)
