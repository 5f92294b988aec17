"""Serving metrics: the HTTP server for ``/metrics``, ``/health`` and ``/ready``, and the atomic
file writer. Only a parent with metrics on loads this module (``_actor`` imports it there).

The HTTP server is one socket thread plus a small fixed pool of answering threads, with every
connection bounded in number and in time (see ``MetricsHTTPServer``), so no client can exhaust
the parent. A scrape asks the MetricsActor for the rendered text (the actor owns the registry), a
health check asks the supervisor for the children's status. Both are bound or checked when the
parent starts, so a port in use or an unwritable directory is an error at start-up that names the
setting, before any worker process exists.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import queue
import selectors
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST

from ..settings import MetricsSettingsError
from ._catalog import health_report, ready_report

__all__ = [
    "CONNECTION_TIMEOUT",
    "HANDLER_THREADS",
    "MAX_CONNECTIONS",
    "MAX_HEAD_BYTES",
    "HealthProbe",
    "MetricsHTTPServer",
    "check_writable_directory",
    "write_atomically",
]

_log = logging.getLogger("conductor_actors.metrics")

#: Returns (every worker process is up and heartbeating, the statuses); any thread.
HealthProbe = Callable[[], tuple[bool, Sequence[Any]]]

#: Seconds a connection may take to send a whole request head, or to take a whole answer.
CONNECTION_TIMEOUT = 5.0
#: Connections open at once (scrapers and probes need a few).
MAX_CONNECTIONS = 64
#: Threads answering complete requests (the only threads besides the socket thread).
HANDLER_THREADS = 4
#: Longest request head (request line and headers) accepted.
MAX_HEAD_BYTES = 16 * 1024
_BACKLOG = 128
#: Longest wait of the socket thread between two looks at the deadlines.
_TICK = 0.5


@dataclass(frozen=True)
class _Response:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    def encode(self, *, head_only: bool, close: bool) -> bytes:
        lines = [
            f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.body)}",
            *(f"{name}: {value}" for name, value in self.headers),
        ]
        if close:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if head_only else head + self.body


def _text(status: int, text: str, headers: tuple[tuple[str, str], ...] = ()) -> _Response:
    return _Response(status, "text/plain; charset=utf-8", text.encode(), headers)


def _json(status: int, report: dict[str, Any]) -> _Response:
    return _Response(status, "application/json", json.dumps(report).encode())


#: Path (without a trailing slash) -> what answers it; runs on an answering thread.
_Routes = dict[str, Callable[[], _Response]]


def _routes(render: Callable[[], bytes], probe: HealthProbe) -> _Routes:
    """What the server answers: a new endpoint is one more entry here."""

    def metrics() -> _Response:
        try:
            return _Response(200, CONTENT_TYPE_LATEST, render())
        except Exception as exc:  # the metrics actor is restarting: say so, do not hang the scrape
            return _text(503, f"metrics unavailable: {exc}\n")

    def health() -> _Response:
        return _json(*health_report(*probe()))

    def ready() -> _Response:  # readiness: the polls reach the server (see _catalog)
        return _json(*ready_report(probe()[1]))

    return {"/": metrics, "/metrics": metrics, "/health": health, "/ready": ready}


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    keep_alive: bool


def _parse(head: bytes) -> _Request | _Response:
    """The request in ``head`` (request line and headers, without the blank line), or the error
    answer for one this server does not take (it takes GET and HEAD without a body)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return _text(400, "bad request line\n")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            return _text(400, "bad header line\n")
        headers[name.lower()] = value.strip()
    if method not in ("GET", "HEAD"):
        return _text(405, f"method {method} not allowed: use GET\n", (("Allow", "GET, HEAD"),))
    if "transfer-encoding" in headers or headers.get("content-length", "0") != "0":
        return _text(400, "a request body is not accepted\n")
    connection = headers.get("connection", "").lower()
    keep_alive = "keep-alive" in connection if version == "HTTP/1.0" else "close" not in connection
    return _Request(method, urlsplit(target).path.rstrip("/") or "/", keep_alive)


class _Connection:
    """One client connection; touched by the socket thread only (an answering thread only reads
    the request it was given)."""

    __slots__ = ("busy", "close_after", "closed", "deadline", "events", "inbox", "outbox", "sock")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline  # the request head, or the whole answer, must be through by then
        self.inbox = bytearray()
        self.outbox = memoryview(b"")
        self.busy = False  # being answered: no deadline, not read from
        self.close_after = False
        self.closed = False
        self.events = 0  # what the selector watches for


class MetricsHTTPServer:
    """``/metrics`` and ``/health`` on ``host:port`` (port 0 = any free port; see ``port``).

    One thread (``metrics-http``) owns every socket: it accepts connections, reads requests and
    writes answers without blocking, so an idle or slow client costs a file descriptor, never a
    thread. A complete request is answered by one of ``handler_threads`` threads (asking the
    MetricsActor or the supervisor can take a moment), and the answer goes back to the socket
    thread to be written.

    Bounds, so that no client can exhaust the parent: at most ``max_connections`` connections are
    open (one more closes the one that has waited longest for its next request, or is closed
    itself when every open one is being answered); a request head must arrive whole within
    ``timeout`` seconds of the connection being ready for it (accepted, or its previous answer
    sent) and an answer must be taken within ``timeout`` seconds, else the connection is closed;
    a request head is at most ``MAX_HEAD_BYTES`` long.

    Raises ``MetricsSettingsError`` naming ``http_host`` and/or ``http_port`` when the address
    cannot be bound (see ``_bind_error``).
    """

    def __init__(
        self,
        host: str,
        port: int,
        render: Callable[[], bytes],
        probe: HealthProbe,
        *,
        timeout: float = CONNECTION_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        handler_threads: int = HANDLER_THREADS,
    ) -> None:
        try:
            listener = _listen(host, port)
        except OSError as exc:
            raise _bind_error(host, port, exc) from exc
        address = listener.getsockname()
        self.host, self.port = str(address[0]), int(address[1])
        self._loop = _SocketLoop(listener, _routes(render, probe), timeout, max_connections, handler_threads)
        self._thread = threading.Thread(target=self._loop.run, name="metrics-http", daemon=True)
        self._thread.start()
        _log.info("metrics on http://%s:%d/metrics, health on /health, readiness on /ready", host, self.port)

    def close(self) -> None:
        """Stop serving and close every connection (from any thread but the server's own)."""
        self._loop.stop()
        self._thread.join(timeout=5)


def _listen(host: str, port: int) -> socket.socket:
    """A non-blocking listening socket on ``host:port``, IPv4 or IPv6 as ``host`` says."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host or "0.0.0.0", port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # rebinding right after a stop
        listener.bind(address)
        listener.listen(_BACKLOG)
        listener.setblocking(False)
    except BaseException:
        listener.close()
        raise
    return listener


class _SocketLoop:
    """The socket thread's state and loop (``run``); ``stop`` may be called from any thread."""

    def __init__(
        self, listener: socket.socket, routes: _Routes, timeout: float, max_connections: int, handler_threads: int
    ) -> None:
        self._listener = listener
        self._routes = routes
        self._not_found = _text(404, f"not found: try {', '.join(sorted(p for p in routes if p != '/'))}\n")
        self._timeout = timeout
        self._max_connections = max_connections
        self._connections: set[_Connection] = set()
        self._selector = selectors.DefaultSelector()
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_in.setblocking(False)
        self._wake_out.setblocking(False)
        self._answers: queue.SimpleQueue[tuple[_Connection, bytes, bool]] = queue.SimpleQueue()
        self._pool = ThreadPoolExecutor(max_workers=handler_threads, thread_name_prefix="metrics-http-answer")
        self._stopping = False
        self._listening_again_at: float | None = None
        self._selector.register(listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_in, selectors.EVENT_READ, None)

    def stop(self) -> None:
        self._stopping = True
        self._wake()

    def _wake(self) -> None:
        try:
            self._wake_out.send(b"\0")
        except OSError:  # the pipe is full (a wake-up is pending anyway) or closed (stopped)
            pass

    def run(self) -> None:
        """The socket thread: until ``stop``; an unexpected error is logged and ends serving."""
        try:
            while not self._stopping:
                for key, events in self._selector.select(self._wait()):
                    if key.fileobj is self._listener:
                        self._accept()
                    elif key.fileobj is self._wake_in:
                        self._drain_wake()
                    elif events & selectors.EVENT_READ:
                        self._read(key.data)
                    elif events & selectors.EVENT_WRITE:
                        self._write(key.data)
                self._send_answers()
                self._expire()
        except Exception:
            _log.exception("the metrics HTTP server failed; /metrics and /health are no longer served")
        finally:
            self._shut()

    def _wait(self) -> float:
        now = time.monotonic()
        due = [c.deadline for c in self._connections if not c.busy]
        if self._listening_again_at is not None:
            due.append(self._listening_again_at)
        return max(0.0, min([now + _TICK, *due]) - now)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of file descriptors: stop accepting for a moment, do not spin
                _log.warning("metrics HTTP server cannot accept a connection: %s", exc)
                self._selector.unregister(self._listener)
                self._listening_again_at = time.monotonic() + _TICK
                return
            if len(self._connections) >= self._max_connections and not self._evict_one():
                sock.close()  # every open connection is being answered: refuse this one
                continue
            sock.setblocking(False)
            connection = _Connection(sock, time.monotonic() + self._timeout)
            self._connections.add(connection)
            self._watch(connection, selectors.EVENT_READ)

    def _evict_one(self) -> bool:
        """Close the connection that has waited longest for its next request; False if none waits."""
        waiting = [c for c in self._connections if not c.busy and not c.outbox]
        if not waiting:
            return False
        self._close(min(waiting, key=lambda c: c.deadline))
        return True

    def _drain_wake(self) -> None:
        try:
            while self._wake_in.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _watch(self, connection: _Connection, events: int) -> None:
        if events == connection.events:
            return
        if connection.events == 0:
            self._selector.register(connection.sock, events, connection)
        elif events == 0:
            self._selector.unregister(connection.sock)
        else:
            self._selector.modify(connection.sock, events, connection)
        connection.events = events

    def _close(self, connection: _Connection) -> None:
        if connection.closed:
            return
        self._watch(connection, 0)
        connection.closed = True
        self._connections.discard(connection)
        connection.sock.close()

    def _read(self, connection: _Connection) -> None:
        try:
            data = connection.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(connection)
            return
        connection.inbox += data
        self._next_request(connection)

    def _next_request(self, connection: _Connection) -> None:
        """Start answering the request whose head is complete in the inbox, if there is one."""
        inbox = connection.inbox
        while inbox[:2] == b"\r\n":  # blank lines before a request are allowed
            del inbox[:2]
        end = inbox.find(b"\r\n\r\n")
        if end < 0:
            if len(inbox) > MAX_HEAD_BYTES:
                self._reply(connection, _text(431, f"request head over {MAX_HEAD_BYTES} bytes\n").encode(
                    head_only=False, close=True), close=True)
            return
        request = _parse(bytes(inbox[:end]))
        del inbox[:end + 4]
        if isinstance(request, _Response):
            self._reply(connection, request.encode(head_only=False, close=True), close=True)
            return
        connection.busy = True
        self._watch(connection, 0)  # a pipelined request waits in the inbox until this one is answered
        self._pool.submit(self._answer, connection, request)

    def _answer(self, connection: _Connection, request: _Request) -> None:
        """On an answering thread: build the answer and hand it to the socket thread."""
        route = self._routes.get(request.path)
        try:
            response = route() if route is not None else self._not_found
        except Exception as exc:
            _log.warning("metrics HTTP server: answering %s failed: %r", request.path, exc)
            response = _text(500, f"could not answer {request.path}\n")
        data = response.encode(head_only=request.method == "HEAD", close=not request.keep_alive)
        self._answers.put((connection, data, not request.keep_alive))
        self._wake()

    def _send_answers(self) -> None:
        while True:
            try:
                connection, data, close = self._answers.get_nowait()
            except queue.Empty:
                return
            if not connection.closed:
                connection.busy = False
                self._reply(connection, data, close)

    def _reply(self, connection: _Connection, data: bytes, close: bool) -> None:
        connection.outbox = memoryview(data)
        connection.close_after = close
        connection.deadline = time.monotonic() + self._timeout
        self._watch(connection, selectors.EVENT_WRITE)
        self._write(connection)

    def _write(self, connection: _Connection) -> None:
        try:
            sent = connection.sock.send(connection.outbox)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(connection)
            return
        connection.outbox = connection.outbox[sent:]
        if connection.outbox:
            return
        if connection.close_after:
            self._close(connection)
            return
        connection.deadline = time.monotonic() + self._timeout
        self._watch(connection, selectors.EVENT_READ)
        self._next_request(connection)

    def _expire(self) -> None:
        now = time.monotonic()
        for connection in [c for c in self._connections if not c.busy and c.deadline <= now]:
            self._close(connection)
        if self._listening_again_at is not None and now >= self._listening_again_at:
            self._listening_again_at = None
            self._selector.register(self._listener, selectors.EVENT_READ, None)

    def _shut(self) -> None:
        for connection in list(self._connections):
            self._close(connection)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._selector.close()
        for sock in (self._listener, self._wake_in, self._wake_out):
            sock.close()


def _bind_error(host: str, port: int, exc: OSError) -> MetricsSettingsError:
    """The start-up error for an address that cannot be served, naming the setting at fault: the
    port when it is in use or needs privileges, the host when it is not an address of this
    machine or cannot be resolved, both otherwise."""
    reason = exc.strerror or str(exc)
    if isinstance(exc, socket.gaierror):
        setting, why = f"http_host={host!r}", f"cannot resolve the host name: {reason}"
    elif exc.errno == errno.EADDRINUSE:
        setting, why = f"http_port={port}", f"{reason}: another program listens there"
    elif exc.errno == errno.EACCES:
        setting, why = f"http_port={port}", f"{reason}: ports below 1024 need privileges" if 0 < port < 1024 else reason
    elif exc.errno == errno.EADDRNOTAVAIL:
        setting, why = f"http_host={host!r}", f"{reason}: not an address of this machine"
    else:
        setting, why = f"http_host={host!r}, http_port={port}", reason
    return MetricsSettingsError(f"{setting}: cannot serve metrics on {host}:{port} ({why})")


def check_writable_directory(directory: str) -> str:
    """Create ``directory`` if needed and prove it is writable; raises ``MetricsSettingsError``."""
    path = os.path.abspath(directory)
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-", delete=True):
            pass
    except OSError as exc:
        raise MetricsSettingsError(
            f"directory={directory!r}: cannot write metrics there ({exc.strerror or exc})"
        ) from exc
    return path


def write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".metrics-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
