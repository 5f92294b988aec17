"""The sync client's standard transport: ``requests`` (urllib3 pools), or a session passed in.

Imported only when a ``ConductorClient`` needs ``requests``: a session passed in, the standard
transport, or a proxy. The lean transport alone never loads it (see ``_lean_sync``).

The body is streamed (``stream=True``) into one ``BodyCollector`` (``_http11``): read against
``max_response_bytes`` and decoded there, as on the lean transport, so it is never buffered more
often than there (urllib3 would otherwise hold the raw body, its decoded copy and requests' joined
``content``). A session's adapter that fills ``content`` itself (a test seam) has its content
checked against the limit.

requests never sends a request twice here: the session's adapters are built with
``max_retries=0`` (urllib3 re-sends nothing), and urllib3 checks an idle pooled connection for a
close before it writes on it.

The whole-answer deadline (``BoundedHTTPAdapter``): urllib3 applies the read timeout to each
``recv``, so a server that sends a byte now and then keeps a call open for as long as it likes.
The adapter is requests' ``HTTPAdapter`` with one change: from the moment a request has been sent,
the read timeout is a deadline for the whole answer (status line, headers and body). Each read on
the socket waits at most the time left; at the deadline the read raises ``TimeoutError``
(``socket.timeout``), which urllib3 and requests report as they report any read timeout
(``ReadTimeout``, or a ``ConnectionError`` wrapping ``ReadTimeoutError`` while the body is read),
and urllib3 closes that connection instead of pooling it. It plugs in through names urllib3 and
the standard library expose without a leading underscore (``PoolManager.pool_classes_by_scheme``,
``HTTPConnectionPool.ConnectionCls``, ``HTTPConnection.response_class`` and the read timeout urllib3
2 leaves in ``HTTPConnection.timeout``); neither library offers a documented hook for it, so
``tests/client/test_answer_deadline.py`` guards it on every run. A SOCKS proxy keeps urllib3's
per-read timeout (its connection classes come from the optional PySocks integration), and so does
urllib3 1.x, which does not hand the read timeout to the connection (requests allows either major
version).

Runs on the calling thread; a ``requests.Session`` may be shared by threads, and a connection (and
so its deadline) belongs to one thread at a time.
"""

from __future__ import annotations

import functools
import http.client
import io
import os
import socket
import time
from collections.abc import Mapping
from typing import Any

import requests
import requests.adapters
import requests.utils
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
import urllib3.response

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

__all__ = ["BoundedHTTPAdapter", "SessionExchange", "build_session"]


def build_session(configuration: Configuration, pool_size: int) -> requests.Session:
    """A session for one server: keep-alive pool, no retries, environment read once (proxies, CA).

    Its adapter is ``BoundedHTTPAdapter`` (requests' own, with the whole-answer deadline). TLS
    trusts what ``trusted_cas`` says (checked now: a bundle that cannot be loaded raises
    ``ConfigurationError``).
    """
    api_root = configuration.server_api_url
    session = requests.Session()
    # trust_env makes requests re-read proxy variables and netrc on every request; read them once.
    session.trust_env = False
    proxies = requests.utils.get_environ_proxies(api_root)
    session.proxies.update(proxies)
    adapter = BoundedHTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    cas = trusted_cas(configuration.ssl_ca_cert, os.environ)
    if cas is not None:
        path, source = cas
        if api_root.startswith("https://"):
            tls_context(path, source)  # fails now, naming the source, rather than on the first call
        session.verify = path
    session.headers["User-Agent"] = f"conductor-actors/{__version__} python-requests/{requests.__version__}"
    return session


def _read_timed_out(exc: requests.ConnectionError) -> bool:
    """requests reports a read timeout while reading the body as a ConnectionError."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, urllib3.exceptions.ReadTimeoutError)


class SessionExchange:
    """Sends requests through one ``requests.Session`` with the client's connect timeout.

    ``settings_fixed``: the session was built by ``build_session`` and no one else changes it.
    """

    def __init__(
        self, session: requests.Session, api_root: str, connect_timeout: float, max_body: int,
        *, settings_fixed: bool = False,
    ) -> None:
        self.session = session
        self._api_root = api_root
        self._connect_timeout = connect_timeout
        self._max_body = max_body
        # Session.request merges the session's proxies, verify and cert (and, when it trusts the
        # environment, the environment's) into every call. A session of build_session does not
        # trust the environment and is not changed after it is built, so that merge always gives
        # the same answer: made once, it saves about 8% of the CPU of a call.
        self._settings = self._merged_settings(api_root) if settings_fixed else None

    def _merged_settings(self, url: str) -> Mapping[str, Any]:
        """What ``Session.request`` passes on to ``Session.send`` for a streamed call to ``url``."""
        return self.session.merge_environment_settings(url, {}, True, None, None)

    def send(self, request: HttpRequest, token: str | None, read_timeout: float) -> tuple[int, bytes]:
        """One exchange through the session (``Session.request``'s steps); the whole answer is read (within
        ``max_body``) and the response released.

        No answer raises the client's transport error (a timeout as ``ConductorTimeoutError``, a
        body over the limit as ``ResponseTooLargeError``).
        """
        connect_timeout = self._connect_timeout
        headers = request.headers(token)
        headers["Accept-Encoding"] = ACCEPT_ENCODING  # what BodyCollector decodes
        session = self.session
        try:
            # Session.request's own steps, with the merged settings made once when they cannot change.
            url = self._api_root + request.target
            prepared = session.prepare_request(
                requests.Request(request.method, url, data=request.body or {}, headers=headers)
            )
            response = session.send(
                prepared,
                timeout=(connect_timeout, read_timeout),
                allow_redirects=False,
                **(self._settings or self._merged_settings(url)),
            )
            try:
                return response.status_code, _read_body(response, self._max_body)
            finally:
                response.close()
        except requests.ConnectTimeout as exc:
            raise connect_timeout_error(request, connect_timeout, str(exc)) from exc
        except requests.Timeout as exc:
            raise read_timeout_error(request, read_timeout, str(exc)) from exc
        except requests.ConnectionError as exc:
            if _read_timed_out(exc):
                raise read_timeout_error(request, read_timeout, str(exc)) from exc
            raise transport_error(request, f"connection failed ({exc})", timed_out=False) from exc
        except requests.RequestException as exc:
            raise transport_error(request, f"{type(exc).__name__}: {exc}", timed_out=False) from exc
        except ProtocolError as exc:  # BodyTooLarge among them
            raise broken_answer_error(request, exc) from exc


def _read_body(response: requests.Response, limit: int) -> bytes:
    """The response's whole body, decoded, within ``limit`` bytes (``BodyTooLarge`` past it).

    Raises requests' errors for a connection that fails while the body is read.
    """
    raw = response.raw
    if not isinstance(raw, urllib3.response.HTTPResponse):  # an adapter that filled the content itself
        return whole_body(response.content, limit)
    collector = body_collector(response.headers, limit)
    try:
        for chunk in raw.stream(_CHUNK, decode_content=False):
            collector.add(chunk)
    except (urllib3.exceptions.HTTPError, OSError) as exc:  # as requests' own iter_content reports it
        raise requests.ConnectionError(exc) from exc
    return collector.finish()


#: Bytes asked of the socket per read of a streamed body.
_CHUNK = 256 * 1024


# ----------------------------------------------------------------------------------------------
# The whole-answer deadline (see the module)


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
