"""Every transport asks only for the encodings the clients decode (gzip and deflate, in
``_http11.BodyCollector``), whatever the HTTP libraries would advertise (``requests`` and ``httpx``
add br and zstd when their optional decoders are installed)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx._client
import pytest
import requests.utils
from client._driver import Driver, configuration_for
from client._scripted import OK, ScriptedServer


def test_a_request_asks_for_gzip_and_deflate_only(
    serve: Callable[..., ScriptedServer], make_driver: Callable[..., Driver], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As installed brotli and zstandard packages make the libraries advertise.
    monkeypatch.setattr(requests.utils, "DEFAULT_ACCEPT_ENCODING", "gzip, deflate, br, zstd")
    monkeypatch.setattr(httpx._client, "ACCEPT_ENCODING", "gzip, deflate, br, zstd")
    heads: list[bytes] = []

    def capture(conn: socket.socket, request: bytes) -> bool:
        heads.append(request.split(b"\r\n\r\n", 1)[0].lower())
        conn.sendall(OK)
        return True

    server = serve([capture])
    client = make_driver(configuration_for(server.api_url))
    client.get_task_def("any")
    [head] = heads
    encodings = [line for line in head.split(b"\r\n") if line.startswith(b"accept-encoding:")]
    assert encodings == [b"accept-encoding: gzip, deflate"], head
    assert any(line.startswith(b"user-agent:") for line in head.split(b"\r\n")), head
