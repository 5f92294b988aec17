"""The sync client's exchanges through ``requests`` (its own adapter, or a session passed in).

Imported only when a ``ConductorClient`` needs ``requests``: a session passed in, the standard
transport, or a proxy. The lean transport alone never loads it (see ``_lean_sync``).

Runs on the calling thread; a ``requests.Session`` may be shared by threads.
"""

from __future__ import annotations

import requests
import requests.adapters
import requests.utils
import urllib3.exceptions

from .._version import __version__
from ._bounded_requests import BoundedHTTPAdapter
from ._http11 import requests_ca_bundle
from ._lean_requests import LeanAdapter
from ._wire import HttpRequest, transport_error

__all__ = ["SessionExchange", "build_session"]


def build_session(api_root: str, pool_size: int, transport: str) -> requests.Session:
    """A session for one server: keep-alive pool, no retries, environment read once (proxies, CA).

    The lean adapter is mounted unless the standard transport is asked for or a proxy applies.
    """
    session = requests.Session()
    # trust_env makes requests re-read proxy variables and netrc on every request; read them once.
    session.trust_env = False
    proxies = requests.utils.get_environ_proxies(api_root)
    session.proxies.update(proxies)
    adapter: requests.adapters.BaseAdapter
    if transport == "lean" and not proxies:
        adapter = LeanAdapter(pool_maxsize=pool_size)
    else:
        adapter = BoundedHTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    ca_bundle = requests_ca_bundle()
    if ca_bundle:
        session.verify = ca_bundle
    session.headers["User-Agent"] = f"conductor-actors/{__version__} python-requests/{requests.__version__}"
    return session


def _read_timed_out(exc: requests.ConnectionError) -> bool:
    """requests reports a read timeout while reading the body as a ConnectionError."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, urllib3.exceptions.ReadTimeoutError)


class SessionExchange:
    """Sends requests through one ``requests.Session`` with the client's connect timeout."""

    def __init__(self, session: requests.Session, api_root: str, connect_timeout: float) -> None:
        self.session = session
        self._api_root = api_root
        self._connect_timeout = connect_timeout

    def send(self, request: HttpRequest, token: str | None, read_timeout: float) -> tuple[int, bytes]:
        """One exchange through ``Session.request``; the whole answer is read and the response released.

        No answer raises the client's transport error (a timeout as ``ConductorTimeoutError``).
        """
        connect_timeout = self._connect_timeout
        try:
            response = self.session.request(
                request.method,
                self._api_root + request.target,
                data=request.body,
                headers=request.headers(token),
                timeout=(connect_timeout, read_timeout),
                allow_redirects=False,
            )
        except requests.ConnectTimeout as exc:
            raise transport_error(
                request, f"could not connect within {connect_timeout} s ({exc})", timed_out=True
            ) from exc
        except requests.Timeout as exc:
            raise transport_error(
                request, f"no complete answer within {read_timeout} s ({exc})", timed_out=True
            ) from exc
        except requests.ConnectionError as exc:
            if _read_timed_out(exc):
                raise transport_error(
                    request, f"the answer did not finish within {read_timeout} s ({exc})", timed_out=True
                ) from exc
            raise transport_error(request, f"connection failed ({exc})", timed_out=False) from exc
        except requests.RequestException as exc:
            raise transport_error(request, f"{type(exc).__name__}: {exc}", timed_out=False) from exc
        try:
            return response.status_code, response.content
        finally:
            response.close()
