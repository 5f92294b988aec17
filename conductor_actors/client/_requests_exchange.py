"""The sync client's exchanges through ``requests`` (its own adapter, or a session passed in).

Imported only when a ``ConductorClient`` needs ``requests``: a session passed in, the standard
transport, or a proxy. The lean transport alone never loads it (see ``_lean_sync``).

The body is streamed (``stream=True``) into one ``BodyCollector`` (``_http11``): read against
``max_response_bytes`` and decoded there, as on the lean transport, so it is never buffered more
often than there (urllib3 would otherwise hold the raw body, its decoded copy and requests' joined
``content``). A session's adapter that fills ``content`` itself (the lean adapter, a test seam) has
its content checked against the limit.

requests never sends a request twice here: the session's adapters are built with
``max_retries=0`` (urllib3 re-sends nothing), and urllib3 checks an idle pooled connection for a
close before it writes on it.

Runs on the calling thread; a ``requests.Session`` may be shared by threads.
"""

from __future__ import annotations

import os

import requests
import requests.adapters
import requests.utils
import urllib3.exceptions
import urllib3.response

from .._version import __version__
from ._bounded_requests import BoundedHTTPAdapter
from ._config import Configuration
from ._http11 import ACCEPT_ENCODING, BodyCollector, BodyTooLarge, ProtocolError, tls_context, trusted_cas
from ._lean_requests import LeanAdapter
from ._wire import HttpRequest, too_large_error, transport_error

__all__ = ["SessionExchange", "build_session"]


def build_session(configuration: Configuration, pool_size: int) -> requests.Session:
    """A session for one server: keep-alive pool, no retries, environment read once (proxies, CA).

    The lean adapter is mounted unless the standard transport is asked for or a proxy applies.
    TLS trusts what ``trusted_cas`` says (checked now: a bundle that cannot be loaded raises
    ``ConfigurationError``).
    """
    api_root = configuration.server_api_url
    session = requests.Session()
    # trust_env makes requests re-read proxy variables and netrc on every request; read them once.
    session.trust_env = False
    proxies = requests.utils.get_environ_proxies(api_root)
    session.proxies.update(proxies)
    adapter: requests.adapters.BaseAdapter
    if configuration.http_transport == "lean" and not proxies:
        adapter = LeanAdapter(pool_maxsize=pool_size, max_body=configuration.max_response_bytes)
    else:
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
    """Sends requests through one ``requests.Session`` with the client's connect timeout."""

    def __init__(self, session: requests.Session, api_root: str, connect_timeout: float, max_body: int) -> None:
        self.session = session
        self._api_root = api_root
        self._connect_timeout = connect_timeout
        self._max_body = max_body

    def send(self, request: HttpRequest, token: str | None, read_timeout: float) -> tuple[int, bytes]:
        """One exchange through ``Session.request``; the whole answer is read (within
        ``max_body``) and the response released.

        No answer raises the client's transport error (a timeout as ``ConductorTimeoutError``, a
        body over the limit as ``ResponseTooLargeError``).
        """
        connect_timeout = self._connect_timeout
        headers = request.headers(token)
        headers["Accept-Encoding"] = ACCEPT_ENCODING  # what BodyCollector decodes
        try:
            response = self.session.request(
                request.method,
                self._api_root + request.target,
                data=request.body,
                headers=headers,
                timeout=(connect_timeout, read_timeout),
                allow_redirects=False,
                stream=True,
            )
            try:
                return response.status_code, _read_body(response, self._max_body)
            finally:
                response.close()
        except requests.ConnectTimeout as exc:
            raise transport_error(
                request, f"could not connect within {connect_timeout} s ({exc})", timed_out=True
            ) from exc
        except requests.Timeout as exc:
            raise transport_error(
                request, f"no complete answer within {read_timeout} s ({exc})", timed_out=True
            ) from exc
        except requests.ConnectionError as exc:
            if exc.args and isinstance(exc.args[0], BodyTooLarge):  # from the lean adapter
                raise too_large_error(request, exc.args[0]) from exc
            if _read_timed_out(exc):
                raise transport_error(
                    request, f"the answer did not finish within {read_timeout} s ({exc})", timed_out=True
                ) from exc
            raise transport_error(request, f"connection failed ({exc})", timed_out=False) from exc
        except requests.RequestException as exc:
            raise transport_error(request, f"{type(exc).__name__}: {exc}", timed_out=False) from exc
        except BodyTooLarge as exc:
            raise too_large_error(request, exc) from exc
        except ProtocolError as exc:
            raise transport_error(request, f"broken answer ({exc})", timed_out=False) from exc


def _read_body(response: requests.Response, limit: int) -> bytes:
    """The response's whole body, decoded, within ``limit`` bytes (``BodyTooLarge`` past it).

    Raises requests' errors for a connection that fails while the body is read.
    """
    raw = response.raw
    if not isinstance(raw, urllib3.response.HTTPResponse):  # an adapter that filled the content itself
        content = response.content
        if len(content) > limit:
            raise BodyTooLarge(limit, len(content), declared=False)
        return content
    collector = BodyCollector(limit, response.headers.get("Content-Encoding", ""))
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit():
        collector.declare(int(declared))
    try:
        for chunk in raw.stream(_CHUNK, decode_content=False):
            collector.add(chunk)
    except (urllib3.exceptions.HTTPError, OSError) as exc:  # as requests' own iter_content reports it
        raise requests.ConnectionError(exc) from exc
    return collector.finish()


#: Bytes asked of the socket per read of a streamed body.
_CHUNK = 256 * 1024
