"""Helpers for the client tests: one scenario, either client.

``Driver`` wraps a ``ConductorClient`` ("sync") or an ``AsyncConductorClient`` ("async") and offers
the same blocking methods for both: async calls run on the driver's own event loop
(``make_driver`` in conftest builds drivers and closes them after the test). ``Recorder`` and
``canned_client_kwargs`` build the transport seams the clients accept (a ``requests.Session``, an
``httpx.AsyncClient`` or transport) to record what went over the wire or to answer with canned bytes.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import requests
import requests.adapters

from conductor_actors.client import AsyncConductorClient, ConductorClient, Configuration
from conductor_actors.client._standard_async import ShardedTransport


class Driver:
    """Blocking access to either client: ``driver.batch_poll(...)`` works for both flavours."""

    def __init__(
        self, flavour: str, client: ConductorClient | AsyncConductorClient, seam: Any = None
    ) -> None:
        self.flavour = flavour
        self.client = client
        self._seam = seam  # a session / AsyncClient handed to the client: the client does not close it
        self._loop = asyncio.new_event_loop() if flavour == "async" else None

    def run(self, awaitable: Any) -> Any:
        assert self._loop is not None
        return self._loop.run_until_complete(awaitable)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.client, name)
        if self._loop is None:
            return method  # type: ignore[no-any-return]

        def blocking(*args: Any, **kwargs: Any) -> Any:
            return self.run(method(*args, **kwargs))

        return blocking

    def gather(self, calls: list[Callable[[], Any]]) -> list[Any]:
        """Run the calls concurrently: threads for the sync client, tasks on one loop for the async one."""
        if self._loop is None:
            results: list[Any] = [None] * len(calls)
            errors: list[BaseException] = []
            barrier = threading.Barrier(len(calls))

            def worker(index: int) -> None:
                barrier.wait(timeout=10)
                try:
                    results[index] = calls[index]()
                except BaseException as exc:  # reported below
                    errors.append(exc)

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            if errors:
                raise errors[0]
            return results

        async def together() -> list[Any]:
            return list(await asyncio.gather(*(call() for call in calls)))

        return self.run(together())  # type: ignore[no-any-return]

    def exchange(self, request: Any, token: str | None) -> tuple[int, bytes]:
        """One raw exchange through the client's transport: (status, body), no parsing (reads the
        client's private ``_exchange``; for the transport tests)."""
        if self._loop is None:
            return self.client._exchange(request, token)  # type: ignore[union-attr]
        return self.run(self.client._exchange(request, token))  # type: ignore[no-any-return]

    def raw(self, name: str) -> Callable[..., Any]:
        """The client's own method (a coroutine function for the async client), for ``gather``."""
        return getattr(self.client, name)  # type: ignore[no-any-return]

    def close(self) -> None:
        if isinstance(self.client, AsyncConductorClient):
            self.run(self.client.aclose())
            if isinstance(self._seam, httpx.AsyncClient):
                self.run(self._seam.aclose())
            assert self._loop is not None
            self._loop.close()
        else:
            self.client.close()
            if isinstance(self._seam, requests.Session):
                self._seam.close()

    def all_connections_idle(self) -> bool:
        """Whether every pooled connection is back in its pool (no response left open).

        Reads library internals (urllib3's and httpcore's pools); only for the keep-alive tests.
        """
        if isinstance(self.client, AsyncConductorClient) and self.client._lean is not None:
            return self.client._lean[1].in_use == 0  # the client's own lean pool
        if isinstance(self.client, ConductorClient) and self.client._lean is not None:
            return self.client._lean[0].in_use == 0
        if isinstance(self.client, ConductorClient):
            assert self.client._requests is not None
            adapter = self.client._requests.session.get_adapter(self.client.configuration.server_api_url)
            pools = adapter.poolmanager.pools  # type: ignore[attr-defined]
            keys = pools.keys()  # the container refuses plain iteration
            return all(pools[key].pool.qsize() == pools[key].pool.maxsize for key in keys)
        assert self.client._httpx is not None
        transport = self.client._httpx.http._transport  # type: ignore[attr-defined]
        if not isinstance(transport, ShardedTransport):
            return all(connection.is_idle() for connection in transport._pool.connections)
        idle = all(connection.is_idle() for shard in transport.shards for connection in shard._pool.connections)
        return idle and not any(transport.in_flight)  # every response closed: no shard counts one


class ConnectionCounter:
    """A loopback TCP relay in front of a server that counts the connections clients open through it."""

    def __init__(self, server_url: str) -> None:
        parts = urlsplit(server_url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = server_url.replace(parts.netloc, f"127.0.0.1:{self._listener.getsockname()[1]}", 1)
        self.opened = 0
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="connection-counter", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(self._target)
            for sock in (downstream, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.opened += 1
                self._sockets += [downstream, upstream]
            for source, sink in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()


def configuration_for(url: str, **kwargs: Any) -> Configuration:
    """A configuration for a test server that ignores the machine's environment, except the HTTP
    transport under test (set per test by the ``http_transport`` fixture)."""
    kwargs.setdefault("http_transport", os.environ.get("CONDUCTOR_ACTORS_HTTP_TRANSPORT"))
    return Configuration(server_api_url=url, env={}, **kwargs)


def make_driver(flavour: str, configuration: Configuration, **kwargs: Any) -> Driver:
    """A ``Driver`` over a new client of ``flavour`` (kwargs go to the client's constructor)."""
    client: ConductorClient | AsyncConductorClient
    if flavour == "sync":
        client = ConductorClient(configuration, **kwargs)
    else:
        client = AsyncConductorClient(configuration, **kwargs)
    return Driver(flavour, client, kwargs.get("session") or kwargs.get("http_client"))


# ----------------------------------------------------------------------------------------------
# Transport seams

#: A canned answer: (status, body) or (status, body, headers).
Answer = tuple[int, bytes] | tuple[int, bytes, dict[str, str]]
#: (method, path with query, headers, body) -> answer; a canned server.
Handler = Callable[[str, str, dict[str, str], bytes], Any]


def _unpack(answer: Any) -> tuple[int, bytes, dict[str, str]]:
    status, body, *rest = answer
    return status, body, (rest[0] if rest else {})


class _CannedAdapter(requests.adapters.BaseAdapter):
    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self._handler = handler

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        raw_body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        status, body, headers = _unpack(
            self._handler(str(request.method), request.path_url, dict(request.headers), raw_body)
        )
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        response._content = body
        response.request = request
        response.url = str(request.url)
        return response

    def close(self) -> None:
        pass


def canned_client_kwargs(flavour: str, handler: Handler) -> dict[str, Any]:
    """Client keyword arguments that answer every request with ``handler`` instead of a network."""
    if flavour == "sync":
        session = requests.Session()
        session.mount("http://", _CannedAdapter(handler))
        return {"session": session}

    def answer(request: httpx.Request) -> httpx.Response:
        status, body, headers = _unpack(
            handler(request.method, request.url.raw_path.decode(), dict(request.headers), request.content)
        )
        return httpx.Response(status, content=body, headers=headers)

    return {"transport": httpx.MockTransport(answer)}


class Recorder:
    """Records (method, path, X-Authorization header) of every request a client sends over the network."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str | None]] = []
        self._lock = threading.Lock()

    def note(self, method: str, url: str, headers: Any) -> None:
        path = url.split("/api", 1)[1].split("?", 1)[0]
        with self._lock:
            self.sent.append((method, path, headers.get("X-Authorization")))

    def tokens(self) -> set[str]:
        return {token for _, _, token in self.sent if token is not None}

    def client_kwargs(self, flavour: str) -> dict[str, Any]:
        """A real session / AsyncClient (real HTTP) whose hooks record each request."""
        if flavour == "sync":
            session = requests.Session()
            session.trust_env = False

            def on_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
                request = response.request
                self.note(str(request.method), str(request.url), request.headers)

            session.hooks["response"].append(on_response)
            return {"session": session}

        async def on_request(request: httpx.Request) -> None:
            self.note(request.method, str(request.url), request.headers)

        return {"http_client": httpx.AsyncClient(trust_env=False, event_hooks={"request": [on_request]})}
