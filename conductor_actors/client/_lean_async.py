"""The lean transport of the async client: keep-alive asyncio connections, without ``httpx``.

Why: httpx's default transport (httpcore over anyio) costs several hundred microseconds of CPU
per small call, which caps how many tasks one event loop can move, and importing httpx costs a
worker process ~55 ms of start-up and ~12 MB. ``LeanAsyncPools`` speaks HTTP/1.1 through the
shared sans-I/O ``_http11`` protocol on keep-alive asyncio connections (TCP_NODELAY, one write per
request, timeouts on the loop; the read deadline bounds the whole answer, so a server that drips
bytes cannot hold a call open). ``AsyncConductorClient`` uses it directly. The client uses httpx's
own transport (``_standard_async``) when a proxy applies or when
``CONDUCTOR_ACTORS_HTTP_TRANSPORT=standard``.

A request is never sent twice behind the caller's back (a batch poll leases tasks): an idle
connection is checked for a close by the server before a request is written on it, and a closed
one is dropped unused; once written, a request's failure (a timeout, a reset, a broken answer)
goes to the caller. Every body is read against ``max_body`` (``_http11.BodyTooLarge``).

Runs on the event loop that uses the client; not thread-safe (like ``httpx.AsyncClient``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..actors import LoopDeadlines
from ._http11 import (
    ConnectTimeout,
    ProtocolError,
    ResponseReader,
    encode_request,
    host_header,
    origin_of,
    socket_dropped,
    tls_context,
)

if TYPE_CHECKING:
    import ssl

__all__ = ["ConnectFailed", "LeanAsyncPools", "LeanPool"]


#: Bytes one read of a connection takes at most (what the sync transport reads at once too).
_READ_SIZE = 65536


class ConnectFailed(ConnectionError):
    """The connection could not be established (refused, unreachable...)."""


class _Connection(asyncio.BufferedProtocol):
    """One keep-alive connection; at most one exchange in flight.

    A buffered protocol: the loop reads into ``buffer`` (``recv_into``) instead of asking the socket
    for a new bytes object of its 256 KiB read size on every answer, which costs about 9 µs of
    allocation per read against 1 µs here. ``buffer`` is shared by the connections of one pool set:
    the loop fills it and hands it over (``buffer_updated``) in one step, and what it holds is
    copied out at once.
    """

    def __init__(self, buffer: memoryview) -> None:
        self.transport: asyncio.Transport | None = None
        self.reader: ResponseReader | None = None
        self.waiter: asyncio.Future[ResponseReader] | None = None
        self.closed = False
        self._buffer = buffer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # a socket without Nagle's algorithm to switch off
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self._buffer[:nbytes]))

    def data_received(self, data: bytes) -> None:
        reader, waiter = self.reader, self.waiter
        if reader is None or waiter is None or waiter.done():
            self.closed = True  # bytes nobody asked for: this connection cannot be trusted again
            if self.transport is not None:
                self.transport.close()
            return
        try:
            if reader.feed(data):
                waiter.set_result(reader)
        except ProtocolError as exc:  # BodyTooLarge among them: the rest of the answer is not read
            waiter.set_exception(exc)
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reader, waiter = self.reader, self.waiter
        if reader is not None and waiter is not None and not waiter.done():
            try:
                reader.eof()
                waiter.set_result(reader)
            except ProtocolError as error:
                waiter.set_exception(ConnectionResetError(str(error)) if exc is not None else error)

    def exchange(
        self, data: bytes, method: str, limit: int, loop: asyncio.AbstractEventLoop
    ) -> asyncio.Future[ResponseReader]:
        self.reader = ResponseReader(method, limit)
        self.waiter = loop.create_future()
        assert self.transport is not None
        self.transport.write(data)
        return self.waiter

    def dropped(self) -> bool:
        """The server closed this idle connection (its end-of-stream may not be processed yet)."""
        sock = self.transport.get_extra_info("socket") if self.transport is not None else None
        return sock is None or socket_dropped(sock)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class LeanPool:
    """Keep-alive connections to one origin (their count carrying a request in ``in_use``)."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, maxsize: int) -> None:
        self.host, self.port, self.tls, self.maxsize = host, port, tls, maxsize
        self.host_header = host_header("https" if tls is not None else "http", host, port)
        self.idle: deque[_Connection] = deque()
        self.in_use = 0


class LeanAsyncPools:
    """One keep-alive ``LeanPool`` per origin, and the exchange of one request on one of them.

    ``verify`` as requests understands it (``source`` names where a CA path came from, for the
    error when it cannot be loaded); ``max_body`` bounds every answer's body.
    """

    def __init__(self, pool_maxsize: int, verify: Any, max_body: int, source: str = "verify") -> None:
        self.pool_maxsize = pool_maxsize
        self.verify = verify
        self.max_body = max_body
        self._source = source
        self._pools: dict[tuple[str, str, int], LeanPool] = {}
        self._read_buffer = memoryview(bytearray(_READ_SIZE))  # shared by every connection (see _Connection)
        self._deadlines: LoopDeadlines[asyncio.Future[Any]] | None = None  # read timeouts, made on first use
        self._deadlines_loop: asyncio.AbstractEventLoop | None = None

    def pool_of(self, scheme: str, host: str, port: int) -> LeanPool:
        """The pool of one origin (made on first use)."""
        key = (scheme, host, port)
        pool = self._pools.get(key)
        if pool is None:
            tls = tls_context(self.verify, self._source) if scheme == "https" else None
            pool = self._pools[key] = LeanPool(host, port, tls, self.pool_maxsize)
        return pool

    def pool_for(self, url: str) -> tuple[LeanPool, str]:
        """The pool for ``url``'s origin and ``url``'s path prefix (for a client's hot path)."""
        parts = urlsplit(url)
        return self.pool_of(*origin_of(parts)), parts.path.rstrip("/")

    async def exchange(
        self, pool: LeanPool, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None,
        connect_timeout: float | None, read_timeout: float | None,
    ) -> ResponseReader:
        """One exchange on a keep-alive connection of ``pool``.

        Sent once: nothing is repeated after the request was written (see the module).
        Raises ``ConnectTimeout``/``TimeoutError`` (no connection / no answer in time),
        ``OSError`` or ``ProtocolError`` (connection failed or answer broken or too large).
        """
        data = encode_request(method, target, pool.host_header, headers, body or None)
        loop = asyncio.get_running_loop()
        connection = await self._acquire(pool, loop, connect_timeout)
        future = connection.exchange(data, method, self.max_body, loop)
        deadlines = None
        if read_timeout is not None:
            deadlines = self._deadlines_on(loop)
            deadlines.add(future, read_timeout)
        try:
            reader = await future
        except BaseException:  # failed, timed out or cancelled: the connection is in an unknown state
            self._discard(pool, connection)
            raise
        finally:
            if deadlines is not None:
                deadlines.discard(future)
        self._release(pool, connection if reader.keep_alive and not connection.closed else None)
        return reader

    def _deadlines_on(self, loop: asyncio.AbstractEventLoop) -> LoopDeadlines[asyncio.Future[Any]]:
        """The read deadlines of the calls on ``loop`` (one timer for all of them, not one each)."""
        deadlines = self._deadlines
        if deadlines is None or self._deadlines_loop is not loop:
            # Not closed when replaced: calls still in flight on the other loop keep their deadlines
            # (and its timer ends once they end).
            deadlines = self._deadlines = LoopDeadlines(loop, _expire)
            self._deadlines_loop = loop
        return deadlines

    async def _acquire(self, pool: LeanPool, loop: asyncio.AbstractEventLoop, timeout: float | None) -> _Connection:
        """An idle connection the server has not closed, else a new one."""
        while pool.idle:
            connection = pool.idle.pop()
            # Checked before every reuse: a request written on a connection the server already
            # closed would fail, and it is not sent again.
            if not connection.closed and not connection.dropped():
                pool.in_use += 1
                return connection
            connection.abort()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(self._read_buffer), pool.host, pool.port, ssl=pool.tls,
                    server_hostname=pool.host if pool.tls is not None else None,
                ),
                timeout,
            )
        except asyncio.TimeoutError as exc:
            raise ConnectTimeout(f"could not connect to {pool.host}:{pool.port} within {timeout} s") from exc
        except OSError as exc:
            raise ConnectFailed(f"could not connect to {pool.host}:{pool.port}: {exc}") from exc
        pool.in_use += 1
        return connection

    def _discard(self, pool: LeanPool, connection: _Connection) -> None:
        connection.abort()
        self._release(pool, None)

    def _release(self, pool: LeanPool, connection: _Connection | None) -> None:
        pool.in_use -= 1
        if connection is not None:
            if len(pool.idle) < pool.maxsize:
                pool.idle.append(connection)
            else:
                connection.abort()

    def connections_in_use(self) -> int:
        """Connections carrying a request now (0 when every response was read)."""
        return sum(pool.in_use for pool in self._pools.values())

    async def aclose(self) -> None:
        # The read deadlines stay: a call another task still has in flight keeps its timeout.
        for pool in self._pools.values():
            while pool.idle:
                pool.idle.pop().abort()
        self._pools.clear()


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())

