"""requests' own transport (urllib3 pools) with a read timeout that bounds the whole answer.

Why: urllib3 applies the read timeout to each ``recv``, so a server that sends a byte now and then
keeps a call open for as long as it likes. ``BoundedHTTPAdapter`` is requests' ``HTTPAdapter``
with one change: from the moment a request has been sent, the read timeout is a deadline for the
whole answer (status line, headers and body). Each read on the socket waits at most the time left;
at the deadline the read raises ``TimeoutError`` (``socket.timeout``), which urllib3 and requests report as they
report any read timeout (``ReadTimeout``, or a ``ConnectionError`` wrapping ``ReadTimeoutError``
while the body is read), and urllib3 closes that connection instead of pooling it.

Used by the sync client when the standard transport is asked for (or a proxy applies). A SOCKS
proxy keeps urllib3's per-read timeout (its connection classes come from the optional PySocks
integration), and so does urllib3 1.x, which does not hand the read timeout to the connection
(requests allows either major version).

Thread-safety: as requests' ``HTTPAdapter``; a connection (and so its deadline) belongs to one
thread at a time.
"""

from __future__ import annotations

import functools
import http.client
import io
import socket
import time
from typing import Any

import requests.adapters
import urllib3.connection
import urllib3.connectionpool

__all__ = ["BoundedHTTPAdapter"]


class _DeadlineReader(io.RawIOBase):
    """Reads a socket, each read waiting at most until ``deadline`` (monotonic seconds)."""

    def __init__(self, sock: socket.socket, deadline: float, budget: float) -> None:
        super().__init__()
        self._sock = sock
        # makefile keeps the socket open while the answer is read, even after http.client closes
        # its connection for a "Connection: close" answer.
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline
        self._budget = budget
        self._per_read = sock.gettimeout()

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._raw.fileno()

    def readinto(self, buffer: Any) -> int | None:
        """One read; raises ``TimeoutError`` once the deadline has passed (or passes during it)."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"the answer did not finish within {self._budget} s")
        self._sock.settimeout(remaining if self._per_read is None else min(remaining, self._per_read))
        try:
            return self._raw.readinto(buffer)
        finally:
            try:
                self._sock.settimeout(self._per_read)  # the next request's send uses the socket too
            except OSError:
                pass  # closed meanwhile: nothing to restore

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _DeadlineSocket:
    """What ``http.client.HTTPResponse`` needs of a socket: ``makefile``, here with a deadline."""

    def __init__(self, sock: socket.socket, deadline: float, budget: float) -> None:
        self._sock, self._deadline, self._budget = sock, deadline, budget

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline, self._budget))


class _DeadlineResponse(http.client.HTTPResponse):
    """An ``http.client`` response read through a ``_DeadlineReader``."""

    def __init__(
        self, sock: socket.socket, debuglevel: int = 0, method: str | None = None, url: str | None = None,
        *, deadline: float, budget: float,
    ) -> None:
        super().__init__(_DeadlineSocket(sock, deadline, budget), debuglevel, method, url)  # type: ignore[arg-type]


class _AnswerDeadline:
    """Connection mixin: the read timeout urllib3 set for this request becomes the answer's deadline."""

    timeout: Any
    response_class: Any

    def getresponse(self) -> Any:
        budget = self.timeout  # urllib3 sets the read timeout here just before reading the answer
        if not isinstance(budget, (int, float)) or isinstance(budget, bool) or budget <= 0:
            return super().getresponse()  # type: ignore[misc]
        # http.client builds the response with self.response_class(sock, ...); only for this answer.
        self.response_class = functools.partial(
            _DeadlineResponse, deadline=time.monotonic() + budget, budget=budget
        )
        try:
            return super().getresponse()  # type: ignore[misc]
        finally:
            del self.response_class


class _BoundedHTTPConnection(_AnswerDeadline, urllib3.connection.HTTPConnection):
    pass


class _BoundedHTTPSConnection(_AnswerDeadline, urllib3.connection.HTTPSConnection):
    pass


class _BoundedHTTPConnectionPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _BoundedHTTPConnection


class _BoundedHTTPSConnectionPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _BoundedHTTPSConnection


_POOL_CLASSES: dict[str, type[urllib3.connectionpool.HTTPConnectionPool]] = {
    "http": _BoundedHTTPConnectionPool,
    "https": _BoundedHTTPSConnectionPool,
}
#: urllib3 2 sets ``connection.timeout`` to the read timeout before reading the answer; 1.x does not.
_SUPPORTED = int(urllib3.__version__.split(".")[0]) >= 2


class BoundedHTTPAdapter(requests.adapters.HTTPAdapter):
    """``requests.adapters.HTTPAdapter`` whose read timeout bounds the whole answer (see the module)."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        if _SUPPORTED:
            self.poolmanager.pool_classes_by_scheme = dict(_POOL_CLASSES)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if _SUPPORTED and not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_POOL_CLASSES)
        return manager
