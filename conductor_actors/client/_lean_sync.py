"""The lean transport of the sync client: keep-alive sockets speaking HTTP/1.1, without ``requests``.

Why: with ``requests``' default adapter (urllib3) one small Conductor call costs several hundred
microseconds of CPU, which dominates a worker's cost per task, and importing ``requests`` costs a
worker process ~70 ms of start-up and ~12 MB. ``LeanConnectionPool`` speaks HTTP/1.1 itself through
the shared sans-I/O ``_http11`` protocol on plain sockets (TCP_NODELAY, one write per request),
about a fifth of the cost. It handles what a Conductor server needs (keep-alive, chunked bodies,
TLS with the CA certificates every transport trusts, ``_http11.trusted_cas``). ``ConductorClient``
uses a pool directly. The client uses ``requests``' own adapter (``_standard_sync``) when a proxy
applies or when ``CONDUCTOR_ACTORS_HTTP_TRANSPORT=standard``.

A request is never sent twice behind the caller's back: a batch poll leases tasks and an
update-v2 may lease the next one, so a request that may have reached the server is never
repeated by the transport. An idle keep-alive connection is checked for a close by the server
before a request is written on it (a closed one is dropped, unused); once written, a request's
failure (a timeout, a reset, a broken answer) goes to the caller, which decides. ``close()``
also aborts connections still carrying a request, so no call outlives the client. The read
timeout bounds the whole answer, not each ``recv``: a server that drips bytes cannot keep a call
alive past it. Every body is read against the pool's ``max_body`` (``_http11.BodyTooLarge``).

Thread-safe: connections are taken from and returned to the pool under a lock; a connection is used
by one thread at a time.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from ._http11 import ConnectTimeout, ResponseReader, encode_request, host_header, socket_dropped, tls_context

if TYPE_CHECKING:
    import ssl

__all__ = ["LeanConnectionPool", "pool_for_origin"]


class LeanConnectionPool:
    """Keep-alive connections to one origin; ``request`` sends one request and reads its answer."""

    def __init__(
        self, host: str, port: int, *, tls: ssl.SSLContext | None, maxsize: int, max_body: int
    ) -> None:
        self.host, self.port, self.tls, self.maxsize, self.max_body = host, port, tls, maxsize, max_body
        self.host_header = host_header("https" if tls is not None else "http", host, port)
        self._idle: deque[socket.socket] = deque()
        self._lock = threading.Lock()
        self._closed = False
        self._busy: set[socket.socket] = set()  # connections checked out (changed under the lock)

    @property
    def in_use(self) -> int:
        return len(self._busy)

    def _connect(self, timeout: float | None) -> socket.socket:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        except TimeoutError as exc:
            raise ConnectTimeout(f"could not connect to {self.host}:{self.port} within {timeout} s") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        return sock

    def _take_idle(self) -> socket.socket | None:
        while True:
            with self._lock:
                if not self._idle:
                    return None
                sock = self._idle.pop()
                self._busy.add(sock)
            # Checked every time, however short the idle time: a request written on a connection
            # the server already closed fails, and it is not sent again. Checked outside the lock,
            # so the other threads' calls do not queue behind this system call.
            if not socket_dropped(sock):
                return sock
            with self._lock:
                self._busy.discard(sock)
            sock.close()

    def _give_back(self, sock: socket.socket, healthy: bool) -> None:
        """Return a connection to the pool (or close it when it cannot carry another request)."""
        with self._lock:
            self._busy.discard(sock)
            if healthy and not self._closed and len(self._idle) < self.maxsize:
                self._idle.append(sock)
                return
        sock.close()

    def request(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None,
        connect_timeout: float | None, read_timeout: float | None,
    ) -> ResponseReader:
        """Send and read one exchange; ``read_timeout`` bounds the whole answer (see ``_exchange``).

        Raises ``ConnectTimeout``, ``TimeoutError`` (no complete answer in time), ``OSError`` or
        ``ProtocolError``.
        """
        data = encode_request(method, target, self.host_header, headers, body)
        sock = self._take_idle()
        if sock is None:
            sock = self._connect(connect_timeout)
            with self._lock:
                if self._closed:
                    sock.close()
                    raise ConnectionAbortedError("the client was closed")
                self._busy.add(sock)
        return self._exchange(sock, data, method, read_timeout)

    def _exchange(self, sock: socket.socket, data: bytes, method: str, read_timeout: float | None) -> ResponseReader:
        """Send ``data`` and read the whole answer within ``read_timeout`` of the request being sent.

        The timeout bounds the whole answer, not each ``recv``: a server that sends a byte now and
        then cannot hold the call open. Raises ``TimeoutError`` at the deadline (the connection is
        closed, never reused). Sent once: nothing is repeated after the request was written.
        """
        reader = ResponseReader(method, self.max_body)
        try:
            sock.settimeout(read_timeout)
            sock.sendall(data)
            deadline = None if read_timeout is None else time.monotonic() + read_timeout
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    reader.eof()
                    break
                if reader.feed(chunk):
                    break
                if deadline is not None:  # only a partial answer pays for the clock
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError(f"the answer did not finish within {read_timeout} s")
                    sock.settimeout(remaining)
        except BaseException:
            self._give_back(sock, healthy=False)
            raise
        self._give_back(sock, healthy=reader.keep_alive)
        return reader

    def close(self) -> None:
        """Close idle connections and abort the ones carrying a request (their calls fail at once)."""
        with self._lock:
            self._closed = True
            idle, self._idle = list(self._idle), deque()
            busy = list(self._busy)
        for sock in idle:
            sock.close()
        for sock in busy:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def pool_for_origin(
    scheme: str, host: str, port: int, verify: Any, maxsize: int, max_body: int, source: str = "verify"
) -> LeanConnectionPool:
    """A new pool for one origin; ``verify`` as requests understands it (used for https only;
    ``source`` names where a CA path came from, for the error when it cannot be loaded)."""
    tls = tls_context(verify, source) if scheme == "https" else None
    return LeanConnectionPool(host, port, tls=tls, maxsize=maxsize, max_body=max_body)
