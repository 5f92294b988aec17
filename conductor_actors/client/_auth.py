"""Token state and schedule for key/secret authentication, without I/O.

``TokenSchedule`` decides, before each request, whether the client may send it with the token it
holds, must fetch a token first (``POST /token``), or must send it without a header (the server
has no auth). The clients do the fetching and tell the schedule what happened:

- ``fetched(token)``: a new token; it is used until it is ``ttl_seconds`` old.
- ``failed(error)``: the fetch failed, or a brand-new token was refused at once. Fetching backs off
  1, 2, 4 ... s (capped at 60 s); until then ``decide()`` raises a fresh copy of that error without
  anyone contacting the server. ``accepted()`` (a response that was not a token rejection) resets
  the count of consecutive failures.
- ``rejected(token)``: the server said the token expired or is invalid; the next ``decide()`` asks
  for a fetch (no backoff) unless another caller already replaced that token.
- ``disable()``: ``/token`` answered 404: no token is asked for again, no header is sent.

``call_flow`` is the part of every authenticated call that both clients share: take a token, send,
and on a refreshable 401/403 drop that token, take a new one and replay the request once. It is a
generator that yields what it needs (a token, or an exchange) and receives the answers, so the sync
and async clients only do the I/O.

The clock is injectable (seconds, monotonic) so the schedule is tested without waiting. Every
method takes a short internal lock, so threads may share one schedule; the clients additionally
serialise the token *fetch* (a ``threading.Lock`` or an ``asyncio.Lock``) so one caller fetches
while the others wait for its token. The token never appears in ``repr``, and no log line here
holds it or the secret.
"""

from __future__ import annotations

import copy
import enum
import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from ._calls import Call
from ._errors import AuthorizationError, ConductorError, NotFoundError, http_error_for

__all__ = [
    "NEED_TOKEN",
    "Send",
    "TokenAction",
    "TokenDecision",
    "TokenSchedule",
    "call_flow",
    "record_fetch_error",
    "refreshable_rejection",
]

logger = logging.getLogger("conductor_actors.client")

T = TypeVar("T")

FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0
#: Beyond this exponent the delay is capped anyway (avoids float overflow after many failures).
_MAX_EXPONENT = 32


class TokenAction(enum.Enum):
    SEND = "send"  # send the request; with ``token`` as X-Authorization unless it is None
    FETCH = "fetch"  # fetch a token first


@dataclass(frozen=True)
class TokenDecision:
    action: TokenAction
    token: str | None = None

    def __repr__(self) -> str:
        shown = "None" if self.token is None else "'***'"
        return f"TokenDecision(action={self.action.name}, token={shown})"


_FETCH = TokenDecision(TokenAction.FETCH)
_SEND_WITHOUT_TOKEN = TokenDecision(TokenAction.SEND)


class TokenSchedule:
    """When to fetch a token and which one to send (see the module doc)."""

    def __init__(
        self,
        ttl_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        first_backoff: float = FIRST_BACKOFF_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
    ) -> None:
        if not ttl_seconds > 0 or not first_backoff > 0 or not max_backoff >= first_backoff:
            raise ValueError(
                f"token schedule needs ttl_seconds > 0 and 0 < first_backoff <= max_backoff, got "
                f"ttl_seconds={ttl_seconds}, first_backoff={first_backoff}, max_backoff={max_backoff}"
            )
        self._ttl = ttl_seconds
        self._clock = clock
        self._first_backoff = first_backoff
        self._max_backoff = max_backoff
        self._lock = threading.Lock()
        self._token: str | None = None
        self._fetched_at = 0.0
        self._failures = 0
        self._backoff_until = 0.0
        self._last_error: ConductorError | None = None
        self._disabled = False

    @property
    def disabled(self) -> bool:
        """True once ``/token`` answered 404: the server has no auth."""
        return self._disabled

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    @property
    def backoff_until(self) -> float:
        """Clock time before which no fetch is attempted (0 when not backing off)."""
        return self._backoff_until

    def decide(self) -> TokenDecision:
        """What to do before sending a request.

        Raises a fresh copy of the last token error while backing off after failures.
        """
        with self._lock:
            if self._disabled:
                return _SEND_WITHOUT_TOKEN
            now = self._clock()
            if self._token is not None and now - self._fetched_at < self._ttl:
                return TokenDecision(TokenAction.SEND, self._token)
            if self._last_error is not None and now < self._backoff_until:
                raise copy.copy(self._last_error)
            return _FETCH

    def fetched(self, token: str) -> None:
        """A new token arrived; it is used until it is ``ttl_seconds`` old or refused."""
        with self._lock:
            self._token = token
            self._fetched_at = self._clock()
            self._backoff_until = 0.0
            self._last_error = None

    def failed(self, error: ConductorError) -> float:
        """Fetching failed (or a new token was refused at once). Returns the backoff delay in seconds."""
        with self._lock:
            self._failures += 1
            exponent = min(self._failures - 1, _MAX_EXPONENT)
            delay = min(self._max_backoff, self._first_backoff * 2.0**exponent)
            self._token = None
            self._backoff_until = self._clock() + delay
            self._last_error = error
            return delay

    def rejected(self, token: str) -> None:
        """The server refused ``token`` as expired or invalid: fetch a new one unless already replaced."""
        with self._lock:
            if self._token == token:
                self._token = None

    def accepted(self) -> None:
        """A request went through without a token rejection: the failure count starts again."""
        if self._failures:
            with self._lock:
                self._failures = 0

    def disable(self) -> None:
        """The server has no ``/token``: stop asking and send requests without a token."""
        with self._lock:
            self._disabled = True
            self._token = None
            self._last_error = None

    def __repr__(self) -> str:
        state = "disabled" if self._disabled else ("has token" if self._token else "no token")
        return f"TokenSchedule({state}, failures={self._failures}, ttl_seconds={self._ttl})"


def record_fetch_error(schedule: TokenSchedule, error: ConductorError) -> bool:
    """Tell ``schedule`` that fetching a token raised ``error``.

    Returns True when the error was a 404 (the server has no auth: auth is now disabled and the
    caller sends its request without a token); False when the caller must raise ``error`` (the
    schedule now backs off).
    """
    if isinstance(error, NotFoundError):
        if not schedule.disabled:
            logger.warning(
                "the server answered 404 to POST /token: it has no authentication; "
                "sending requests without a token from now on"
            )
        schedule.disable()
        return True
    delay = schedule.failed(error)
    logger.warning(
        "could not get a working auth token (%d failure(s) in a row), next attempt in %.0f s: %s",
        schedule.consecutive_failures, delay, error,
    )
    return False


def refreshable_rejection(status: int, body: bytes, *, method: str, path: str) -> AuthorizationError | None:
    """The ``AuthorizationError`` when a 401/403 says the token expired or is invalid, else ``None``."""
    if status not in (401, 403):
        return None
    error = http_error_for(status, body, method=method, path=path)
    if isinstance(error, AuthorizationError) and error.token_refreshable:
        return error
    return None


class _NeedToken:
    """Yielded by ``call_flow``: send back the token to use (``str``) or ``None`` for no header."""

    def __repr__(self) -> str:
        return "NEED_TOKEN"


NEED_TOKEN = _NeedToken()


@dataclass(frozen=True)
class Send:
    """Yielded by ``call_flow``: send the call's request with this token; send back ``(status, body)``."""

    token: str | None

    def __repr__(self) -> str:
        return f"Send(token={'None' if self.token is None else repr('***')})"


def call_flow(schedule: TokenSchedule, call: Call[T]) -> Generator[Any, Any, T]:
    """One authenticated call, as a generator driven by a client.

    Yields ``NEED_TOKEN`` (answer: the token or ``None``) and ``Send(token)`` (answer:
    ``(status, body)``); returns the call's result or raises from ``call.result``. A refreshable
    401/403 drops the token and replays the request once with a new one; if that new token is refused
    too, the schedule backs off (so a server that refuses every token is not asked in a loop) and
    the ``AuthorizationError`` is raised. Exceptions from the client's own steps (a failed token
    fetch, a transport error) are raised by the client; the generator is then simply dropped.
    """
    request = call.request
    for replay in (False, True):
        token = yield NEED_TOKEN
        status, body = yield Send(token)
        if token is None:
            break
        rejection = refreshable_rejection(status, body, method=request.method, path=request.path)
        if rejection is None:
            schedule.accepted()
            break
        if replay:
            record_fetch_error(schedule, rejection)
        else:
            logger.info("%s %s: the token was refused (%s); fetching a new one and replaying once",
                        request.method, request.path, rejection.error_code)
            schedule.rejected(token)
    return call.result(status, body)
