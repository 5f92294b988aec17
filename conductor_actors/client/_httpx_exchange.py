"""The async client's exchanges through ``httpx`` (its own transport, one passed in, or a client passed in).

Imported only when an ``AsyncConductorClient`` needs ``httpx``: an ``http_client`` or ``transport``
passed in, the standard transport, or a proxy. The lean transport alone never loads it (see
``_lean_async``).

The body is streamed into one ``BodyCollector`` (``_http11``): read against
``max_response_bytes`` and decoded there, as on the lean transport, so it is never buffered more
often than there. A response whose body a transport already read (``httpx.MockTransport``, the
lean transport plugged in) has its content checked against the limit.

httpx never sends a request twice here: the transport is built with ``retries=0`` (which covers
connection attempts only), and httpcore checks an idle connection for a close before it writes on
it; a request that failed once written goes to the caller.

Runs on the event loop that uses the client.
"""

from __future__ import annotations

import asyncio
import os

import httpx

from .._version import __version__
from ._bounded_httpx import AnswerDeadline
from ._config import Configuration
from ._http11 import ACCEPT_ENCODING, BodyCollector, BodyTooLarge, ProtocolError, tls_context, trusted_cas
from ._wire import HttpRequest, too_large_error, transport_error

__all__ = ["HttpxExchange", "build_http_client"]


def build_http_client(
    configuration: Configuration, pool_size: int, transport: httpx.AsyncBaseTransport | None, proxy: str | None
) -> httpx.AsyncClient:
    """An AsyncClient for one server: ``transport`` when given, else httpx's own (HTTP/1.1, no retries,
    ``proxy`` when one applies, trusting the CA certificates ``trusted_cas`` names, read now)."""
    if transport is None:
        cas = trusted_cas(configuration.ssl_ca_cert, os.environ)
        transport = httpx.AsyncHTTPTransport(
            verify=tls_context(*cas) if cas is not None else tls_context(True),
            limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
            http1=True,
            http2=False,
            retries=0,
            proxy=proxy,
        )
    return httpx.AsyncClient(
        transport=transport,
        trust_env=False,
        follow_redirects=False,
        headers={"User-Agent": f"conductor-actors/{__version__} python-httpx/{httpx.__version__}"},
    )


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
            raise transport_error(
                request, f"could not connect within {timeout.connect} s ({exc!r})", timed_out=True
            ) from exc
        except httpx.TimeoutException as exc:
            raise transport_error(
                request, f"no complete answer within {timeout.read} s ({type(exc).__name__})", timed_out=True
            ) from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            if isinstance(exc.__cause__, BodyTooLarge):  # from the lean transport plugged into httpx
                raise too_large_error(request, exc.__cause__) from exc
            raise transport_error(
                request, f"connection failed ({type(exc).__name__}: {exc})", timed_out=False
            ) from exc
        except BodyTooLarge as exc:
            raise too_large_error(request, exc) from exc
        except ProtocolError as exc:
            raise transport_error(request, f"broken answer ({exc})", timed_out=False) from exc


async def _read_body(response: httpx.Response, limit: int) -> bytes:
    """The response's whole body, decoded, within ``limit`` bytes (``BodyTooLarge`` past it)."""
    if response.is_stream_consumed:  # a transport that read (and decoded) the body itself
        content = response.content
        if len(content) > limit:
            raise BodyTooLarge(limit, len(content), declared=False)
        return content
    collector = BodyCollector(limit, response.headers.get("content-encoding", ""))
    declared = response.headers.get("content-length", "")
    if declared.isdigit():
        collector.declare(int(declared))
    async for chunk in response.aiter_raw():
        collector.add(chunk)
    return collector.finish()
