"""The lean transport of the async client: an ``httpx`` transport over asyncio protocols.

Why: httpx's default transport (httpcore over anyio) costs several hundred microseconds of CPU
per small call, which caps how many tasks one event loop can move. This transport keeps the
``httpx.AsyncClient`` API (it is a plain ``httpx.AsyncBaseTransport``) and speaks HTTP/1.1 through
the shared sans-I/O ``_http11`` protocol on keep-alive asyncio connections (TCP_NODELAY, one write
per request, timeouts as loop timers; the read timer bounds the whole answer, so a server that
drips bytes cannot hold a call open). The client falls back to httpx's own transport when a proxy
applies or when ``CONDUCTOR_ACTORS_HTTP_TRANSPORT=standard``. Like the sync transport, an idempotent
request on a reused connection that fails before any byte of its answer is sent once more on a
fresh one (a POST never is).

Runs on the event loop that uses the client; not thread-safe (like ``httpx.AsyncClient``).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import httpx

from ._http11 import ConnectTimeout, ProtocolError, ResponseReader, encode_request, tls_context
from ._keepalive import socket_dropped

__all__ = ["LeanAsyncTransport"]

_SKIPPED_HEADERS = frozenset({b"host", b"content-length", b"connection", b"transfer-encoding"})
#: Methods a transport may send twice without changing the outcome.
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class _ConnectFailed(ConnectionError):
    """The connection could not be established (refused, unreachable...)."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one exchange in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reader: ResponseReader | None = None
        self.waiter: asyncio.Future[ResponseReader] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

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
        except ProtocolError as exc:
            waiter.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reader, waiter = self.reader, self.waiter
        if reader is not None and waiter is not None and not waiter.done():
            try:
                reader.eof()
                waiter.set_result(reader)
            except ProtocolError as error:
                waiter.set_exception(ConnectionResetError(str(error)) if exc is not None else error)

    def exchange(self, data: bytes, method: str, loop: asyncio.AbstractEventLoop) -> asyncio.Future[ResponseReader]:
        self.reader = ResponseReader(method)
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


class _Pool:
    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, maxsize: int) -> None:
        self.host, self.port, self.tls, self.maxsize = host, port, tls, maxsize
        self.host_header = host if port in (80, 443) else f"{host}:{port}"
        self.idle: deque[_Connection] = deque()
        self.in_use = 0


class LeanAsyncTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` with one keep-alive pool per origin."""

    def __init__(self, pool_maxsize: int = 100, verify: Any = True) -> None:
        self.pool_maxsize = pool_maxsize
        self.verify = verify
        self._pools: dict[tuple[str, str, int], _Pool] = {}

    def _pool(self, scheme: str, host: str, port: int) -> _Pool:
        key = (scheme, host, port)
        pool = self._pools.get(key)
        if pool is None:
            tls = tls_context(self.verify) if scheme == "https" else None
            pool = self._pools[key] = _Pool(host, port, tls, self.pool_maxsize)
        return pool

    def pool_for(self, url: str) -> tuple[_Pool, str]:
        """The pool for ``url``'s origin and ``url``'s path prefix (for a client's hot path)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        pool = self._pool(scheme, parts.hostname or "", parts.port or (443 if scheme == "https" else 80))
        return pool, parts.path.rstrip("/")

    async def exchange(
        self, pool: _Pool, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None,
        connect_timeout: float | None, read_timeout: float | None,
    ) -> ResponseReader:
        """One exchange on a keep-alive connection of ``pool``.

        Raises ``ConnectTimeout``/``TimeoutError`` (no connection / no answer in time),
        ``OSError`` or ``ProtocolError`` (connection failed or answer broken).
        """
        data = encode_request(method, target, pool.host_header, headers, body or None)
        loop = asyncio.get_running_loop()
        may_resend = method in _IDEMPOTENT
        may_reuse = True
        while True:
            connection, reused = await self._acquire(pool, loop, connect_timeout, may_reuse)
            future = connection.exchange(data, method, loop)
            timer = loop.call_later(read_timeout, _expire, future) if read_timeout is not None else None
            try:
                reader = await future
            except (OSError, ProtocolError):
                self._discard(pool, connection)
                if may_resend and reused and connection.reader is not None and not connection.reader.received_any:
                    may_reuse = False  # closed by the server while idle: once more on a fresh connection
                    continue
                raise
            except BaseException:  # timed out or cancelled: the connection is in an unknown state
                self._discard(pool, connection)
                raise
            finally:
                if timer is not None:
                    timer.cancel()
            self._release(pool, connection if reader.keep_alive and not connection.closed else None)
            return reader

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        pool = self._pool(scheme, url.host, url.port or (443 if scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                   if k.lower() not in _SKIPPED_HEADERS]
        body = await request.aread()
        read_timeout = timeouts.get("read")
        try:
            reader = await self.exchange(
                pool, request.method, url.raw_path.decode("ascii"), headers, body or None,
                timeouts.get("connect"), read_timeout,
            )
        except ConnectTimeout as exc:
            raise httpx.ConnectTimeout(str(exc), request=request) from exc
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no complete answer within {read_timeout} s", request=request) from exc
        except _ConnectFailed as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (OSError, ProtocolError) as exc:
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}", request=request) from exc
        return httpx.Response(
            reader.status, headers=list(reader.headers.items()), content=reader.body,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reader.reason.encode("latin-1")},
        )

    async def _acquire(
        self, pool: _Pool, loop: asyncio.AbstractEventLoop, timeout: float | None, may_reuse: bool
    ) -> tuple[_Connection, bool]:
        """A connection (an idle one when allowed and healthy) and whether it was reused."""
        while may_reuse and pool.idle:
            connection = pool.idle.pop()
            if not connection.closed and not connection.dropped():
                pool.in_use += 1
                return connection, True
            connection.abort()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    _Connection, pool.host, pool.port, ssl=pool.tls,
                    server_hostname=pool.host if pool.tls is not None else None,
                ),
                timeout,
            )
        except asyncio.TimeoutError as exc:
            raise ConnectTimeout(f"could not connect to {pool.host}:{pool.port} within {timeout} s") from exc
        except OSError as exc:
            raise _ConnectFailed(f"could not connect to {pool.host}:{pool.port}: {exc}") from exc
        pool.in_use += 1
        return connection, False

    def _discard(self, pool: _Pool, connection: _Connection) -> None:
        connection.abort()
        self._release(pool, None)

    def _release(self, pool: _Pool, connection: _Connection | None) -> None:
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
        for pool in self._pools.values():
            while pool.idle:
                pool.idle.pop().abort()
        self._pools.clear()


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())

