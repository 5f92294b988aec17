"""Optional token auth, the way Orkes does it: ``POST /api/token`` then ``X-Authorization``.

Tokens are random strings issued for the configured key id and secret. A token is valid for
``ttl_seconds`` after it was issued, or until :meth:`TokenAuthority.expire_all`. The secret and
the tokens never appear in a repr, a log line or an error message.

Thread-safe: ``expire_all`` may be called from any thread while the loop thread checks tokens.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable

__all__ = ["EXPIRED_TOKEN", "INVALID_TOKEN", "TokenAuthority"]

INVALID_TOKEN = "INVALID_TOKEN"
EXPIRED_TOKEN = "EXPIRED_TOKEN"


class TokenAuthority:
    """Issues and checks tokens for one key id / secret pair."""

    def __init__(self, key_id: str, key_secret: str, ttl_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not key_id or not key_secret:
            raise ValueError("auth needs both a non-empty key id and a non-empty secret")
        if ttl_seconds <= 0:
            raise ValueError(f"token_ttl_seconds must be > 0, got {ttl_seconds!r}")
        self._key_id = key_id
        self._key_secret = key_secret
        self._ttl = float(ttl_seconds)
        self._clock = clock
        self._issued: dict[str, float] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TokenAuthority(key_id={self._key_id!r}, ttl_seconds={self._ttl})"

    def issue(self, key_id: object, key_secret: object) -> str | None:
        """A new token when the credentials match, otherwise None."""
        if not isinstance(key_id, str) or not isinstance(key_secret, str):
            return None
        id_ok = hmac.compare_digest(key_id.encode(), self._key_id.encode())
        secret_ok = hmac.compare_digest(key_secret.encode(), self._key_secret.encode())
        if not (id_ok and secret_ok):
            return None
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._issued[token] = self._clock()
        return token

    def check(self, token: str | None) -> tuple[str, str] | None:
        """None when ``token`` is valid, else (error code, message) for the 401 body."""
        if not token:
            return INVALID_TOKEN, "Token cannot be null or empty"
        with self._lock:
            issued = self._issued.get(token)
        if issued is None:
            return INVALID_TOKEN, "Invalid token: it was not issued by this server"
        if self._clock() - issued >= self._ttl:
            return EXPIRED_TOKEN, "Token has expired, fetch a new one from /api/token"
        return None

    def expire_all(self) -> None:
        """Make every token issued so far expired."""
        with self._lock:
            for token in self._issued:
                self._issued[token] = float("-inf")
