"""A small HTTP/1.1 client protocol, without I/O: request bytes out, response parsed incrementally.

Shared by the lean keep-alive transports of both flavours (``_lean_sync`` and ``_lean_async``).
It speaks exactly what a Conductor server needs: one request at a time per connection, bodies
framed by Content-Length, chunked transfer encoding, or the end of the connection; informational
(1xx) answers skipped; gzip/deflate bodies decoded. Anything else is a ``ProtocolError`` naming
what was wrong; a transport that cannot connect in time raises ``ConnectTimeout``.

Every body is read against a limit (``BodyTooLarge``): a declared Content-Length over it fails
before the body is read, a chunked or close-delimited body as soon as it passes it, and a
compressed body as soon as its decoded size does. ``BodyCollector`` is that bounded reading and
decoding on its own, for the standard transports (requests, httpx) too, so every transport keeps
one buffer per body and decodes the same way.

Also here, because every transport shares them: the ``Host`` header of an origin (IPv6 literals
in brackets), which CA certificates TLS trusts (``trusted_cas``, then ``tls_context``), and the
keep-alive check of an idle socket before it carries another request (``socket_dropped``).
"""

from __future__ import annotations

import select
import socket
import zlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult

from .._version import __version__

if TYPE_CHECKING:
    import ssl

__all__ = [
    "ACCEPT_ENCODING",
    "BodyCollector",
    "BodyTooLarge",
    "ConnectTimeout",
    "ProtocolError",
    "ResponseReader",
    "body_collector",
    "encode_request",
    "host_header",
    "lean_headers",
    "origin_of",
    "socket_dropped",
    "tls_context",
    "trusted_cas",
    "whole_body",
]

#: What every transport asks for: exactly the encodings ``BodyCollector`` decodes (the HTTP
#: libraries advertise br or zstd too when their optional decoders are installed).
ACCEPT_ENCODING = "gzip, deflate"

_MAX_HEAD = 64 * 1024  # bytes of status line + headers (or of chunked trailers) we accept
_MAX_CHUNK_LINE = 1024  # bytes of one chunk-size line (size and extensions)
_NO_BODY_STATUSES = frozenset({204, 304})
_INFLATE_STEP = 1024 * 1024  # most bytes decompressed at once (see BodyCollector._inflate)


class ProtocolError(Exception):
    """The server's answer is not valid HTTP/1.1 (or is truncated)."""


class BodyTooLarge(ProtocolError):
    """The answer's body is larger than the transport's limit; ``limit`` and ``size`` in bytes.

    ``declared`` is true when the server announced ``size`` (Content-Length) and nothing was read;
    otherwise ``size`` is how many bytes had arrived (or been decoded) when the limit was passed.
    """

    def __init__(self, limit: int, size: int, *, declared: bool) -> None:
        if declared:
            text = f"the answer declares a body of {size} bytes, over the limit of {limit} bytes"
        else:
            text = f"the answer's body passed the limit of {limit} bytes ({size} bytes so far)"
        super().__init__(text)
        self.limit, self.size, self.declared = limit, size, declared


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


def host_header(scheme: str, host: str, port: int) -> str:
    """The ``Host`` header of an origin: an IPv6 literal in brackets, the port unless it is the scheme's default."""
    name = f"[{host}]" if ":" in host else host
    return name if port == (443 if scheme == "https" else 80) else f"{name}:{port}"


class BodyCollector:
    """Collects one response body into one buffer, decoding gzip/deflate, within ``limit`` bytes.

    ``declare(content_length)`` checks an announced length before anything is read; ``add`` takes
    the raw (encoded) bytes as they arrive; ``finish`` returns the decoded body. Both the raw and
    the decoded sizes are held to ``limit``: ``BodyTooLarge`` as soon as either passes it (a
    compressed body is decompressed at most ``limit + 1`` bytes at a time, so a small "zip bomb"
    never expands in memory). ``deflate`` is accepted with the zlib wrapper (RFC 9110) or raw, as
    some servers send it. An undecodable or truncated body raises ``ProtocolError``.

    Memory: the decoded body in one ``bytearray`` plus, at ``finish``, its copy as ``bytes``.
    Not thread-safe; one instance per body.
    """

    __slots__ = ("_body", "_decoder", "_encoding", "_probe", "_raw", "limit")

    def __init__(self, limit: int, content_encoding: str = "") -> None:
        encoding = content_encoding.strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise ProtocolError(f"unsupported Content-Encoding {content_encoding!r}")
        self.limit = limit
        self._encoding = "" if encoding == "identity" else encoding
        self._body = bytearray()
        self._raw = 0
        self._probe = b""  # deflate: the first bytes, until the zlib header can be told from raw data
        self._decoder: Any = (
            zlib.decompressobj(16 + zlib.MAX_WBITS) if self._encoding in ("gzip", "x-gzip") else None
        )

    def declare(self, content_length: int) -> None:
        """The server announced the (encoded) body's length: ``BodyTooLarge`` when it is over the limit."""
        if content_length > self.limit:
            raise BodyTooLarge(self.limit, content_length, declared=True)

    @property
    def size(self) -> int:
        """Decoded bytes collected so far."""
        return len(self._body)

    def add(self, data: bytes | bytearray | memoryview) -> None:
        """Take raw body bytes (a copy is kept; ``data`` may be reused by the caller)."""
        if not data:
            return
        self._raw += len(data)
        if self._raw > self.limit:
            raise BodyTooLarge(self.limit, self._raw, declared=False)
        if not self._encoding:
            self._body += data
            return
        if self._decoder is None:  # deflate: wait for two bytes to choose zlib or raw
            self._probe += bytes(data)
            if len(self._probe) < 2:
                return
            self._decoder = zlib.decompressobj(zlib.MAX_WBITS if _zlib_header(self._probe) else -zlib.MAX_WBITS)
            data, self._probe = self._probe, b""
        self._inflate(data)

    def _inflate(self, data: bytes | bytearray | memoryview) -> None:
        """Decompress ``data`` into the body, at most ``_INFLATE_STEP`` bytes at a time, so no
        output larger than that exists beside the body, however well the data compresses."""
        decoder = self._decoder
        try:
            while not decoder.eof:
                # One byte more than the room left: getting it means the limit was passed.
                step = min(self.limit - len(self._body) + 1, _INFLATE_STEP)
                out = decoder.decompress(data, step)
                self._body += out
                if len(self._body) > self.limit:
                    raise BodyTooLarge(self.limit, len(self._body), declared=False)
                data = decoder.unconsumed_tail
                if not data and len(out) < step:  # all input used and no output held back
                    break
        except zlib.error as exc:
            raise ProtocolError(f"cannot decode the {self._encoding} body: {exc}") from None

    def finish(self) -> bytes:
        """The decoded body (the buffer is released). ``ProtocolError`` for a truncated compressed body."""
        if self._encoding and self._raw:
            if self._decoder is None:  # fewer than two bytes of deflate data
                self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                self._inflate(self._probe)
            if not self._decoder.eof:
                raise ProtocolError(f"the {self._encoding} body is truncated")
        body = bytes(self._body)
        self._body = bytearray()
        return body


def body_collector(headers: Mapping[str, str], limit: int) -> BodyCollector:
    """A ``BodyCollector`` for an answer with ``headers`` (lower-case names): its Content-Encoding,
    and its Content-Length checked against ``limit`` before anything is read (``BodyTooLarge``).

    The standard transports stream the raw body into it; the lean reader frames bodies itself.
    """
    collector = BodyCollector(limit, headers.get("content-encoding", ""))
    declared = headers.get("content-length", "")
    if declared.isdigit():
        collector.declare(int(declared))
    return collector


def whole_body(content: bytes, limit: int) -> bytes:
    """A body a transport already read (and decoded) itself, held to ``limit`` (``BodyTooLarge``)."""
    if len(content) > limit:
        raise BodyTooLarge(limit, len(content), declared=False)
    return content


def _zlib_header(first: bytes) -> bool:
    """Whether two bytes start a zlib stream (RFC 1950: method 8, window <= 32 KiB, check bits)."""
    cmf, flg = first[0], first[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0


# Why our own reader rather than h11 (which httpx brings): one small exchange (the request bytes,
# then a ~100-byte JSON answer parsed) costs ~3.5 us here against ~42 us with h11 (timeit, CPython
# 3.11), and the lean transports exist for that per-call cost. It must read every answer as h11
# does: tests/client/test_http11_differential.py compares the two at every split point.
class ResponseReader:
    """Parses one response from the bytes ``feed`` receives; ``done`` once it is complete.

    ``limit`` bounds the body (``BodyTooLarge``, see ``BodyCollector``). After completion:
    ``status``, ``reason``, ``headers`` (lower-cased names), ``body`` (decoded), and
    ``keep_alive`` (whether the connection may carry another request).
    """

    __slots__ = (
        "_buffer", "_chunk_left", "_collector", "_framing", "_head_done", "_left", "_no_body",
        "body", "done", "headers", "keep_alive", "limit", "reason", "received_any", "status",
    )

    def __init__(self, method: str, limit: int) -> None:
        self._no_body = method == "HEAD"
        self.limit = limit
        self._buffer = bytearray()  # received bytes not parsed yet (the head, chunk framing)
        self._head_done = False
        self._framing = ""  # "length", "chunked", "close"
        self._left = 0  # "length": body bytes still to come
        self._chunk_left = -1  # -1: a chunk-size line is next (see _parse_chunks)
        self._collector: BodyCollector | None = None
        self.status = 0
        self.reason = ""
        self.headers: dict[str, str] = {}
        self.body = b""
        self.done = False
        self.keep_alive = True
        self.received_any = False

    def feed(self, data: bytes) -> bool:
        """Add received bytes; returns ``done``. Raises ``ProtocolError`` (``BodyTooLarge``) for a
        malformed or oversized answer."""
        if data:
            self.received_any = True
            if self._head_done and self._framing == "close":
                assert self._collector is not None
                self._collector.add(data)  # straight to the body: nothing to parse
                return False
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
            self.keep_alive = False
            self._finish()
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
            self.done = True
            return True
        self._collector = BodyCollector(self.limit, headers.get("content-encoding", ""))
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._framing = "chunked"
        elif "content-length" in headers:
            try:
                self._left = int(headers["content-length"])
            except ValueError:
                raise ProtocolError(f"bad Content-Length {headers['content-length']!r}") from None
            if self._left < 0:
                raise ProtocolError(f"bad Content-Length {self._left}")
            self._collector.declare(self._left)
            self._framing = "length"
        else:
            self._framing = "close"
            self.keep_alive = False
            if self._buffer:  # body bytes that came with the head
                self._collector.add(self._buffer)
                self._buffer.clear()
        return True

    # ---- body ----------------------------------------------------------------------------------

    def _parse_body(self) -> bool:
        if self._framing == "length":
            assert self._collector is not None
            buffer = self._buffer
            if len(buffer) <= self._left:
                self._collector.add(buffer)
                self._left -= len(buffer)
                buffer.clear()
            else:  # bytes past the body: kept, never read as another answer
                self._collector.add(memoryview(buffer)[: self._left])
                del buffer[: self._left]
                self._left = 0
            if self._left:
                return False
            self._finish()
            return True
        if self._framing == "chunked":
            return self._parse_chunks()
        return False  # "close": the body ends when the connection does (see eof)

    def _parse_chunks(self) -> bool:
        """States: ``_chunk_left`` -1 = a size line is next, -2 = trailer lines until an empty one,
        -3 = the CRLF after a chunk's data, n > 0 = n more bytes of chunk data (taken as they come,
        so a large chunk is never held twice)."""
        buffer = self._buffer
        collector = self._collector
        assert collector is not None
        while True:
            if self._chunk_left == -1:
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > _MAX_CHUNK_LINE:
                        raise ProtocolError("a chunk-size line is too long")
                    return False
                size_text = bytes(buffer[:end]).split(b";", 1)[0].strip()
                del buffer[: end + 2]
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
                if size < 0:
                    raise ProtocolError(f"bad chunk size {size_text[:20]!r}")
                if size > collector.limit:
                    raise BodyTooLarge(collector.limit, size, declared=True)
                self._chunk_left = size if size > 0 else -2
            elif self._chunk_left == -2:
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > _MAX_HEAD:
                        raise ProtocolError("the chunked trailers are too long")
                    return False
                del buffer[: end + 2]
                if end == 0:  # the empty line after the (usually absent) trailers
                    self._finish()
                    return True
            elif self._chunk_left == -3:
                if len(buffer) < 2:
                    return False
                if buffer[:2] != b"\r\n":
                    raise ProtocolError("a chunk does not end with CRLF")
                del buffer[:2]
                self._chunk_left = -1
            else:
                if not buffer:
                    return False
                take = min(self._chunk_left, len(buffer))
                collector.add(memoryview(buffer)[:take])
                del buffer[:take]
                self._chunk_left -= take
                if not self._chunk_left:
                    self._chunk_left = -3

    def _finish(self) -> None:
        assert self._collector is not None
        self.body = self._collector.finish()
        self._collector = None
        self.done = True


_HAS_POLL = hasattr(select, "poll")


def socket_dropped(sock: socket.socket) -> bool:
    """An idle keep-alive socket that is readable has been closed (or sent garbage): do not reuse it.

    ``poll`` where the platform has it: ``select`` refuses descriptors from 1024 on, and a process
    with many connections or open files would then throw away every such connection unused.
    """
    try:
        if _HAS_POLL:
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))  # readable, or hung up / in error (always reported)
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def lean_headers() -> list[tuple[str, str]]:
    """The headers every request of a lean client carries (a fresh list)."""
    return [("User-Agent", f"conductor-actors/{__version__}"), ("Accept-Encoding", ACCEPT_ENCODING)]


def origin_of(url: SplitResult) -> tuple[str, str, int]:
    """A split URL's scheme (lower case), host and port (the scheme's default when absent)."""
    scheme = url.scheme.lower()
    return scheme, url.hostname or "", url.port or (443 if scheme == "https" else 80)


#: Where the CA certificates may be named, in order; the first one set wins (see ``trusted_cas``).
CA_SOURCES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


def trusted_cas(explicit: str | None, env: Mapping[str, str]) -> tuple[str, str] | None:
    """Which CA certificates TLS trusts, the same for every transport of both flavours.

    The first that is set: ``explicit`` (``Configuration.ssl_ca_cert``), ``REQUESTS_CA_BUNDLE``
    (or ``CURL_CA_BUNDLE``, which requests reads too), ``SSL_CERT_FILE``, ``SSL_CERT_DIR``.
    Returns ``(path, where it came from)``, or None for the default bundle (certifi's, as requests
    and httpx use). The path is a file or (except ``ssl_ca_cert``) a directory of certificates.
    Pure: reads only ``env``; ``tls_context`` loads the certificates.
    """
    if explicit:
        return explicit, "ssl_ca_cert"
    for name in CA_SOURCES:
        value = env.get(name)
        if value:
            return value, name
    return None


def tls_context(verify: Any, source: str = "verify") -> ssl.SSLContext:
    """TLS settings as requests understands ``verify``: True = the default bundle (certifi), a
    string = that CA bundle file or certificate directory, False = no certificate checks.

    A bundle that cannot be loaded raises ``ConfigurationError`` naming ``source`` and the path.
    Runs on the caller's thread (it reads files).
    """
    import os
    import ssl  # here: a plain-HTTP worker never loads it

    from ._config import ConfigurationError

    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str):
        try:
            if os.path.isdir(verify):
                return ssl.create_default_context(capath=verify)
            return ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(f"{source}={verify!r}: cannot load CA certificates ({exc})") from None
    # requests' CA bundle is certifi's (requests.certs re-exports it; requests depends on certifi),
    # read from certifi itself so a TLS connection does not load requests.
    from certifi import where

    return ssl.create_default_context(cafile=where())
