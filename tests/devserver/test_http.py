"""The HTTP/1.1 layer: framing, keep-alive, pipelining, malformed requests, paths, routing errors."""

from __future__ import annotations

import json
import socket
import time

from devserver._support import RawConnection, one_task_workflow

from conductor_actors import Configuration
from conductor_actors._parent import check_server
from conductor_actors.devserver import DevServer

TASKDEFS = b"GET /api/metadata/taskdefs HTTP/1.1\r\nHost: x\r\n\r\n"


def test_keep_alive_serves_many_requests_on_one_connection(conn: RawConnection) -> None:
    for _ in range(3):
        conn.send(TASKDEFS)
        reply = conn.read_reply()
        assert reply.status == 200
        assert reply.headers["content-type"] == "application/json"
        assert reply.json() == []
        assert "connection" not in reply.headers


def test_accepted_sockets_have_tcp_nodelay(dev_server: DevServer, conn: RawConnection) -> None:
    conn.send(TASKDEFS)
    assert conn.read_reply().status == 200

    def nodelay_flags() -> list[int]:
        sockets = [c._transport.get_extra_info("socket") for c in dev_server._connections]
        return [s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in sockets]

    flags = dev_server._call(nodelay_flags)
    assert flags and all(flags)


def test_connection_close_is_honoured(conn: RawConnection) -> None:
    conn.send(b"GET /api/metadata/taskdefs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    reply = conn.read_reply()
    assert reply.status == 200
    assert reply.headers["connection"] == "close"
    assert conn.at_eof()


def test_http_1_0_closes_unless_keep_alive_is_asked(conn: RawConnection) -> None:
    conn.send(b"GET /api/metadata/taskdefs HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    kept = conn.read_reply()
    assert kept.status == 200 and kept.headers["connection"] == "keep-alive"
    conn.send(b"GET /api/metadata/taskdefs HTTP/1.0\r\n\r\n")
    assert conn.read_reply().status == 200
    assert conn.at_eof()


def test_pipelined_requests_are_answered_in_order_even_behind_a_long_poll(conn: RawConnection) -> None:
    started = time.monotonic()
    conn.send(b"GET /api/tasks/poll/batch/nothing?timeout=300 HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /api/tasks/queue/size?taskType=nothing HTTP/1.1\r\nHost: x\r\n\r\n"
              + TASKDEFS)
    first, second, third = conn.read_reply(), conn.read_reply(), conn.read_reply()
    assert (first.status, first.json()) == (200, [])
    assert time.monotonic() - started >= 0.29  # the long poll ran its course first
    assert (second.status, second.json()) == (200, 0)
    assert (third.status, third.json()) == (200, [])


def test_a_request_split_across_packets_and_a_chunked_body(conn: RawConnection) -> None:
    body = json.dumps([{"name": "chunky"}]).encode()
    head = b"POST /api/metadata/taskdefs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    conn.send(head)
    conn.send(b"\r\n" + b"%x\r\n%s\r\n" % (5, body[:5]))
    conn.send(b"%x;ext=1\r\n%s\r\n0\r\nTrailer: yes\r\n\r\n" % (len(body) - 5, body[5:]))
    assert conn.read_reply().status == 200
    conn.send(b"GET /api/metadata/taskdefs/chunky HTTP/1.1\r\n\r\n")
    assert conn.read_reply().json()["name"] == "chunky"


def test_expect_100_continue_gets_an_interim_answer(conn: RawConnection) -> None:
    body = json.dumps([{"name": "patient"}]).encode()
    conn.send(b"POST /api/metadata/taskdefs HTTP/1.1\r\nExpect: 100-continue\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body))
    interim = conn.read_reply()
    assert interim.status == 100
    conn.send(body)
    assert conn.read_reply().status == 200


def test_malformed_requests_get_400_and_the_connection_is_closed(dev_server: DevServer) -> None:
    for garbage in (b"NOT A REQUEST\r\n\r\n", b"GET /api HTTP/9.9\r\n\r\n", b"GET api HTTP/1.1\r\n\r\n",
                    b"GET /api/x HTTP/1.1\r\nno colon here\r\n\r\n",
                    b"POST /api/tasks HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                    b"POST /api/tasks HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                    b"POST /api/tasks HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
        conn = RawConnection(dev_server)
        try:
            conn.send(garbage)
            reply = conn.read_reply()
            assert reply.status == 400, garbage
            body = reply.json()
            assert body["status"] == 400 and body["retryable"] is False and body["message"]
            assert reply.headers["connection"] == "close"
            assert conn.at_eof()
        finally:
            conn.close()


def test_a_tls_client_is_answered_at_once_instead_of_waiting_for_a_head(dev_server: DevServer) -> None:
    """An https:// URL pointed at the plain-HTTP server: its ClientHello has no request head to wait
    for, so the server answers 400 and closes at once, and the client's TLS layer fails right away
    (the start-up check names the error) instead of after its read timeout."""
    conn = RawConnection(dev_server)
    try:
        conn.send(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03")  # the start of a ClientHello
        reply = conn.read_reply()
        assert reply.status == 400 and "http://" in reply.json()["message"]
        assert conn.at_eof()
    finally:
        conn.close()
    line = check_server(Configuration(server_api_url=dev_server.url.replace("http://", "https://"), env={}), "x")
    plain = dev_server.url
    assert line is not None and line.startswith(f"cannot reach the Conductor server at https://{plain[7:]}: the "
                                                "TLS handshake failed ("), line
    assert line.endswith(f"; if the server speaks plain HTTP, use {plain}"), line


def test_an_oversized_head_gets_431(conn: RawConnection) -> None:
    conn.send(b"GET /api/x HTTP/1.1\r\nX-Big: " + b"a" * 70_000)
    assert conn.read_reply().status == 431
    assert conn.at_eof()


def test_path_segments_are_percent_decoded(dev_server: DevServer, conn: RawConnection) -> None:
    dev_server.register_workflow({"name": "wf", "tasks": [{"name": "a/b c", "taskReferenceName": "r"}]})
    dev_server.start_workflow("wf")
    conn.send(b"GET /api/tasks/poll/batch/a%2Fb%20c?count=1 HTTP/1.1\r\n\r\n")
    tasks = conn.read_reply().json()
    assert [t["taskType"] for t in tasks] == ["a/b c"]


def test_204_has_no_body_and_no_length(conn: RawConnection) -> None:
    conn.send(b"GET /api/tasks/nobody/log HTTP/1.1\r\n\r\n")
    reply = conn.read_reply()
    assert reply.status == 204
    assert "content-length" not in reply.headers and reply.body == b""
    conn.send(TASKDEFS)  # the connection is still in step
    assert conn.read_reply().status == 200


def test_unknown_path_is_404_and_wrong_method_is_405(conn: RawConnection) -> None:
    conn.send(b"GET /api/nothing/here HTTP/1.1\r\n\r\n")
    missing = conn.read_reply()
    assert missing.status == 404
    assert missing.json()["message"] == "No static resource api/nothing/here."
    conn.send(b"DELETE /api/tasks HTTP/1.1\r\n\r\n")
    wrong = conn.read_reply()
    assert wrong.status == 405
    assert wrong.json() == {"status": 405, "message": "Request method 'DELETE' is not supported",
                            "instance": wrong.json()["instance"], "retryable": False}
    # Like Spring: POST /tasks/{id} only matches GET /tasks/{id} by path -> 405, and a GET of
    # a literal POST path falls through to the GET variable route.
    conn.send(b"POST /api/tasks/some-id HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    assert conn.read_reply().status == 405
    conn.send(b"GET /api/tasks/update-v2 HTTP/1.1\r\n\r\n")
    assert conn.read_reply().json()["message"] == "Task not found for taskId: update-v2"


def test_bad_json_body_is_400(dev_server: DevServer, conn: RawConnection) -> None:
    one_task_workflow(dev_server)
    for body in (b"{not json", b"\xff\xfe", b'{"taskId": NaN}', b""):
        conn.send(b"POST /api/tasks HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        reply = conn.read_reply()
        assert reply.status == 400, body
        assert reply.json()["status"] == 400
