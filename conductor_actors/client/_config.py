"""Client settings: where the server is, how to authenticate, how long calls may take.

Environment (explicit arguments win): ``CONDUCTOR_SERVER_URL`` (includes ``/api``; default
``http://localhost:8080/api``), ``CONDUCTOR_AUTH_KEY`` and ``CONDUCTOR_AUTH_SECRET`` (both, or
neither: only one of them is a ``ConfigurationError``).
Secrets never appear in a ``repr``; the objects pickle (children receive them).

``proxy_for`` says which proxy, if any, the environment names for the server (read once, when a
client is built), by the standard library's rules: ``*_proxy`` variables, ``no_proxy`` honoured;
with ``system_settings`` also the platform's proxy configuration (macOS, Windows), as ``requests``
reads it. Knowing this without importing ``requests`` or ``httpx`` lets a client that needs no
proxy start on the lean transport alone.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

__all__ = ["AuthenticationSettings", "Configuration", "ConfigurationError", "check_pool_size", "proxy_for"]

DEFAULT_SERVER_API_URL = "http://localhost:8080/api"

_log = logging.getLogger("conductor_actors.client")

#: Conductor's hard maximum for one task's input payload (10240 KB; larger inputs fail the task).
_MAX_TASK_PAYLOAD = 10240 * 1024
#: The default bound on one answer's body: a full batch poll of 100 tasks at that maximum.
DEFAULT_MAX_RESPONSE_BYTES = 100 * _MAX_TASK_PAYLOAD


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
        """Settings from ``CONDUCTOR_AUTH_KEY``/``CONDUCTOR_AUTH_SECRET``; None when neither is set.

        Raises ``ConfigurationError`` naming the missing variable when only one is set (an empty
        value counts as unset): half a credential is a mistake, and running without auth would
        only surface later as 401s. The official SDK silently ignores it.
        """
        env = os.environ if env is None else env
        key, secret = env.get("CONDUCTOR_AUTH_KEY", ""), env.get("CONDUCTOR_AUTH_SECRET", "")
        if key and secret:
            return cls(key, secret)
        if not key and not secret:
            return None
        names = ["CONDUCTOR_AUTH_KEY", "CONDUCTOR_AUTH_SECRET"]
        have, missing = names if key else names[::-1]
        raise ConfigurationError(
            f"{have} is set but {missing} is not: set both (application key credentials) or neither"
        )

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


def _api_root(given: object, source: str) -> str:
    """``given`` without trailing slashes, checked to be an http(s) URL with a host (and a valid
    port) and no whitespace or control character anywhere (a URL read from a file often ends with
    a newline: it would make a malformed request line). Raises ``ConfigurationError`` naming
    ``source``, the value and the problem."""
    if not isinstance(given, str):
        raise ConfigurationError(f"{source}={given!r}: the Conductor URL must be a string")
    url = given
    bad = next(((i, c) for i, c in enumerate(url) if c.isspace() or not c.isprintable()), None)
    if bad is not None:
        index, char = bad
        kind = "whitespace" if char.isspace() else "a control character"
        raise ConfigurationError(
            f"{source}={given!r}: the Conductor URL contains {kind} ({char!r} at position {index}); "
            "remove it (a value read from a file often ends with a newline)"
        )
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"{source}={given!r}: the Conductor URL must start with http:// or https://")
    url = url.rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number from 0 to 65535
    except ValueError as exc:
        raise ConfigurationError(f"{source}={given!r}: not a valid URL ({exc})") from None
    if not parts.hostname:
        raise ConfigurationError(f"{source}={given!r}: the Conductor URL has no host")
    return url


def _body_limit(given: object, env: Mapping[str, str]) -> int:
    """``max_response_bytes``, else ``CONDUCTOR_ACTORS_MAX_RESPONSE_BYTES``, else the default; a
    positive whole number of bytes or ``ConfigurationError`` naming the source."""
    source, value = "max_response_bytes", given
    if value is None:
        source = "CONDUCTOR_ACTORS_MAX_RESPONSE_BYTES"
        text = env.get("CONDUCTOR_ACTORS_MAX_RESPONSE_BYTES", "").strip()
        if not text:
            return DEFAULT_MAX_RESPONSE_BYTES
        value = int(text) if text.isdigit() else text
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigurationError(f"{source}={value!r}: must be a positive whole number of bytes")
    return value


def _mask(value: str) -> str:
    return value[:4] + "***" if len(value) > 8 else "***"


class Configuration:
    """Where and how to reach the Conductor server.

    Args:
        base_url: server root *without* ``/api`` (``/api`` is appended), as in the official SDK.
        server_api_url: full API root including ``/api``; wins over ``base_url``. When neither is
            given, ``CONDUCTOR_SERVER_URL`` is used, then ``http://localhost:8080/api``.
        authentication_settings: key credentials; default from ``CONDUCTOR_AUTH_KEY`` and
            ``CONDUCTOR_AUTH_SECRET`` (both, or neither; the environment is not read when given).
        auth_token_ttl_min: refresh the token once it is this many minutes old (default 45).
        connect_timeout: seconds to establish a connection (default 5).
        read_timeout: seconds an ordinary call may wait for its whole answer, from the moment the
            request was sent (default 30); a bound on the whole answer, not on each read. Polls
            wait their long-poll time on top of this.
        http_transport: ``"lean"`` (default; the clients' own keep-alive HTTP/1.1 transport, much
            cheaper per call, and a worker process on it never loads requests or httpx) or
            ``"standard"`` (requests' and httpx's own transports, e.g. for features the lean one
            lacks). Default from ``CONDUCTOR_ACTORS_HTTP_TRANSPORT``. A configured proxy always uses
            the standard transport.
        ssl_ca_cert: a CA bundle file that HTTPS trusts (the official SDK's name). When unset,
            ``REQUESTS_CA_BUNDLE`` (or ``CURL_CA_BUNDLE``), then ``SSL_CERT_FILE``, then
            ``SSL_CERT_DIR``, then certifi's bundle: the same rule on every transport of both
            flavours, read when a client is built.
        max_response_bytes: the largest answer body a client accepts (default
            ``CONDUCTOR_ACTORS_MAX_RESPONSE_BYTES``, else 1000 MiB: a full batch poll of 100 tasks
            at Conductor's 10 MiB input maximum). A larger answer fails the call with
            ``ResponseTooLargeError`` before or while it is read.
        debug, log_level, register_schema: the official SDK's arguments, accepted with its
            meaning of the ``debug``/``log_level``/``register_schema`` attributes
            (``CONDUCTOR_LOG_LEVEL`` and ``CONDUCTOR_REGISTER_SCHEMAS`` are read for them as
            there); they change nothing in this runtime, so giving one logs a WARNING saying so.
            The official attributes ``ui_host``, ``logger_format``, ``verify_ssl``, ``proxy``...
            exist with the official values; ``apply_logging_config()`` works as there.
        env: the environment to read (default ``os.environ``); for tests.

    Raises ``ConfigurationError`` for a URL that is not http(s) or holds whitespace or a control
    character, a non-positive timeout or body limit, an unknown transport, or only one of
    ``CONDUCTOR_AUTH_KEY``/``CONDUCTOR_AUTH_SECRET``.
    """

    def __init__(
        self,
        base_url: str | None = None,
        debug: bool = False,
        authentication_settings: AuthenticationSettings | None = None,
        server_api_url: str | None = None,
        auth_token_ttl_min: float = 45.0,
        register_schema: bool | None = None,
        log_level: int | str | None = None,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        http_transport: str | None = None,
        ssl_ca_cert: str | None = None,
        max_response_bytes: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if env is None else env
        if server_api_url:
            self.server_api_url = _api_root(server_api_url, "server_api_url")
        elif base_url:
            self.server_api_url = _api_root(base_url, "base_url") + "/api"
        elif env.get("CONDUCTOR_SERVER_URL"):
            self.server_api_url = _api_root(env["CONDUCTOR_SERVER_URL"], "CONDUCTOR_SERVER_URL")
        else:
            self.server_api_url = DEFAULT_SERVER_API_URL
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
        if ssl_ca_cert is not None and (not isinstance(ssl_ca_cert, str) or not ssl_ca_cert):
            raise ConfigurationError(f"ssl_ca_cert={ssl_ca_cert!r}: must be the path of a CA bundle file")
        self.ssl_ca_cert = ssl_ca_cert
        self.max_response_bytes = _body_limit(max_response_bytes, env)
        self.auth_token_ttl_min = float(auth_token_ttl_min)
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self._official_settings(debug, register_schema, log_level, env)

    # -- the official SDK's other arguments and attributes ----------------------------------------

    #: The official SDK's class-level token slot (this runtime keeps tokens in its clients).
    AUTH_TOKEN: str | None = None
    _log_level: int

    def _official_settings(
        self, debug: bool, register_schema: bool | None, log_level: int | str | None, env: Mapping[str, str]
    ) -> None:
        """Accept the official SDK's remaining arguments and attributes with its values; log one
        WARNING naming those given that change nothing in this runtime."""
        self.debug = debug
        level_given = log_level if log_level is not None else env.get("CONDUCTOR_LOG_LEVEL")
        if isinstance(level_given, int):
            self._log_level = level_given
        elif level_given is not None and level_given.strip():
            named = getattr(logging, level_given.strip().upper(), None)
            self._log_level = named if isinstance(named, int) else self._log_level
        if register_schema is None and env.get("CONDUCTOR_REGISTER_SCHEMAS") is not None:
            register_schema = env["CONDUCTOR_REGISTER_SCHEMAS"].strip().lower() in ("true", "1", "yes", "on")
        self.register_schema = register_schema
        self.logger_format = "%(asctime)s %(name)-12s %(levelname)-8s %(message)s"
        ui_host = env.get("CONDUCTOR_UI_SERVER_URL")
        self.ui_host = ui_host if ui_host is not None else self.server_api_url.rstrip("/").removesuffix("/api")
        self.temp_folder_path: str | None = None
        self.verify_ssl = True
        self.cert_file: str | None = None
        self.key_file: str | None = None
        self.assert_hostname: bool | None = None
        self.proxy: str | None = None
        self.safe_chars_for_path_param = ""
        self.http_connection: Any = None
        self.token_update_time = 0
        ttl_msec = self.auth_token_ttl_min * 60 * 1000
        self.auth_token_ttl_msec: float = int(ttl_msec) if ttl_msec.is_integer() else ttl_msec
        ignored = [f"debug={debug!r}"] if debug else []
        if log_level is not None:
            ignored.append(f"log_level={log_level!r}")
        if register_schema is not None:
            ignored.append(f"register_schema={register_schema!r}")
        if ignored:
            _log.warning(
                "Configuration(%s) changes nothing in conductor_actors: set the log level with"
                " TaskHandler(log_level=...) or --log-level, and register_schema on the worker"
                " (or CONDUCTOR_REGISTER_SCHEMAS)",
                ", ".join(ignored),
            )

    @property
    def debug(self) -> bool:
        """The official SDK's debug switch: sets ``log_level`` to DEBUG (True) or INFO (False)."""
        return self._debug

    @debug.setter
    def debug(self, value: bool) -> None:
        self._debug = value
        self._log_level = logging.DEBUG if value else logging.INFO

    @property
    def log_level(self) -> int:
        """The official SDK's log level (from ``log_level``, ``CONDUCTOR_LOG_LEVEL`` or ``debug``);
        used only by ``apply_logging_config``."""
        return self._log_level

    def apply_logging_config(self, log_format: str | None = None, level: int | str | None = None) -> None:
        """``logging.basicConfig`` with ``logger_format`` and ``log_level`` (official SDK helper)."""
        logging.basicConfig(format=log_format or self.logger_format, level=self._log_level if level is None else level)

    @staticmethod
    def get_logging_formatted_name(name: str) -> str:
        """``[<pid>] <name>`` (official SDK helper)."""
        return f"[{os.getpid()}] {name}"

    def update_token(self, token: str) -> None:
        """Record a token and when it was set (official SDK helper; the clients here keep their own)."""
        self.AUTH_TOKEN = token
        self.token_update_time = round(time.time() * 1000)

    @property
    def server_api_url(self) -> str:
        """The API root including ``/api``, without a trailing slash.

        Assigning runs the constructor's check, so a URL set in code after the configuration was
        built cannot make malformed requests later; a bad value raises ``ConfigurationError`` and
        leaves the old one in place.
        """
        return self._server_api_url

    @server_api_url.setter
    def server_api_url(self, url: str) -> None:
        self._server_api_url = _api_root(url, "server_api_url")

    @property
    def host(self) -> str:
        """The API root including ``/api`` (the official SDK's name for it; assignable as there).

        Assigning raises ``ConfigurationError`` for a value that is not an http(s) URL.
        """
        return self.server_api_url

    @host.setter
    def host(self, url: str) -> None:
        self.server_api_url = _api_root(url, "host")

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


def check_pool_size(pool_size: int) -> int:
    """A client's connection pool size; anything but an integer >= 1 raises ``ConfigurationError``."""
    if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
        raise ConfigurationError(f"pool_size={pool_size!r}: must be an integer >= 1")
    return pool_size


def proxy_for(url: str, *, system_settings: bool) -> str | None:
    """The proxy URL that applies to ``url``, or ``None``; runs on the caller's thread, never raises."""
    platform_settings = system_settings and sys.platform in ("darwin", "win32")
    if not platform_settings and not any(name.lower().endswith("_proxy") for name in os.environ):
        return None  # the common case, answered without loading urllib.request (and http.client, email...)
    import urllib.request

    proxies = urllib.request.getproxies() if system_settings else urllib.request.getproxies_environment()
    if not proxies:
        return None
    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):  # honours no_proxy when *_proxy is set
        return None
    return proxies.get(parts.scheme) or proxies.get("all")
