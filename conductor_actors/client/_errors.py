"""The client's exception tree. Every failure of a Conductor call raises one of these.

::

    ConductorError                     .retryable: may the same call succeed if tried again?
    ├── ConductorTransportError        no HTTP answer: refused, reset, DNS, TLS (retryable)
    │   ├── ConductorTimeoutError      connect or read timed out (retryable)
    │   └── ResponseTooLargeError      the answer's body passed max_response_bytes (retryable)
    ├── ConductorHTTPError             the server answered non-2xx: .status, .message, .body
    │   ├── AuthorizationError         401 / 403 (.error_code e.g. EXPIRED_TOKEN)
    │   └── NotFoundError              404
    └── InvalidResponseError           a 2xx whose body is not what the protocol promises
                                        (non-JSON, truncated, wrong shape) (retryable)

``ConductorHTTPError.retryable`` is true for 5xx and 429 (and when the server's error body says
``"retryable": true``); every other 4xx is final. Exceptions never carry credentials or tokens.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "AuthorizationError",
    "ConductorError",
    "ConductorHTTPError",
    "ConductorTimeoutError",
    "ConductorTransportError",
    "InvalidResponseError",
    "NotFoundError",
    "ResponseTooLargeError",
    "http_error_for",
]

#: Longest body excerpt kept on an exception (bodies can be whole HTML pages).
_BODY_EXCERPT = 2000


class ConductorError(Exception):
    """Base of every client error. ``retryable`` says whether repeating the call may succeed."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable

    def __reduce__(self) -> Any:
        # Keep keyword-only state through pickling (errors travel to the parent process).
        return (_rebuild_error, (type(self), self.__dict__.copy(), self.args))


def _rebuild_error(cls: type[ConductorError], state: dict[str, Any], args: tuple[Any, ...]) -> ConductorError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class ConductorTransportError(ConductorError):
    """No HTTP response was received (connection refused or reset, DNS, TLS)."""

    retryable = True


class ConductorTimeoutError(ConductorTransportError):
    """Connecting or reading the response took longer than the configured timeout."""


class ResponseTooLargeError(ConductorTransportError):
    """The answer's body is larger than ``Configuration.max_response_bytes``: it was not read (or
    not read further), and the connection was closed.

    ``limit`` is that bound and ``size`` the body's size in bytes as far as it is known: the
    declared Content-Length when the server announced one over the limit, else how many bytes had
    arrived (or been decoded) when the limit was passed. Retryable: the next call gets a new answer.
    """

    def __init__(self, message: str, *, limit: int, size: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.size = size


class ConductorHTTPError(ConductorError):
    """The server answered with a non-2xx status.

    ``status`` is the HTTP status, ``message`` the server's ``message`` field when the body is the
    server's JSON error (otherwise a short description), ``body`` an excerpt of the raw body.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        body: str = "",
        method: str = "",
        path: str = "",
        retryable: bool | None = None,
        error_code: str | None = None,
    ) -> None:
        if retryable is None:
            retryable = status >= 500 or status == 429
        where = f" ({method} {path})" if method or path else ""
        super().__init__(f"HTTP {status}{where}: {message}", retryable=retryable)
        self.status = status
        self.server_message = message
        self.body = body[:_BODY_EXCERPT]
        self.method = method
        self.path = path
        self.error_code = error_code


class AuthorizationError(ConductorHTTPError):
    """401 or 403. ``error_code`` is the server's ``error`` field (``EXPIRED_TOKEN``, ``INVALID_TOKEN``...)."""

    @property
    def token_refreshable(self) -> bool:
        """True when a fresh token may fix it (the server said the token expired or is invalid)."""
        return self.error_code in ("EXPIRED_TOKEN", "INVALID_TOKEN")


class NotFoundError(ConductorHTTPError):
    """404: the resource (task, workflow, definition) or the endpoint does not exist."""


class InvalidResponseError(ConductorError):
    """A 2xx response whose body is not what the protocol promises (non-JSON, truncated, wrong shape)."""

    retryable = True

    def __init__(self, message: str, *, body: str = "", method: str = "", path: str = "") -> None:
        where = f" ({method} {path})" if method or path else ""
        super().__init__(f"invalid response{where}: {message}")
        self.body = body[:_BODY_EXCERPT]
        self.method = method
        self.path = path


def http_error_for(status: int, body: bytes, *, method: str = "", path: str = "") -> ConductorHTTPError:
    """Build the right ``ConductorHTTPError`` subclass from a non-2xx answer.

    Reads the server's ``ErrorResponse`` JSON (``message``, ``retryable``, ``error``) when present;
    any other body (HTML from a proxy, empty, truncated) gives a message naming the status.
    """
    text = body.decode("utf-8", "replace")
    message = ""
    retryable: bool | None = None
    error_code: str | None = None
    try:
        parsed = json.loads(text) if text else None
    except (ValueError, RecursionError):
        parsed = None
    if isinstance(parsed, dict):
        raw_message = parsed.get("message")
        if isinstance(raw_message, str):
            message = raw_message
        raw_code = parsed.get("error")
        if isinstance(raw_code, str):
            error_code = raw_code
        if parsed.get("retryable") is True and status >= 500:
            retryable = True
    if not message:
        message = _summarise_body(text) or "no error message in the response"
    cls: type[ConductorHTTPError]
    if status in (401, 403):
        cls = AuthorizationError
    elif status == 404:
        cls = NotFoundError
    else:
        cls = ConductorHTTPError
    return cls(
        status, message, body=text, method=method, path=path, retryable=retryable, error_code=error_code
    )


def _summarise_body(text: str) -> str:
    flat = " ".join(text.split())
    return flat[:200] + ("..." if len(flat) > 200 else "")
