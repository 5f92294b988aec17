"""The metrics HTTP server cannot be exhausted by its clients.

Idle and slow connections cost no thread and are closed after the connection timeout (injected
small here); the number of open connections is bounded (one more closes the one that waited
longest, or is refused while every open one is being answered); ``/metrics`` and ``/health``
answer all the while; and the server's threads stay a fixed few whatever the clients do. The
server runs in this process (as in the parent), over real sockets on loopback.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from _support.waiting import WAIT, wait_until

from conductor_actors.metrics._exposition import HANDLER_THREADS, MAX_HEAD_BYTES, MetricsHTTPServer

TIMEOUT = 0.5
IDLE_CONNECTIONS = 200
BODY = b"# HELP up the only metric\nup 1\n"
UP = SimpleNamespace(key="w", task_type="w", pid=1, state="up", alive=True, restarts=0, in_flight=0,
                     last_heartbeat_age=0.1, last_exit=None)


def serve(render: Callable[[], bytes] = lambda: BODY, **options: Any) -> MetricsHTTPServer:
    options.setdefault("timeout", TIMEOUT)
    return MetricsHTTPServer("127.0.0.1", 0, render, lambda: (True, [UP]), **options)


@pytest.fixture
def servers() -> Iterator[list[MetricsHTTPServer]]:
    made: list[MetricsHTTPServer] = []
    yield made
    for server in made:
        server.close()


def get(server: MetricsHTTPServer, path: str, method: str = "GET") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT)
    try:
        connection.request(method, path)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def connect(server: MetricsHTTPServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server closed ``sock`` (end of stream or reset); never blocks."""
    sock.setblocking(False)
    try:
        return sock.recv(65536) == b""
    except BlockingIOError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True


def server_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("metrics-http"))


def test_idle_connections_cost_no_thread_and_are_closed_after_the_timeout(servers: list[MetricsHTTPServer]) -> None:
    server = serve()
    servers.append(server)
    threads_before = threading.active_count()
    idle = [connect(server) for _ in range(IDLE_CONNECTIONS)]
    try:
        assert get(server, "/metrics") == (200, BODY)  # answered while 200 connections sit idle
        status, body = get(server, "/health")
        assert status == 200 and b'"status": "ok"' in body
        assert threading.active_count() <= threads_before + HANDLER_THREADS
        assert server_threads() <= 1 + HANDLER_THREADS
        wait_until(lambda: all(closed_by_server(s) for s in idle), f"{IDLE_CONNECTIONS} idle connections closed")
        assert get(server, "/metrics") == (200, BODY)
    finally:
        for sock in idle:
            sock.close()
    assert threading.active_count() <= threads_before + HANDLER_THREADS


def test_a_slow_loris_is_closed_at_the_timeout_without_an_answer(servers: list[MetricsHTTPServer]) -> None:
    """A client that sends its request head one byte at a time never completes it: the head must
    arrive whole within the timeout, however often bytes come, so the connection is closed."""
    server = serve()
    servers.append(server)
    slow = connect(server)
    head = b"GET /metrics HTTP/1.1\r\nHost: loris\r\n" + b"X-Pad: " + b"a" * 10_000
    stop = threading.Event()
    received = bytearray()

    def trickle() -> None:
        try:
            for byte in head:
                slow.sendall(bytes([byte]))
                if stop.wait(0.02):  # the pace of the attack
                    return
        except OSError:  # the server closed the connection
            pass

    def read() -> None:
        try:
            while chunk := slow.recv(4096):
                received.extend(chunk)
        except OSError:
            pass

    sender, reader = threading.Thread(target=trickle), threading.Thread(target=read)
    sender.start()
    reader.start()
    try:
        assert get(server, "/health")[0] == 200  # the loris holds no thread others need
        reader.join(WAIT)
        assert not reader.is_alive(), "the slow connection was never closed"
        assert received == b""  # closed, not answered
    finally:
        stop.set()
        sender.join(WAIT)
        slow.close()


def test_connections_past_the_bound_are_refused_while_every_one_is_answered(
        servers: list[MetricsHTTPServer]) -> None:
    """With every open connection waiting for an answer, one more is closed at once; the waiting
    ones are answered when the answers come, and the server's threads stay a fixed few."""
    release = threading.Event()
    rendering: list[None] = []  # one entry per answer being rendered (list.append is atomic)

    def slow_render() -> bytes:
        rendering.append(None)
        release.wait(WAIT)
        return BODY

    server = serve(slow_render, max_connections=8, handler_threads=8, timeout=WAIT)
    servers.append(server)
    busy = [connect(server) for _ in range(8)]
    try:
        for sock in busy:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until(lambda: len(rendering) == 8, "every open connection to be answering")
        extra = connect(server)
        wait_until(lambda: closed_by_server(extra), "the connection past the bound to be closed")
        extra.close()
        assert server_threads() == 1 + 8
        release.set()
        for sock in busy:
            sock.settimeout(WAIT)
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.endswith(BODY):
                chunk = sock.recv(4096)
                assert chunk, f"closed before the answer: {answer!r}"
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    finally:
        release.set()
        for sock in busy:
            sock.close()


def test_one_more_connection_closes_the_one_idle_longest(servers: list[MetricsHTTPServer]) -> None:
    server = serve(max_connections=4, timeout=WAIT)
    servers.append(server)
    first = connect(server)
    wait_until(lambda: server_threads() >= 1, "the server thread")
    others = []
    try:
        for _ in range(3):
            others.append(connect(server))
        assert get(server, "/metrics") == (200, BODY)  # the fifth connection: the first one goes
        wait_until(lambda: closed_by_server(first), "the longest idle connection to be closed")
    finally:
        first.close()
        for sock in others:
            sock.close()


def test_keep_alive_head_and_errors(servers: list[MetricsHTTPServer]) -> None:
    server = serve(timeout=WAIT)
    servers.append(server)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT)
    try:
        for path in ("/metrics", "/", "/health", "/metrics/"):
            connection.request("GET", path)
            answer = connection.getresponse()
            assert answer.status == 200, path
            answer.read()
        connection.request("HEAD", "/metrics")
        answer = connection.getresponse()
        assert (answer.status, answer.getheader("Content-Length"), answer.read()) == (200, str(len(BODY)), b"")
    finally:
        connection.close()
    status, body = get(server, "/nowhere")
    assert status == 404 and b"/metrics" in body and b"/health" in body
    assert get(server, "/metrics", method="POST")[0] == 405
    sock = connect(server)
    try:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 10))
        sock.settimeout(WAIT)
        assert sock.recv(4096).startswith(b"HTTP/1.1 431 ")
    finally:
        sock.close()
    sock = connect(server)
    try:
        sock.sendall(b"NONSENSE\r\n\r\n")
        sock.settimeout(WAIT)
        assert sock.recv(4096).startswith(b"HTTP/1.1 400 ")
    finally:
        sock.close()


def test_closing_the_server_ends_its_threads_and_connections() -> None:
    server = serve(timeout=WAIT)
    idle = connect(server)
    assert get(server, "/metrics") == (200, BODY)
    server.close()
    try:
        wait_until(lambda: closed_by_server(idle), "the open connection to be closed")
        wait_until(lambda: server_threads() == 0, "the server's threads to end")
    finally:
        idle.close()
    with pytest.raises(OSError):
        connect(server)
