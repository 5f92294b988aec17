"""``LeanAdapter``: the lean sync transport (``_lean_sync``) plugged into a ``requests.Session``.

``ConductorClient`` talks to its lean pool directly and never needs this; it is for a session that
should send through the lean transport like any mounted adapter (one pool per origin).

Thread-safe: pools are created under a lock; each pool is thread-safe.
"""

from __future__ import annotations

import io
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
from requests.structures import CaseInsensitiveDict

from ._config import DEFAULT_MAX_RESPONSE_BYTES
from ._http11 import ACCEPT_ENCODING, ConnectTimeout, ProtocolError, origin_of
from ._lean_sync import LeanConnectionPool, pool_for_origin

__all__ = ["LeanAdapter"]

#: Set by the pool, or (Accept-Encoding) replaced by what the lean transport decodes.
_SKIPPED_HEADERS = frozenset({"host", "content-length", "connection", "transfer-encoding", "accept-encoding"})


class LeanAdapter(requests.adapters.BaseAdapter):
    """A ``requests`` transport adapter over ``LeanConnectionPool`` (one pool per origin)."""

    def __init__(self, pool_maxsize: int = 10, max_body: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        super().__init__()
        self.pool_maxsize = pool_maxsize
        self.max_body = max_body
        self._pools: dict[tuple[str, str, int, Any], LeanConnectionPool] = {}
        self._lock = threading.Lock()

    def _pool(self, scheme: str, host: str, port: int, verify: Any) -> LeanConnectionPool:
        key = (scheme, host, port, verify if isinstance(verify, str) else bool(verify))
        pool = self._pools.get(key)
        if pool is None:
            with self._lock:
                pool = self._pools.get(key)
                if pool is None:
                    pool = self._pools[key] = pool_for_origin(
                        scheme, host, port, verify, self.pool_maxsize, self.max_body
                    )
        return pool

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        scheme, host, port = origin_of(url)
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        connect_timeout, read_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _SKIPPED_HEADERS]
        headers.append(("Accept-Encoding", ACCEPT_ENCODING))
        body = request.body.encode("utf-8") if isinstance(request.body, str) else request.body
        pool = self._pool(scheme, host, port, verify)
        try:
            reader = pool.request(request.method or "GET", target, headers, body, connect_timeout, read_timeout)
        except ConnectTimeout as exc:
            raise requests.exceptions.ConnectTimeout(exc, request=request) from exc
        except TimeoutError as exc:
            raise requests.exceptions.ReadTimeout(exc, request=request) from exc
        except (OSError, ProtocolError) as exc:
            raise requests.exceptions.ConnectionError(exc, request=request) from exc
        response = requests.Response()
        response.status_code = reader.status
        response.reason = reader.reason
        response.headers = CaseInsensitiveDict(reader.headers)
        response.raw = io.BytesIO(reader.body)  # read whole: requests takes .content from it
        response.url = request.url or ""
        response.request = request
        response.connection = self  # type: ignore[assignment]
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        return response

    def connections_in_use(self) -> int:
        """Connections currently carrying a request (0 when every response was read and released)."""
        return sum(pool.in_use for pool in list(self._pools.values()))

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
