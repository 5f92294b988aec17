"""A small, fast HTTP/1.1 server on ``asyncio.Protocol`` (the dev server's transport).

What it does: request line + headers, ``Content-Length`` and chunked request bodies,
``Expect: 100-continue``, keep-alive by default (``Connection: close`` and HTTP/1.0 honoured),
pipelined requests answered strictly in order, ``TCP_NODELAY`` on accepted sockets, each response
written in one ``transport.write`` with ``Content-Length`` (a 204 has neither body nor length).
A malformed request is answered 400 (431/413 for oversize parts) and the connection is closed.

Everything here runs on the server's event loop thread. The application object decides the answer:
``handle(request)`` returns a :class:`Response`, :data:`DROP` (close with a TCP reset, no answer) or
an awaitable of either; while an awaitable is pending, later pipelined requests wait in the buffer.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Awaitable
from http import HTTPStatus
from typing import Protocol, Union
from urllib.parse import parse_qs, unquote

__all__ = [
    "DROP",
    "Drop",
    "HttpApp",
    "HttpProtocol",
    "Outcome",
    "Request",
    "Response",
    "reset_connection",
]

_log = logging.getLogger("conductor_actors.devserver")

_MAX_HEAD = 64 * 1024
#: The first byte of a TLS record carrying a handshake (a ClientHello).
_TLS_HANDSHAKE = b"\x16"
_MAX_BODY = 64 * 1024 * 1024
#: Pause reading a connection when this much unprocessed input piles up behind a waiting request.
_MAX_PENDING = 1024 * 1024

JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain;charset=UTF-8"


class Request:
    """One parsed HTTP request. ``segments`` are the percent-decoded path segments after the first '/'."""

    __slots__ = ("body", "headers", "http10", "keep_alive", "method", "path", "query_string", "segments", "target")

    def __init__(
        self, method: str, target: str, headers: dict[str, str], body: bytes, keep_alive: bool, http10: bool = False
    ) -> None:
        self.method = method
        self.target = target
        path, _, self.query_string = target.partition("?")
        self.path = path
        raw = path.split("/")[1:]
        self.segments = [unquote(s, errors="strict") for s in raw] if "%" in path else raw
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive
        self.http10 = http10

    @property
    def query(self) -> dict[str, list[str]]:
        """Query parameters; each name maps to all of its values in order (blank values kept)."""
        if not self.query_string:
            return {}
        return parse_qs(self.query_string, keep_blank_values=True)


class Response:
    """An answer: status, body bytes, content type, extra header lines (name, value); ``close`` ends
    the connection after it is sent."""

    __slots__ = ("body", "close", "content_type", "headers", "status")

    def __init__(self, status: int, body: bytes = b"", content_type: str | None = JSON_TYPE, *, close: bool = False,
                 headers: tuple[tuple[str, str], ...] = ()):
        self.status = status
        self.body = body
        self.content_type = content_type if body else None
        self.close = close
        self.headers = headers


class Drop:
    """Marker outcome: close the connection at once with a TCP reset and send nothing."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DROP"


DROP = Drop()

Outcome = Union[Response, Drop, Awaitable[Union[Response, Drop]]]  # noqa: UP007 (a runtime alias on 3.10)


class HttpApp(Protocol):
    """What the protocol needs from the application (called on the loop thread)."""

    def handle(self, request: Request) -> Outcome:
        """Answer ``request``; must not raise."""
        ...

    def error(self, status: int, message: str) -> Response:
        """An error answer for transport-level problems (malformed requests, handler crashes)."""
        ...


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"HTTP/1.1 {status} {phrase}\r\n".encode("ascii")


_STATUS_LINES = {s.value: _status_line(s.value) for s in HTTPStatus}


def _serialize(response: Response, close: bool, http10: bool = False) -> bytes:
    """The whole answer as bytes. HTTP/1.0 clients are told explicitly when the connection stays open."""
    status = response.status
    line = _STATUS_LINES.get(status) or _status_line(status)
    conn = b"Connection: close\r\n" if close else (b"Connection: keep-alive\r\n" if http10 else b"")
    if status == 204 or status == 304 or status < 200:
        return line + conn + b"\r\n"
    body = response.body
    if response.headers:
        conn = b"".join(b"%s: %s\r\n" % (name.encode("latin-1"), value.encode("latin-1"))
                        for name, value in response.headers) + conn
    if response.content_type:
        head = b"%sContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n" % (
            line, response.content_type.encode("latin-1"), len(body), conn)
    else:
        head = b"%sContent-Length: %d\r\n%s\r\n" % (line, len(body), conn)
    return head + body


def reset_connection(transport: asyncio.BaseTransport) -> None:
    """Close ``transport`` with a TCP reset (SO_LINGER 0) so the peer sees ECONNRESET."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()  # type: ignore[attr-defined]


class _Head:
    """A parsed request head whose body is still arriving."""

    __slots__ = ("body_start", "continued", "headers", "http10", "keep_alive", "length", "method", "target")

    def __init__(self, method: str, target: str, headers: dict[str, str], keep_alive: bool, http10: bool,
                 body_start: int, length: int) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.keep_alive = keep_alive
        self.http10 = http10
        self.body_start = body_start
        self.length = length  # -1 means chunked
        self.continued = False


def _parse_head(data: bytearray, end: int) -> _Head:
    try:
        text = data[:end].decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise _BadRequest(400, "Malformed request head") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[0].isupper():
        raise _BadRequest(400, f"Malformed request line: {lines[0][:200]!r}")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise _BadRequest(400, f"Unsupported HTTP version: {version[:20]!r}")
    if not target.startswith("/"):
        raise _BadRequest(400, f"Request target must be an absolute path: {target[:200]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or " " in name:
            raise _BadRequest(400, f"Malformed header line: {line[:200]!r}")
        key = name.lower()
        value = value.strip()
        if key in headers:
            if key == "content-length" and headers[key] != value:
                raise _BadRequest(400, "Conflicting Content-Length headers")
            headers[key] = f"{headers[key]}, {value}"
        else:
            headers[key] = value
    connection = headers.get("connection", "").lower()
    if version == "HTTP/1.1":
        keep_alive = "close" not in connection
    else:
        keep_alive = "keep-alive" in connection
    encoding = headers.get("transfer-encoding")
    if encoding is not None:
        if encoding.lower() != "chunked":
            raise _BadRequest(400, f"Unsupported Transfer-Encoding: {encoding[:50]!r}")
        length = -1
    else:
        raw_length = headers.get("content-length", "0").split(",")[0].strip()
        if not raw_length.isdigit():
            raise _BadRequest(400, f"Invalid Content-Length: {raw_length[:50]!r}")
        length = int(raw_length)
        if length > _MAX_BODY:
            raise _BadRequest(413, f"Request body of {length} bytes exceeds {_MAX_BODY} bytes")
    return _Head(method, target, headers, keep_alive, version == "HTTP/1.0", end + 4, length)


def _parse_chunked(data: bytearray, pos: int) -> tuple[bytes, int] | None:
    """Decode a chunked body starting at ``pos``: (body, end position), or None when incomplete."""
    parts: list[bytes] = []
    total = 0
    while True:
        line_end = data.find(b"\r\n", pos)
        if line_end < 0:
            if len(data) - pos > 1024:
                raise _BadRequest(400, "Malformed chunk size line")
            return None
        size_text = bytes(data[pos:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _BadRequest(400, f"Malformed chunk size: {size_text[:20]!r}") from None
        if size < 0:
            raise _BadRequest(400, "Negative chunk size")
        pos = line_end + 2
        if size == 0:
            # Trailer section: header lines until an empty line.
            while True:
                line_end = data.find(b"\r\n", pos)
                if line_end < 0:
                    return None
                if line_end == pos:
                    return b"".join(parts), pos + 2
                pos = line_end + 2
        total += size
        if total > _MAX_BODY:
            raise _BadRequest(413, f"Chunked request body exceeds {_MAX_BODY} bytes")
        if len(data) < pos + size + 2:
            return None
        if data[pos + size:pos + size + 2] != b"\r\n":
            raise _BadRequest(400, "Chunk data not followed by CRLF")
        parts.append(bytes(data[pos:pos + size]))
        pos += size + 2


class HttpProtocol(asyncio.Protocol):
    """One client connection. Created by the loop's server factory; runs on the loop thread."""

    def __init__(self, app: HttpApp, connections: set[HttpProtocol]) -> None:
        self._app = app
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._head: _Head | None = None
        self._busy = False
        self._closed = False
        self._paused = False
        self._task: asyncio.Task[None] | None = None

    # -- asyncio callbacks -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._connections.discard(self)
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        self._buf += data
        if self._busy:
            if len(self._buf) > _MAX_PENDING and not self._paused and self._transport is not None:
                self._paused = True
                self._transport.pause_reading()
            return
        self._process()

    # -- control -----------------------------------------------------------------------------
    def abort(self) -> None:
        """Drop the connection now (used when the server stops)."""
        if self._transport is not None and not self._closed:
            self._closed = True
            self._transport.abort()

    # -- request loop ------------------------------------------------------------------------
    def _process(self) -> None:
        while not self._closed:
            try:
                request = self._next_request()
            except _BadRequest as exc:
                self._write(self._app.error(exc.status, exc.message), close=True)
                return
            if request is None:
                return
            outcome = self._app.handle(request)
            if isinstance(outcome, Response):
                self._send(outcome, request)
                continue
            if isinstance(outcome, Drop):
                self._drop()
                return
            self._busy = True
            self._task = asyncio.get_running_loop().create_task(self._finish(outcome, request))
            return

    async def _finish(self, pending: Awaitable[Response | Drop], request: Request) -> None:
        try:
            outcome = await pending
        except asyncio.CancelledError:
            raise
        except Exception:  # the app should not raise; answer 500 rather than hang the client
            _log.exception("dev server handler failed")
            outcome = self._app.error(500, "Internal dev server error")
        self._task = None
        self._busy = False
        if self._closed:
            return
        if isinstance(outcome, Drop):
            self._drop()
            return
        self._send(outcome, request)
        if self._paused and not self._closed and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        self._process()

    def _next_request(self) -> Request | None:
        data = self._buf
        head = self._head
        if head is None:
            if data[:1] == _TLS_HANDSHAKE:
                # A TLS client (an https:// URL) would otherwise wait for a head that never comes.
                raise _BadRequest(400, "This is a plain HTTP server: the client started TLS; use an http:// URL")
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if len(data) > _MAX_HEAD:
                    raise _BadRequest(431, "Request head too large")
                return None
            if end > _MAX_HEAD:
                raise _BadRequest(431, "Request head too large")
            head = _parse_head(data, end)
            self._head = head
        start = head.body_start
        if head.length >= 0:
            stop = start + head.length
            if len(data) < stop:
                self._maybe_continue(head)
                return None
            body = bytes(data[start:stop])
        else:
            parsed = _parse_chunked(data, start)
            if parsed is None:
                self._maybe_continue(head)
                return None
            body, stop = parsed
        del data[:stop]
        self._head = None
        try:
            return Request(head.method, head.target, head.headers, body, head.keep_alive, head.http10)
        except UnicodeDecodeError:
            raise _BadRequest(400, f"Path is not valid percent-encoded UTF-8: {head.target[:200]!r}") from None

    def _maybe_continue(self, head: _Head) -> None:
        if (not head.continued and self._transport is not None
                and head.headers.get("expect", "").lower() == "100-continue"):
            head.continued = True
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _send(self, response: Response, request: Request) -> None:
        self._write(response, response.close or not request.keep_alive, request.http10)

    def _write(self, response: Response, close: bool, http10: bool = False) -> None:
        transport = self._transport
        if transport is None or self._closed:
            return
        transport.write(_serialize(response, close, http10))
        if close:
            self._closed = True
            self._connections.discard(self)
            transport.close()

    def _drop(self) -> None:
        if self._transport is not None:
            self._closed = True
            self._connections.discard(self)
            reset_connection(self._transport)
