"""A small HTTP/1.1 client protocol, without I/O: request bytes out, response parsed incrementally.

Shared by the lean keep-alive transports of both flavours (``_lean_sync`` and ``_lean_async``).
It speaks exactly what a Conductor server needs: one request at a time per connection, bodies
framed by Content-Length, chunked transfer encoding, or the end of the connection; informational
(1xx) answers skipped; gzip/deflate bodies decoded. Anything else is a ``ProtocolError`` naming
what was wrong; a transport that cannot connect in time raises ``ConnectTimeout``.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult

from .._version import __version__

if TYPE_CHECKING:
    import ssl

__all__ = [
    "ACCEPT_ENCODING",
    "ConnectTimeout",
    "ProtocolError",
    "ResponseReader",
    "encode_request",
    "lean_headers",
    "origin_of",
    "requests_ca_bundle",
    "tls_context",
]

#: What the lean transports ask for: exactly the encodings ``ResponseReader`` decodes (the HTTP
#: libraries advertise br or zstd too when their optional decoders are installed).
ACCEPT_ENCODING = "gzip, deflate"

_MAX_HEAD = 64 * 1024  # bytes of status line + headers we accept
_NO_BODY_STATUSES = frozenset({204, 304})


class ProtocolError(Exception):
    """The server's answer is not valid HTTP/1.1 (or is truncated)."""


class ConnectTimeout(TimeoutError):
    """A lean transport could not connect within the connect timeout."""


def encode_request(
    method: str, target: str, host: str, headers: Iterable[tuple[str, str]], body: bytes | None
) -> bytes:
    """The request as bytes: request line, Host, the given headers, Content-Length, body."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body) if body else 0}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body else head


class ResponseReader:
    """Parses one response from the bytes ``feed`` receives; ``done`` once it is complete.

    After completion: ``status``, ``reason``, ``headers`` (lower-cased names), ``body`` (decoded),
    and ``keep_alive`` (whether the connection may carry another request).
    """

    __slots__ = (
        "_buffer", "_chunk_left", "_chunks", "_framing", "_head_done", "_length", "_no_body",
        "body", "done", "headers", "keep_alive", "reason", "received_any", "status",
    )

    def __init__(self, method: str) -> None:
        self._no_body = method == "HEAD"
        self._buffer = bytearray()
        self._head_done = False
        self._framing = ""  # "length", "chunked", "close"
        self._length = 0
        self._chunk_left = -1  # -1: reading a chunk-size line
        self._chunks: list[bytes] = []
        self.status = 0
        self.reason = ""
        self.headers: dict[str, str] = {}
        self.body = b""
        self.done = False
        self.keep_alive = True
        self.received_any = False

    def feed(self, data: bytes) -> bool:
        """Add received bytes; returns ``done``. Raises ``ProtocolError`` for a malformed answer."""
        if data:
            self.received_any = True
            self._buffer += data
        while not self.done:
            if not self._head_done:
                if not self._parse_head():
                    return False
                continue
            if not self._parse_body():
                return False
        return True

    def eof(self) -> None:
        """The server closed the connection: completes a read-until-close body, else ``ProtocolError``."""
        if self.done:
            return
        if self._head_done and self._framing == "close":
            self.body = self._decode(bytes(self._buffer))
            self._buffer.clear()
            self.keep_alive = False
            self.done = True
            return
        if not self.received_any:
            raise ProtocolError("the server closed the connection without answering")
        raise ProtocolError("the server closed the connection in the middle of its answer")

    # ---- head ----------------------------------------------------------------------------------

    def _parse_head(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_HEAD:
                raise ProtocolError("the response headers are too long")
            return False
        head = bytes(self._buffer[:end]).decode("latin-1")
        del self._buffer[: end + 4]
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP/1.1 status line: {lines[0][:80]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolError(f"malformed header line: {line[:80]!r}")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        if 100 <= status < 200:  # 100 Continue and friends: the real answer follows
            return True
        self.status, self.reason, self.headers = status, parts[2] if len(parts) > 2 else "", headers
        self._head_done = True
        connection = headers.get("connection", "").lower()
        self.keep_alive = parts[0] == "HTTP/1.1" and "close" not in connection
        if self._no_body or status in _NO_BODY_STATUSES:
            self._finish(b"")
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._framing = "chunked"
        elif "content-length" in headers:
            try:
                self._length = int(headers["content-length"])
            except ValueError:
                raise ProtocolError(f"bad Content-Length {headers['content-length']!r}") from None
            if self._length < 0:
                raise ProtocolError(f"bad Content-Length {self._length}")
            self._framing = "length"
        else:
            self._framing = "close"
            self.keep_alive = False
        return True

    # ---- body ----------------------------------------------------------------------------------

    def _parse_body(self) -> bool:
        if self._framing == "length":
            if len(self._buffer) < self._length:
                return False
            self._finish(bytes(self._buffer[: self._length]))
            del self._buffer[: self._length]
            return True
        if self._framing == "chunked":
            return self._parse_chunks()
        return False  # "close": the body ends when the connection does (see eof)

    def _parse_chunks(self) -> bool:
        """States: ``_chunk_left`` -1 = a size line is next, -2 = trailer lines until an empty one,
        n >= 0 = n bytes of chunk data (then CRLF) are next."""
        buffer = self._buffer
        while True:
            if self._chunk_left == -1:
                end = buffer.find(b"\r\n")
                if end < 0:
                    return False
                size_text = bytes(buffer[:end]).split(b";", 1)[0].strip()
                del buffer[: end + 2]
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
                self._chunk_left = size if size > 0 else -2
            elif self._chunk_left == -2:
                end = buffer.find(b"\r\n")
                if end < 0:
                    return False
                del buffer[: end + 2]
                if end == 0:  # the empty line after the (usually absent) trailers
                    self._finish(b"".join(self._chunks))
                    return True
            else:
                size = self._chunk_left
                if len(buffer) < size + 2:
                    return False
                if buffer[size : size + 2] != b"\r\n":
                    raise ProtocolError("a chunk does not end with CRLF")
                self._chunks.append(bytes(buffer[:size]))
                del buffer[: size + 2]
                self._chunk_left = -1

    def _finish(self, body: bytes) -> None:
        self.body = self._decode(body)
        self.done = True

    def _decode(self, body: bytes) -> bytes:
        encoding = self.headers.get("content-encoding", "").lower()
        if not body or encoding in ("", "identity"):
            return body
        try:
            if encoding == "gzip":
                return zlib.decompress(body, 16 + zlib.MAX_WBITS)
            if encoding == "deflate":
                return zlib.decompress(body)
        except zlib.error as exc:
            raise ProtocolError(f"cannot decode the {encoding} body: {exc}") from None
        raise ProtocolError(f"unsupported Content-Encoding {encoding!r}")


def lean_headers() -> list[tuple[str, str]]:
    """The headers every request of a lean client carries (a fresh list)."""
    return [("User-Agent", f"conductor-actors/{__version__}"), ("Accept-Encoding", ACCEPT_ENCODING)]


def origin_of(url: SplitResult) -> tuple[str, str, int]:
    """A split URL's scheme (lower case), host and port (the scheme's default when absent)."""
    scheme = url.scheme.lower()
    return scheme, url.hostname or "", url.port or (443 if scheme == "https" else 80)


def requests_ca_bundle() -> str | None:
    """The CA bundle the environment names the way requests reads it (``REQUESTS_CA_BUNDLE``, then
    ``CURL_CA_BUNDLE``), or None."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None


def tls_context(verify: Any) -> ssl.SSLContext:
    """TLS settings as requests understands ``verify``: True = the CA bundle requests ships (certifi),
    a string = that CA bundle, False = no certificate checks."""
    import ssl  # here: a plain-HTTP worker never loads it

    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    # requests' CA bundle is certifi's (requests.certs re-exports it; requests depends on certifi),
    # read from certifi itself so a TLS connection does not load requests.
    from certifi import where

    return ssl.create_default_context(cafile=where())
