"""Our HTTP/1.1 response reader (``_http11.ResponseReader``) against ``h11``, byte for byte.

Each generated answer (Content-Length, chunked with chunk extensions and trailers, close-delimited,
1xx before the final answer, 204, gzip and deflate bodies, and broken ones) is cut at EVERY split
point of its byte stream and fed in two pieces to our reader and to an ``h11`` client connection.
Both must agree: the same status, headers, body (h11's body decoded as Content-Encoding says, since
h11 does not decode) and keep-alive verdict, or a rejection by both. The answers are small, so the
whole file runs in well under a second.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass

import h11
import pytest

from conductor_actors.client._http11 import ProtocolError, ResponseReader

#: A body limit far above every answer here (the limits have their own tests).
LIMIT = 1 << 20


@dataclass(frozen=True)
class Answer:
    """What a parser made of an answer: the same fields from both, or ``rejected``."""

    status: int = 0
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    keep_alive: bool = False
    rejected: bool = False


REJECTED = Answer(rejected=True)


def ours(pieces: list[bytes], eof: bool) -> Answer:
    reader = ResponseReader("GET", LIMIT)
    try:
        for piece in pieces:
            if reader.feed(piece):
                break
        if not reader.done:
            if not eof:
                return REJECTED  # incomplete: never happens for the answers below
            reader.eof()
    except ProtocolError:
        return REJECTED
    return Answer(reader.status, tuple(sorted(reader.headers.items())), reader.body, reader.keep_alive)


def _decoded(headers: dict[str, str], body: bytes) -> bytes:
    """The body as Content-Encoding says (the reference decoding: the standard library's one-shot calls)."""
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(body)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)  # raw deflate, as some servers send it
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


def theirs(pieces: list[bytes], eof: bool) -> Answer:
    connection = h11.Connection(h11.CLIENT)
    connection.send(h11.Request(method="GET", target="/", headers=[("Host", "conductor")]))
    connection.send(h11.EndOfMessage())
    headers: dict[str, str] = {}
    status = 0
    body = bytearray()
    try:
        for piece in [*pieces, b""] if eof else pieces:
            connection.receive_data(piece)
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                    break
                if isinstance(event, h11.Response):
                    status = event.status_code
                    for name, value in event.headers:
                        key, text = name.decode("latin-1"), value.decode("latin-1")
                        headers[key] = f"{headers[key]}, {text}" if key in headers else text
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    # Reusable: h11 did not switch to MUST_CLOSE, and the answer did not end with the
                    # connection (a close-delimited body).
                    keep_alive = connection.their_state is h11.DONE and not isinstance(
                        connection.next_event(), h11.ConnectionClosed
                    )
                    return Answer(status, tuple(sorted(headers.items())), _decoded(headers, bytes(body)), keep_alive)
    except (h11.RemoteProtocolError, ValueError, OSError, EOFError, zlib.error):
        return REJECTED
    return REJECTED  # no complete answer


def chunked(body: bytes, sizes: list[int], extension: bytes = b"", trailers: bytes = b"") -> bytes:
    """``body`` as chunks of the given sizes (the last size repeats), then the last chunk and trailers."""
    out = bytearray()
    position, index = 0, 0
    while position < len(body):
        size = sizes[min(index, len(sizes) - 1)]
        piece = body[position : position + size]
        out += b"%x%s\r\n%s\r\n" % (len(piece), extension, piece)
        position += size
        index += 1
    return bytes(out) + b"0" + extension + b"\r\n" + trailers + b"\r\n"


JSON = b'[{"taskId":"t1","taskType":"greet","status":"IN_PROGRESS","inputData":{"name":"Ada"}}]'
GZIP = gzip.compress(JSON)
DEFLATE = zlib.compress(JSON)


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"

#: name -> (the answer's bytes, whether the connection ends after them).
ANSWERS: dict[str, tuple[bytes, bool]] = {
    "content-length": (HEAD + b"Content-Length: %d\r\n\r\n" % len(JSON) + JSON, False),
    "empty content-length": (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", False),
    "chunked": (HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(JSON, [7, 1, 30]), False),
    "chunked with extensions and trailers": (
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
        + chunked(JSON, [16], extension=b';name="value";flag', trailers=b"X-Checksum: abc\r\nX-More: 1\r\n"),
        False,
    ),
    "chunked in capitals hex": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1A\r\n" + JSON[:26] + b"\r\n0\r\n\r\n", False
    ),
    "close-delimited": (HEAD + b"\r\n" + JSON, True),
    "close-delimited, HTTP/1.0": (b"HTTP/1.0 200 OK\r\n\r\n" + JSON, True),
    "connection close": (HEAD + b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(JSON) + JSON, True),
    "100 continue first": (
        b"HTTP/1.1 100 Continue\r\n\r\n" + b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", False
    ),
    "two 1xx first": (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        False,
    ),
    "204 no content": (b"HTTP/1.1 204 No Content\r\nX-Id: 1\r\n\r\n", False),
    "repeated header": (b"HTTP/1.1 200 OK\r\nVary: a\r\nVary: b\r\nContent-Length: 2\r\n\r\n{}", False),
    "header whitespace": (b"HTTP/1.1 404 Not Found\r\nX-Pad:   padded  \r\nContent-Length: 2\r\n\r\n{}", False),
    "no reason phrase": (b"HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\n{}", False),
    "gzip": (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(GZIP) + GZIP, False),
    "gzip chunked": (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(GZIP, [5, 40]),
        False,
    ),
    "deflate (zlib)": (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n" % len(DEFLATE) + DEFLATE, False
    ),
    "deflate (raw), close-delimited": (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n\r\n" + _raw_deflate(JSON), True
    ),
    # Broken answers: both must reject them.
    "not http": (b"<html>oops</html>\r\n\r\n", True),
    "header without colon": (b"HTTP/1.1 200 OK\r\nno colon\r\nContent-Length: 2\r\n\r\n{}", False),
    "bad content-length": (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n{}", True),
    "bad chunk size": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", True),
    "chunk without its CRLF": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XY0\r\n\r\n", True),
    "truncated content-length": (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", True),
    "truncated chunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nhalf", True),
    "truncated head": (b"HTTP/1.1 200 OK\r\nContent-Le", True),
    "broken gzip": (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope", False),
    "truncated gzip": (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 12\r\n\r\n" + GZIP[:12], False
    ),
}


@pytest.mark.parametrize("name", list(ANSWERS))
def test_our_reader_and_h11_agree_at_every_split_point(name: str) -> None:
    data, eof = ANSWERS[name]
    expected = theirs([data], eof)
    assert expected == ours([data], eof), name
    assert ours([data[i : i + 1] for i in range(len(data))], eof) == expected, f"{name}: byte by byte"
    for split in range(1, len(data)):
        pieces = [data[:split], data[split:]]
        assert ours(pieces, eof) == expected, f"{name}: split at byte {split}"
        assert theirs(pieces, eof) == expected, f"{name}: h11 split at byte {split}"


def test_the_broken_answers_are_rejected_and_the_others_read() -> None:
    """The table holds both kinds, so agreement above is never agreement on rejecting everything."""
    verdicts = {name: theirs([data], eof).rejected for name, (data, eof) in ANSWERS.items()}
    broken = list(ANSWERS).index("not http")
    assert not any(list(verdicts.values())[:broken]), verdicts
    assert all(list(verdicts.values())[broken:]), verdicts
