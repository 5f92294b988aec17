"""The lean HTTP/1.1 transports: the sans-I/O parser, and both transports against a scripted server.

The scripted server (``_scripted``) answers each request with bytes the test chooses (chunked
bodies, bodies that end with the connection, gzip, garbage, a reset in the middle, silence), so
every framing rule and failure mode is exercised over real loopback sockets.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import zlib
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from client._scripted import OK, ScriptedServer, answer, reset_after, silence

from conductor_actors.client._http11 import (
    BodyTooLarge,
    ProtocolError,
    ResponseReader,
    encode_request,
    host_header,
    lean_headers,
    origin_of,
)
from conductor_actors.client._lean_async import LeanAsyncPools
from conductor_actors.client._lean_sync import LeanConnectionPool, pool_for_origin

#: A body limit far above every answer of these tests.
LIMIT = 1 << 20


def feed_bytewise(reader: ResponseReader, data: bytes) -> bool:
    done = False
    for i in range(len(data)):
        done = reader.feed(data[i : i + 1])
    return done


def test_request_bytes_carry_host_headers_length_and_body() -> None:
    data = encode_request("POST", "/api/tasks?x=1", "h:81", [("Accept", "*/*")], b"{}")
    assert data == b"POST /api/tasks?x=1 HTTP/1.1\r\nHost: h:81\r\nAccept: */*\r\nContent-Length: 2\r\n\r\n{}"
    assert b"Content-Length" not in encode_request("GET", "/", "h", [], None)
    assert encode_request("POST", "/", "h", [], None).endswith(b"Content-Length: 0\r\n\r\n")


@pytest.mark.parametrize(
    ("raw", "body", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello", True),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
         b"abcde", True),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", b"ok", True),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b"", True),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", b"x", False),
    ],
)
def test_parser_frames_bodies_even_when_bytes_arrive_one_by_one(raw: bytes, body: bytes, keep_alive: bool) -> None:
    reader = ResponseReader("GET", LIMIT)
    assert feed_bytewise(reader, raw) is True
    assert reader.body == body and reader.keep_alive is keep_alive


def test_parser_reads_to_the_end_of_the_connection_and_decodes_gzip() -> None:
    reader = ResponseReader("GET", LIMIT)
    assert reader.feed(b"HTTP/1.0 200 OK\r\n\r\nuntil the end") is False
    reader.eof()
    assert reader.body == b"until the end" and reader.keep_alive is False
    packed = gzip.compress(b'{"a":1}')
    reader = ResponseReader("GET", LIMIT)
    reader.feed(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(packed) + packed)
    assert reader.body == b'{"a":1}'


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"<html>oops</html>\r\n\r\n", "not an HTTP/1.1 status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx", "unsupported Content-Encoding"),
    ],
)
def test_parser_names_what_is_wrong_with_a_broken_answer(raw: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        ResponseReader("GET", LIMIT).feed(raw)


def test_parser_tells_a_truncated_answer_from_no_answer() -> None:
    with pytest.raises(ProtocolError, match="without answering"):
        ResponseReader("GET", LIMIT).eof()
    reader = ResponseReader("GET", LIMIT)
    reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
    with pytest.raises(ProtocolError, match="middle of its answer"):
        reader.eof()


# ------------------------------------------------------------------------------------------------
# Both transports against a scripted server.

class Exchange:
    """One request through the lean transport of either flavour, driven directly: (status, body), or
    what the transport raises (``ConnectionError`` for a failed connection, ``ProtocolError`` for a
    broken answer, ``TimeoutError`` when no answer came in time)."""

    def __init__(self, flavour: str) -> None:
        self.flavour = flavour
        self.sync_pools: dict[tuple[str, str, int], LeanConnectionPool] = {}
        if flavour == "async":
            self.loop = asyncio.new_event_loop()
            self.pools = LeanAsyncPools(2, True, LIMIT)

    def post(self, url: str, timeout: float = 5.0) -> tuple[int, bytes]:
        return self.send("POST", url, timeout)

    def get(self, url: str, timeout: float = 5.0) -> tuple[int, bytes]:
        return self.send("GET", url, timeout)

    def send(self, method: str, url: str, timeout: float) -> tuple[int, bytes]:
        body = b"{}" if method == "POST" else None
        parts = urlsplit(url)
        origin = origin_of(parts)
        headers = lean_headers()
        if self.flavour == "sync":
            pool = self.sync_pools.get(origin)
            if pool is None:
                pool = self.sync_pools[origin] = pool_for_origin(*origin, True, 2, LIMIT)
            reader = pool.request(method, parts.path, headers, body, timeout, timeout)
        else:
            reader = self.loop.run_until_complete(
                self.pools.exchange(self.pools.pool_of(*origin), method, parts.path, headers, body, timeout, timeout)
            )
        return reader.status, reader.body

    def in_use(self) -> int:
        if self.flavour == "sync":
            return sum(pool.in_use for pool in self.sync_pools.values())
        return self.pools.connections_in_use()

    def close(self) -> None:
        for pool in self.sync_pools.values():
            pool.close()
        if self.flavour == "async":
            self.loop.run_until_complete(self.pools.aclose())
            self.loop.close()


@pytest.fixture(name="exchange")
def exchange_fixture(flavour: str) -> Iterator[Exchange]:
    exchange = Exchange(flavour)
    yield exchange
    exchange.close()


def test_keep_alive_reuses_one_connection(serve: Callable[..., ScriptedServer], exchange: Exchange) -> None:
    server = serve([answer(OK) for _ in range(5)])
    assert [exchange.post(server.url) for _ in range(5)] == [(200, b"{}")] * 5
    assert server.connections == 1 and exchange.in_use() == 0


def test_the_lean_transports_ask_for_the_encodings_they_decode(
    serve: Callable[..., ScriptedServer], exchange: Exchange
) -> None:
    """The lean transports send only gzip and deflate, what ``BodyCollector`` decodes (the clients
    over them: ``test_accept_encoding``)."""
    heads: list[bytes] = []

    def capture(conn: socket.socket, request: bytes) -> bool:
        heads.append(request.split(b"\r\n\r\n", 1)[0].lower())
        conn.sendall(OK)
        return True

    server = serve([capture])
    assert exchange.get(server.url) == (200, b"{}")
    [head] = heads
    assert [line for line in head.split(b"\r\n") if line.startswith(b"accept-encoding:")] == [
        b"accept-encoding: gzip, deflate"], head


def test_chunked_and_close_delimited_bodies_arrive_whole(
    serve: Callable[..., ScriptedServer], exchange: Exchange
) -> None:
    server = serve([
        answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n"),
        answer(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nthe rest", keep=False),
        answer(OK),
    ])
    assert exchange.post(server.url) == (200, b'{"a":1}')
    assert exchange.post(server.url) == (200, b"the rest")
    assert exchange.post(server.url) == (200, b"{}")  # a fresh connection after the closing answer
    assert server.connections == 2 and exchange.in_use() == 0


def test_a_connection_the_server_closed_while_idle_is_replaced_before_the_request_is_written(
    serve: Callable[..., ScriptedServer], exchange: Exchange
) -> None:
    closed = threading.Event()
    server = serve([answer(OK, keep=False, then=closed.set), answer(OK)])  # closes without saying so
    assert exchange.get(server.url) == (200, b"{}")
    closed.wait(5)
    assert exchange.get(server.url) == (200, b"{}")  # the closed connection was noticed, never used
    assert server.connections == 2 and server.requests == 2


def test_a_post_on_a_connection_closed_while_idle_fails_rather_than_being_sent_twice(
    serve: Callable[..., ScriptedServer], exchange: Exchange
) -> None:
    closed = threading.Event()
    server = serve([answer(OK, keep=False, then=closed.set), answer(OK), answer(OK)])
    assert exchange.post(server.url) == (200, b"{}")
    closed.wait(5)
    try:  # sent on the stale connection: it fails; or the close was noticed first: a fresh connection
        delivered = exchange.post(server.url) == (200, b"{}")
    except (ConnectionError, ProtocolError):
        delivered = False
    assert server.requests == (2 if delivered else 1)  # the second POST reached the server at most once
    assert exchange.post(server.url) == (200, b"{}")
    assert exchange.in_use() == 0


def test_a_reset_in_the_middle_of_an_answer_is_a_connection_error(
    serve: Callable[..., ScriptedServer], exchange: Exchange
) -> None:
    server = serve([reset_after(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"), answer(OK)])
    with pytest.raises((ConnectionError, ProtocolError)):
        exchange.post(server.url)
    assert exchange.in_use() == 0
    assert exchange.post(server.url) == (200, b"{}")  # the transport stays usable


def test_garbage_instead_of_http_is_a_connection_error(
    serve: Callable[..., ScriptedServer], exchange: Exchange
) -> None:
    server = serve([answer(b"<html>not http</html>\r\n\r\n", keep=False)])
    with pytest.raises(ProtocolError, match="status line"):
        exchange.post(server.url)


def test_no_answer_within_the_read_timeout_is_a_timeout(
    serve: Callable[..., ScriptedServer], exchange: Exchange
) -> None:
    server = serve([silence])
    with pytest.raises(TimeoutError):
        exchange.post(server.url, timeout=0.2)
    assert exchange.in_use() == 0


def test_a_refused_connection_is_a_connect_error(exchange: Exchange) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionError):
        exchange.post(f"http://127.0.0.1:{port}/api/tasks")


# ------------------------------------------------------------------------------------------------
# Bounded bodies and deflate, in the parser itself.

def test_a_declared_length_over_the_limit_fails_as_soon_as_the_head_is_read() -> None:
    reader = ResponseReader("GET", 100)
    with pytest.raises(BodyTooLarge) as caught:
        reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n")
    assert (caught.value.limit, caught.value.size, caught.value.declared) == (100, 101, True)
    assert "declares a body of 101 bytes, over the limit of 100 bytes" in str(caught.value)


@pytest.mark.parametrize(
    ("head", "piece"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"a\r\n0123456789\r\n"),
        (b"HTTP/1.1 200 OK\r\n\r\n", b"0123456789"),  # ends with the connection
    ],
)
def test_a_streamed_body_fails_as_soon_as_it_passes_the_limit(head: bytes, piece: bytes) -> None:
    reader = ResponseReader("GET", 100)
    reader.feed(head)
    for _ in range(10):
        reader.feed(piece)  # 100 bytes of body: at the limit, not over it
    with pytest.raises(BodyTooLarge) as caught:
        reader.feed(piece)
    assert caught.value.size > 100 and not caught.value.declared


def test_a_chunk_announced_over_the_limit_fails_before_its_data() -> None:
    with pytest.raises(BodyTooLarge, match="over the limit of 100 bytes"):
        ResponseReader("GET", 100).feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n")


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_small_body_that_inflates_past_the_limit_fails_without_being_expanded(encoding: str) -> None:
    plain = b"0" * (50 * 1024 * 1024)
    packed = gzip.compress(plain) if encoding == "gzip" else zlib.compress(plain)
    assert len(packed) < 100 * 1024
    reader = ResponseReader("GET", 1024 * 1024)
    with pytest.raises(BodyTooLarge) as caught:
        reader.feed(b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n" % (
            encoding.encode(), len(packed)) + packed)
    assert caught.value.size == 1024 * 1024 + 1  # decoding stopped one byte past the limit


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib-wrapped", "raw"])
def test_deflate_decodes_wrapped_or_raw_even_one_byte_at_a_time(wbits: int) -> None:
    packer = zlib.compressobj(wbits=wbits)
    packed = packer.compress(b'{"a":1}') + packer.flush()
    raw = b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n" % len(packed) + packed
    reader = ResponseReader("GET", LIMIT)
    assert feed_bytewise(reader, raw) is True
    assert reader.body == b'{"a":1}'


def test_a_truncated_compressed_body_is_a_protocol_error() -> None:
    packed = gzip.compress(b"x" * 1000)[:-10]
    reader = ResponseReader("GET", LIMIT)
    with pytest.raises(ProtocolError, match="the gzip body is truncated"):
        reader.feed(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(packed) + packed)


def test_the_host_header_brackets_ipv6_and_leaves_out_the_default_port() -> None:
    assert host_header("http", "::1", 8080) == "[::1]:8080"
    assert host_header("https", "::1", 443) == "[::1]"
    assert host_header("http", "conductor", 80) == "conductor"
    assert host_header("http", "conductor", 443) == "conductor:443"  # 443 is https' default, not http's
    assert host_header("https", "conductor", 80) == "conductor:80"


def test_an_async_call_in_flight_keeps_its_read_timeout_when_the_pools_are_closed(
    serve: Callable[..., ScriptedServer],
) -> None:
    """The read deadlines of the async transport share one loop timer; closing the pools (another
    task calling ``aclose``) must not take the deadline of a call still waiting for its answer."""
    received = threading.Event()

    def take_and_stay_silent(conn: socket.socket, request: bytes) -> bool:
        received.set()
        return silence(conn, request)

    server = serve([take_and_stay_silent])
    pools = LeanAsyncPools(2, True, LIMIT)
    origin = origin_of(urlsplit(server.url))

    async def scenario() -> None:
        call = asyncio.ensure_future(
            pools.exchange(pools.pool_of(*origin), "POST", "/", lean_headers(), b"{}", 5.0, 0.2)
        )
        # The server has the request: the call wrote it and waits for its answer.
        assert await asyncio.get_running_loop().run_in_executor(None, received.wait, 5.0)
        await pools.aclose()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(call, 5.0)

    asyncio.run(scenario())


def test_concurrent_async_answers_arriving_in_pieces_each_reach_their_own_call() -> None:
    """The async connections share one read buffer; answers read in many small pieces, interleaved
    across connections, must each arrive whole at the call that asked."""

    async def answer_in_pieces(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
                await reader.readexactly(length)
                body = path * 200
                data = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                for start in range(0, len(data), 97):
                    writer.write(data[start:start + 97])
                    await writer.drain()
                    await asyncio.sleep(0)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed its connections
        finally:
            writer.close()

    async def scenario() -> list[bytes]:
        server = await asyncio.start_server(answer_in_pieces, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pools = LeanAsyncPools(20, True, LIMIT)
        pool = pools.pool_of("http", "127.0.0.1", port)
        try:
            readers = await asyncio.gather(*(
                pools.exchange(pool, "POST", f"/call-{n}", lean_headers(), b"{}", 5.0, 5.0) for n in range(20)
            ))
            return [reader.body for reader in readers]
        finally:
            await pools.aclose()
            server.close()
            await server.wait_closed()

    bodies = asyncio.run(scenario())
    assert bodies == [f"/call-{n}".encode() * 200 for n in range(20)]


def test_keep_alive_reuses_a_connection_whose_descriptor_is_above_1023(
    serve: Callable[..., ScriptedServer], exchange: Exchange
) -> None:
    """The check that an idle connection is still open must work for any descriptor: ``select``
    refuses those from 1024 on, which made every such connection look closed and be replaced."""
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        if hard != resource.RLIM_INFINITY and hard < 1200:
            pytest.skip("this machine allows fewer than 1200 open files")
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard))
    fillers: list[int] = []
    try:
        while not fillers or fillers[-1] < 1100:  # the connection gets the next free descriptor
            fillers.append(os.open(os.devnull, os.O_RDONLY))
        server = serve([answer(OK) for _ in range(3)])
        assert [exchange.post(server.url) for _ in range(3)] == [(200, b"{}")] * 3
        assert server.connections == 1
    finally:
        for fd in fillers:
            os.close(fd)
        if soft < 1200:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
