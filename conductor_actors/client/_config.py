"""Client settings: where the server is, how to authenticate, how long calls may take.

Environment (explicit arguments win): ``CONDUCTOR_SERVER_URL`` (includes ``/api``; default
``http://localhost:8080/api``), ``CONDUCTOR_AUTH_KEY`` and ``CONDUCTOR_AUTH_SECRET`` (both needed).
Secrets never appear in a ``repr``; the objects pickle (children receive them).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

__all__ = ["AuthenticationSettings", "Configuration", "ConfigurationError"]

DEFAULT_SERVER_API_URL = "http://localhost:8080/api"


class ConfigurationError(ValueError):
    """A client setting has a value that cannot work; the message names the setting and the value."""


class AuthenticationSettings:
    """Application key credentials exchanged for a token at ``POST /token``.

    ``key_secret`` is never shown by ``repr``/``str``.
    """

    __slots__ = ("key_id", "key_secret")

    def __init__(self, key_id: str, key_secret: str) -> None:
        if not key_id or not key_secret:
            raise ConfigurationError("AuthenticationSettings needs both key_id and key_secret")
        self.key_id = key_id
        self.key_secret = key_secret

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthenticationSettings | None:
        """Settings from ``CONDUCTOR_AUTH_KEY``/``CONDUCTOR_AUTH_SECRET``, or None unless both are set."""
        env = os.environ if env is None else env
        key, secret = env.get("CONDUCTOR_AUTH_KEY", ""), env.get("CONDUCTOR_AUTH_SECRET", "")
        return cls(key, secret) if key and secret else None

    def __repr__(self) -> str:
        return f"AuthenticationSettings(key_id={_mask(self.key_id)!r}, key_secret='***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, AuthenticationSettings)
            and self.key_id == other.key_id
            and self.key_secret == other.key_secret
        )

    def __hash__(self) -> int:
        return hash((self.key_id, self.key_secret))

    def __getstate__(self) -> tuple[str, str]:
        return (self.key_id, self.key_secret)

    def __setstate__(self, state: tuple[str, str]) -> None:
        self.key_id, self.key_secret = state


def _mask(value: str) -> str:
    return value[:4] + "***" if len(value) > 8 else "***"


class Configuration:
    """Where and how to reach the Conductor server.

    Args:
        base_url: server root *without* ``/api`` (``/api`` is appended), as in the official SDK.
        server_api_url: full API root including ``/api``; wins over ``base_url``. When neither is
            given, ``CONDUCTOR_SERVER_URL`` is used, then ``http://localhost:8080/api``.
        authentication_settings: key credentials; default from ``CONDUCTOR_AUTH_KEY`` and
            ``CONDUCTOR_AUTH_SECRET`` (both must be set).
        auth_token_ttl_min: refresh the token once it is this many minutes old (default 45).
        connect_timeout: seconds to establish a connection (default 5).
        read_timeout: seconds to wait for a response to an ordinary call (default 30). Polls wait
            their long-poll time on top of this.
        http_transport: ``"lean"`` (default; a keep-alive HTTP/1.1 transport plugged into requests and
            httpx, much cheaper per call) or ``"standard"`` (their own transports, e.g. for features
            the lean one lacks). Default from ``CONDUCTOR_ACTORS_HTTP_TRANSPORT``. A configured proxy
            always uses the standard transport.
        env: the environment to read (default ``os.environ``); for tests.

    Raises ``ConfigurationError`` for a URL that is not http(s) or a non-positive timeout.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        server_api_url: str | None = None,
        authentication_settings: AuthenticationSettings | None = None,
        auth_token_ttl_min: float = 45.0,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        http_transport: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if env is None else env
        if server_api_url:
            url, source = server_api_url, "server_api_url"
        elif base_url:
            url, source = base_url.rstrip("/") + "/api", "base_url"
        elif env.get("CONDUCTOR_SERVER_URL"):
            url, source = env["CONDUCTOR_SERVER_URL"], "CONDUCTOR_SERVER_URL"
        else:
            url, source = DEFAULT_SERVER_API_URL, "default"
        url = url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")) or not url.split("://", 1)[1]:
            raise ConfigurationError(f"{source}={url!r}: the Conductor URL must start with http:// or https://")
        self.server_api_url = url
        self.authentication_settings = (
            authentication_settings if authentication_settings is not None else AuthenticationSettings.from_env(env)
        )
        for name, value in (
            ("auth_token_ttl_min", auth_token_ttl_min),
            ("connect_timeout", connect_timeout),
            ("read_timeout", read_timeout),
        ):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
                raise ConfigurationError(f"{name}={value!r}: must be a positive number of seconds")
        transport = http_transport or env.get("CONDUCTOR_ACTORS_HTTP_TRANSPORT") or "lean"
        if transport not in ("lean", "standard"):
            source = "http_transport" if http_transport else "CONDUCTOR_ACTORS_HTTP_TRANSPORT"
            raise ConfigurationError(f"{source}={transport!r}: must be 'lean' or 'standard'")
        self.http_transport = transport
        self.auth_token_ttl_min = float(auth_token_ttl_min)
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)

    @property
    def host(self) -> str:
        """The API root including ``/api`` (the official SDK's name for it)."""
        return self.server_api_url

    @property
    def auth_token_ttl_seconds(self) -> float:
        return self.auth_token_ttl_min * 60.0

    def __repr__(self) -> str:
        return (
            f"Configuration(server_api_url={self.server_api_url!r}, "
            f"authentication_settings={self.authentication_settings!r}, "
            f"connect_timeout={self.connect_timeout}, read_timeout={self.read_timeout})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Configuration) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]
