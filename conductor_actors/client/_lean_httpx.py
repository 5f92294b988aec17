"""``LeanAsyncTransport``: the lean async transport (``_lean_async``) as an ``httpx`` transport.

``AsyncConductorClient`` talks to its lean pools directly and never needs this; it is for an
``httpx.AsyncClient`` that should send through the lean transport like any transport.

Runs on the event loop that uses the client; not thread-safe (like ``httpx.AsyncClient``).
"""

from __future__ import annotations

from typing import Any

import httpx

from ._config import DEFAULT_MAX_RESPONSE_BYTES
from ._http11 import ACCEPT_ENCODING, ConnectTimeout, ProtocolError
from ._lean_async import ConnectFailed, LeanAsyncPools

__all__ = ["LeanAsyncTransport"]

#: Set by the pool, or (Accept-Encoding) replaced by what the lean transport decodes.
_SKIPPED_HEADERS = frozenset({b"host", b"content-length", b"connection", b"transfer-encoding", b"accept-encoding"})
#: Answer headers that describe the body as it travelled, not the decoded body handed to httpx.
_DECODED_AWAY = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class LeanAsyncTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` with one keep-alive pool per origin."""

    def __init__(self, pool_maxsize: int = 100, verify: Any = True, max_body: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        self.pools = LeanAsyncPools(pool_maxsize, verify, max_body)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        pool = self.pools.pool_of(scheme, url.host, url.port or (443 if scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                   if k.lower() not in _SKIPPED_HEADERS]
        headers.append(("Accept-Encoding", ACCEPT_ENCODING))
        body = await request.aread()
        read_timeout = timeouts.get("read")
        try:
            reader = await self.pools.exchange(
                pool, request.method, url.raw_path.decode("ascii"), headers, body or None,
                timeouts.get("connect"), read_timeout,
            )
        except ConnectTimeout as exc:
            raise httpx.ConnectTimeout(str(exc), request=request) from exc
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no complete answer within {read_timeout} s", request=request) from exc
        except ConnectFailed as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (OSError, ProtocolError) as exc:
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}", request=request) from exc
        # The body is already decoded and whole: its framing and encoding headers no longer apply
        # (httpx would decode it a second time).
        headers = [(k, v) for k, v in reader.headers.items() if k not in _DECODED_AWAY]
        return httpx.Response(
            reader.status, headers=headers, content=reader.body,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reader.reason.encode("latin-1")},
        )

    def connections_in_use(self) -> int:
        """Connections carrying a request now (0 when every response was read)."""
        return self.pools.connections_in_use()

    async def aclose(self) -> None:
        await self.pools.aclose()
