"""The async client's standard transport: ``httpx`` (its own transport, one passed in, or a client passed in).

Imported only when an ``AsyncConductorClient`` needs ``httpx``: an ``http_client`` or ``transport``
passed in, the standard transport, or a proxy. The lean transport alone never loads it (see
``_lean_async``).

The body is streamed into one ``BodyCollector`` (``_http11``): read against
``max_response_bytes`` and decoded there, as on the lean transport, so it is never buffered more
often than there. A response whose body a transport already read (``httpx.MockTransport``, a
transport of the caller's) has its content checked against the limit.

The client's own transport (``ShardedTransport``) holds its ``pool_size`` keep-alive connections as
several small httpcore pools, whose upkeep per request is much cheaper than one large pool's.

httpx never sends a request twice here: every pool is built with ``retries=0`` (which covers
connection attempts only), and httpcore checks an idle connection for a close before it writes on
it; a request that failed once written goes to the caller.

The whole-answer deadline (``AnswerDeadline``): httpx (httpcore) applies the read timeout to each
network read, so a server that sends a byte now and then keeps a call open for as long as it
likes. ``AnswerDeadline`` bounds the whole answer with public httpx hooks only: its ``trace``
callback (the ``trace`` request extension) starts a loop timer once the request has been sent, and
at the deadline the timer cancels the task making the call. The exchange turns that cancellation
into a timeout with ``absorb_cancel``; httpcore closes a connection whose answer was cut short, so
it is never reused.

Runs on the event loop that uses the client.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx

from .._version import __version__
from ._calls import HttpRequest, broken_answer_error, connect_timeout_error, read_timeout_error, transport_error
from ._config import Configuration
from ._http11 import (
    ACCEPT_ENCODING,
    ProtocolError,
    body_collector,
    tls_context,
    trusted_cas,
    whole_body,
)

__all__ = ["AnswerDeadline", "HttpxExchange", "ShardedTransport", "build_http_client"]


def _remember_that_sniffio_is_missing() -> None:
    """Make a missing ``sniffio`` fail to import at once instead of after a search of ``sys.path``.

    httpcore 1.x imports ``sniffio`` inside every lock, event and semaphore it sets up (several per
    request) and runs on asyncio when that import fails. Since anyio stopped depending on it,
    ``sniffio`` is often not installed, and Python does not remember a failed import: each attempt
    searches every ``sys.path`` entry again, about a third of the CPU a no-op async worker spends on
    this transport (encode/httpcore#1103). ``None`` in ``sys.modules`` is the import system's own
    record of "not importable": every later ``import sniffio`` raises ``ImportError`` as before, only
    without the search. An installed ``sniffio`` is left alone.
    """
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]  # the documented "not importable" entry


_remember_that_sniffio_is_missing()


def build_http_client(
    configuration: Configuration, pool_size: int, transport: httpx.AsyncBaseTransport | None, proxy: str | None
) -> httpx.AsyncClient:
    """An AsyncClient for one server: ``transport`` when given, else httpx's own (HTTP/1.1, no retries,
    ``proxy`` when one applies, trusting the CA certificates ``trusted_cas`` names, read now)."""
    if transport is None:
        cas = trusted_cas(configuration.ssl_ca_cert, os.environ)
        verify = tls_context(*cas) if cas is not None else tls_context(True)
        transport = ShardedTransport(pool_size, verify, proxy)
    return httpx.AsyncClient(
        transport=transport,
        trust_env=False,
        follow_redirects=False,
        headers={"User-Agent": f"conductor-actors/{__version__} python-httpx/{httpx.__version__}"},
    )


#: Most connections of one httpcore pool (see ``ShardedTransport``).
_SHARD_SIZE = 8


class ShardedTransport(httpx.AsyncBaseTransport):
    """``pool_size`` keep-alive connections as several small ``httpx.AsyncHTTPTransport`` pools.

    Why: each time a request enters or leaves an httpcore pool, the pool walks all its connections,
    asks every idle one whether the server has closed it (a system call), and for each idle one
    counts the whole pool again, so the work per request grows with the square of the pool's size
    (100 coroutines of 50 ms tasks on one pool of 202 ran at a third of their speed on pools of 8).
    Pools of at most ``_SHARD_SIZE`` connections keep that walk short; together they hold
    ``pool_size`` connections, as one pool would.

    Each request goes to the pool with the fewest requests in flight (the first such pool, so a
    light load stays on the first pool's warm connections); it counts as in flight until its
    response is closed. Every pool is HTTP/1.1 without retries: httpx re-sends nothing. Runs on the
    event loop that uses it; an exception of the chosen pool goes to the caller.
    """

    def __init__(self, pool_size: int, verify: Any, proxy: str | None) -> None:
        count = -(-pool_size // _SHARD_SIZE)
        sizes = [pool_size // count + (1 if index < pool_size % count else 0) for index in range(count)]
        self.shards = [
            httpx.AsyncHTTPTransport(
                verify=verify,
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                http1=True,
                http2=False,
                retries=0,
                proxy=proxy,
            )
            for size in sizes
        ]
        self.in_flight = [0] * count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        in_flight = self.in_flight
        index = in_flight.index(min(in_flight))
        in_flight[index] += 1
        try:
            response = await self.shards[index].handle_async_request(request)
        except BaseException:
            in_flight[index] -= 1
            raise
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_InFlightStream(response.stream, in_flight, index),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for shard in self.shards:
            await shard.aclose()


class _InFlightStream(httpx.AsyncByteStream):
    """A shard's response body; closing it ends the request's count as in flight on that shard."""

    def __init__(self, stream: Any, in_flight: list[int], index: int) -> None:
        self._stream = stream
        self._in_flight = in_flight
        self._index: int | None = index

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._index is not None:
                self._in_flight[self._index] -= 1
                self._index = None


class HttpxExchange:
    """Sends requests through one ``httpx.AsyncClient`` with the client's timeouts (cached per long-poll time)."""

    def __init__(
        self, http: httpx.AsyncClient, api_root: str, connect_timeout: float, read_timeout: float, max_body: int
    ) -> None:
        self.http = http
        self._api_root = api_root
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_body = max_body
        self._timeouts: dict[float, httpx.Timeout] = {}

    def _timeout(self, read: float) -> httpx.Timeout:
        """The timeouts of a call whose whole answer may take ``read`` seconds."""
        timeout = self._timeouts.get(read)
        if timeout is None:
            timeout = httpx.Timeout(connect=self._connect_timeout, read=read, write=self._read_timeout, pool=read)
            if len(self._timeouts) < 64:  # a handful of distinct long-poll times in practice
                self._timeouts[read] = timeout
        return timeout

    async def send(self, request: HttpRequest, token: str | None, read_timeout: float) -> tuple[int, bytes]:
        """One exchange through ``AsyncClient.stream``; the whole answer within ``read_timeout`` and
        its body within ``max_body``.

        No answer raises the client's transport error (a timeout as ``ConductorTimeoutError``, a
        body over the limit as ``ResponseTooLargeError``).
        """
        timeout = self._timeout(read_timeout)
        deadline = AnswerDeadline(read_timeout)
        headers = request.headers(token)
        headers["Accept-Encoding"] = ACCEPT_ENCODING  # what BodyCollector decodes
        try:
            try:
                async with self.http.stream(
                    request.method,
                    self._api_root + request.target,
                    content=request.body,
                    headers=headers,
                    timeout=timeout,
                    extensions={"trace": deadline.trace},
                ) as response:
                    return response.status_code, await _read_body(response, self._max_body)
            except asyncio.CancelledError:
                if deadline.absorb_cancel():
                    raise httpx.ReadTimeout("the answer did not finish in time") from None
                raise
            finally:
                deadline.disarm()
        except httpx.ConnectTimeout as exc:
            raise connect_timeout_error(request, timeout.connect, repr(exc)) from exc
        except httpx.TimeoutException as exc:
            raise read_timeout_error(request, timeout.read, type(exc).__name__) from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise transport_error(
                request, f"connection failed ({type(exc).__name__}: {exc})", timed_out=False
            ) from exc
        except ProtocolError as exc:  # BodyTooLarge among them
            raise broken_answer_error(request, exc) from exc


async def _read_body(response: httpx.Response, limit: int) -> bytes:
    """The response's whole body, decoded, within ``limit`` bytes (``BodyTooLarge`` past it)."""
    if response.is_stream_consumed:  # a transport that read (and decoded) the body itself
        return whole_body(response.content, limit)
    collector = body_collector(response.headers, limit)
    async for chunk in response.aiter_raw():
        collector.add(chunk)
    return collector.finish()


# ----------------------------------------------------------------------------------------------
# The whole-answer deadline (see the module)

#: The trace event httpcore sends once a request has gone out and the answer is awaited.
_ANSWER_AWAITED = "http11.receive_response_headers.started"


class AnswerDeadline:
    """Cancels the calling task if the answer is not complete ``budget`` seconds after the request was sent.

    Use::

        deadline = AnswerDeadline(budget)
        try:
            response = await client.request(..., extensions={"trace": deadline.trace})
        except asyncio.CancelledError:
            if deadline.absorb_cancel():
                raise <a timeout error> from None
            raise
        finally:
            deadline.disarm()
    """

    __slots__ = ("_budget", "_loop", "_task", "_timer", "expired")

    def __init__(self, budget: float) -> None:
        self._budget = budget
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._timer: asyncio.TimerHandle | None = None
        self.expired = False

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpx ``trace`` extension: arms the timer when the answer starts to be awaited (once)."""
        if event == _ANSWER_AWAITED and self._timer is None and self._task is not None:
            self._timer = self._loop.call_later(self._budget, self._expire)

    def _expire(self) -> None:
        self.expired = True
        assert self._task is not None
        self._task.cancel()

    def disarm(self) -> None:
        """Stop the timer (the call is over, one way or another)."""
        if self._timer is not None:
            self._timer.cancel()

    def absorb_cancel(self) -> bool:
        """After a ``CancelledError``: True when it was this deadline's own cancellation, now consumed.

        False when the deadline did not fire, or (Python 3.11+) when someone else cancelled the
        task as well: then the cancellation must go on.
        """
        if not self.expired:
            return False
        uncancel = getattr(self._task, "uncancel", None)  # Python 3.11+
        return uncancel is None or uncancel() == 0
