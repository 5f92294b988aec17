"""The async client's exchanges through ``httpx`` (its own transport, one passed in, or a client passed in).

Imported only when an ``AsyncConductorClient`` needs ``httpx``: an ``http_client`` or ``transport``
passed in, the standard transport, or a proxy. The lean transport alone never loads it (see
``_lean_async``).

Runs on the event loop that uses the client.
"""

from __future__ import annotations

import asyncio

import httpx

from .._version import __version__
from ._bounded_httpx import AnswerDeadline
from ._wire import HttpRequest, transport_error

__all__ = ["HttpxExchange", "build_http_client"]


def build_http_client(
    pool_size: int, transport: httpx.AsyncBaseTransport | None, proxy: str | None
) -> httpx.AsyncClient:
    """An AsyncClient for one server: ``transport`` when given, else httpx's own (HTTP/1.1, no retries,
    ``proxy`` when one applies, CA variables read now)."""
    if transport is None:
        transport = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
            http1=True,
            http2=False,
            retries=0,
            proxy=proxy,
            trust_env=True,  # SSL_CERT_FILE / SSL_CERT_DIR, read now
        )
    return httpx.AsyncClient(
        transport=transport,
        trust_env=False,
        follow_redirects=False,
        headers={"User-Agent": f"conductor-actors/{__version__} python-httpx/{httpx.__version__}"},
    )


class HttpxExchange:
    """Sends requests through one ``httpx.AsyncClient`` with the client's timeouts (cached per long-poll time)."""

    def __init__(self, http: httpx.AsyncClient, api_root: str, connect_timeout: float, read_timeout: float) -> None:
        self.http = http
        self._api_root = api_root
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
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
        """One exchange through ``AsyncClient.request``; the whole answer within ``read_timeout``.

        No answer raises the client's transport error (a timeout as ``ConductorTimeoutError``).
        """
        timeout = self._timeout(read_timeout)
        deadline = AnswerDeadline(read_timeout)
        try:
            try:
                response = await self.http.request(
                    request.method,
                    self._api_root + request.target,
                    content=request.body,
                    headers=request.headers(token),
                    timeout=timeout,
                    extensions={"trace": deadline.trace},
                )
            except asyncio.CancelledError:
                if deadline.absorb_cancel():
                    raise httpx.ReadTimeout("the answer did not finish in time") from None
                raise
            finally:
                deadline.disarm()
        except httpx.ConnectTimeout as exc:
            raise transport_error(
                request, f"could not connect within {timeout.connect} s ({exc!r})", timed_out=True
            ) from exc
        except httpx.TimeoutException as exc:
            raise transport_error(
                request, f"no complete answer within {timeout.read} s ({type(exc).__name__})", timed_out=True
            ) from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise transport_error(
                request, f"connection failed ({type(exc).__name__}: {exc})", timed_out=False
            ) from exc
        return response.status_code, response.content
