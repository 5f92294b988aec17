"""``ServerIdentity``: which Conductor server an outbox entry belongs to.

An entry is delivered only by a worker tree configured for the same server: the same API root
URL (normalised, so ``HTTP://Host:80/api/`` and ``http://host/api`` are one server) and, when
authentication is on, the same application key id. The key secret is never part of it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["ServerIdentity", "normalise_api_root"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_api_root(url: str) -> str:
    """``url`` as ``scheme://host[:port]/path``: scheme and host in lower case, the default port
    dropped, no user name or password, query, fragment or trailing slash. Raises ``ValueError``
    naming the URL when it is not an http(s) URL with a host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{url!r} is not an http:// or https:// URL with a host")
    host = parts.hostname  # already lower case, without IPv6 brackets
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


@dataclass(frozen=True)
class ServerIdentity:
    """A server as the outbox knows it: ``url`` (normalised API root) and ``key_id`` (None
    without authentication). ``repr`` masks the key id, as ``Configuration`` does."""

    url: str
    key_id: str | None = None

    @classmethod
    def parse(cls, url: str, key_id: str | None = None) -> ServerIdentity:
        """From a URL as a user writes it; raises ``ValueError`` naming a URL that cannot be one."""
        return cls(normalise_api_root(url), key_id or None)

    @classmethod
    def of(cls, configuration: Any) -> ServerIdentity:
        """The server a ``Configuration`` talks to (its API root and key id)."""
        auth = configuration.authentication_settings
        return cls.parse(configuration.server_api_url, auth.key_id if auth is not None else None)

    def label(self) -> str:
        """For people: the URL, and the key id in full when there is one (``outbox list``)."""
        return self.url if self.key_id is None else f"{self.url} (key {self.key_id})"

    def digest(self) -> str:
        """A short stable name for files that belong to this server (its delivery lock)."""
        return hashlib.sha256(f"{self.url}\n{self.key_id or ''}".encode()).hexdigest()[:16]

    def __str__(self) -> str:
        return self.url if self.key_id is None else f"{self.url} (key {_mask(self.key_id)})"

    def __repr__(self) -> str:
        key = None if self.key_id is None else _mask(self.key_id)
        return f"ServerIdentity(url={self.url!r}, key_id={key!r})"


def _mask(value: str) -> str:
    return value[:4] + "***" if len(value) > 8 else "***"
