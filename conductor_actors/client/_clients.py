"""``ConductorClient`` (blocking) and ``AsyncConductorClient`` (asyncio) over one shared core.

``_ClientCore`` is everything of a client but the I/O: the configuration and its checks, the
token schedule of ``_auth`` (when to fetch a token, when to replay), the timing and logging of each
exchange, and the transport choice. Each public method builds its call with ``_calls`` (arguments
checked before anything is sent), runs it, and the call's parser (``_answers``) reads the answer.
The two classes only perform the one blocking call or the one await.

Transports. By default a client sends over its lean keep-alive pool of ``pool_size`` connections
(``_lean_sync`` / ``_lean_async``, framing in ``_http11``) and never loads ``requests`` or
``httpx``; a session / ``http_client`` / ``transport`` passed in,
``CONDUCTOR_ACTORS_HTTP_TRANSPORT=standard`` or a proxy send through ``requests``
(``_standard_sync``) or ``httpx`` (``_standard_async``), imported only then. ``asyncio`` too is
imported only by the async client, when it is built: a sync worker process never loads it.

No automatic retries (the runtime decides about retries); every call has a connect timeout and a
read timeout (a long poll adds its wait to the read timeout). The read timeout bounds the whole
answer, not each read, on every transport a client builds (a session or ``http_client`` passed in
keeps its own behaviour): a timeout raises ``ConductorTimeoutError`` and the connection is closed.
Every response is read fully and released. Redirects are not followed (a 3xx is an error), so the
token header never travels to another host. The environment (proxy for the server's URL, CA
bundle variables) is read once, when the client is built.

Thread-safety: one ``ConductorClient`` may be shared by many threads; its token fetch runs under a
lock, so one thread fetches while the others wait for its token. Use one ``AsyncConductorClient``
from one event loop; its token fetch is serialised by an ``asyncio.Lock`` created lazily inside
that loop.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from .._logging import TRACE
from . import _calls as calls
from ._auth import NEED_TOKEN, TokenAction, TokenSchedule, call_flow, record_fetch_error
from ._calls import Call, HttpRequest, lean_transport_error
from ._config import Configuration, check_pool_size, proxy_for
from ._errors import ConductorError
from ._http11 import ProtocolError, lean_headers, origin_of, trusted_cas
from ._lean_sync import LeanConnectionPool, pool_for_origin
from ._models import Task, TaskDef, TaskExecLog, TaskResult

if TYPE_CHECKING:
    import asyncio

    import httpx
    import requests

    from ._lean_async import LeanAsyncPools, LeanPool
    from ._standard_async import HttpxExchange
    from ._standard_sync import SessionExchange

__all__ = ["AsyncConductorClient", "ConductorClient", "RequestObserver"]

logger = logging.getLogger("conductor_actors.client")

T = TypeVar("T")
_C = TypeVar("_C", bound="SyncClosing")
_A = TypeVar("_A", bound="AsyncClosing")

#: Observes one exchange: (method, path template, HTTP status or 0 for no answer, seconds).
RequestObserver = Callable[[str, str, int, float], None]


def log_answer(request: HttpRequest, status: int, body: bytes, seconds: float) -> None:
    """DEBUG line for one exchange (method, path, status, size, time; never headers or bodies);
    a poll's line is at TRACE, below DEBUG, since idle workers poll all the time."""
    level = TRACE if request.path.startswith("/tasks/poll") else logging.DEBUG
    if logger.isEnabledFor(level):
        logger.log(
            level, "%s %s -> %d (%d bytes, %.1f ms)", request.method, request.path, status, len(body), seconds * 1000.0
        )


class SyncClosing:
    """``with`` support for an object with ``close()`` (the sync client and the workflow clients)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncClosing:
    """``async with`` support for an object with ``aclose()`` (the async client and the async
    workflow clients)."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self: _A) -> _A:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class _ClientCore:
    """What both clients share, without I/O: configuration, token schedule, transport choice, and
    the bookkeeping of each exchange (``on_request``, the DEBUG line). Runs on the caller's thread or
    loop; a closed client's exchange raises ``RuntimeError``."""

    def __init__(
        self,
        configuration: Configuration | None,
        pool_size: int,
        clock: Callable[[], float],
        on_request: RequestObserver | None,
    ) -> None:
        self.configuration = configuration if configuration is not None else Configuration()
        check_pool_size(pool_size)
        self._api_root = self.configuration.server_api_url
        self._connect_timeout = self.configuration.connect_timeout
        self._read_timeout = self.configuration.read_timeout
        settings = self.configuration.authentication_settings
        self._tokens = (
            TokenSchedule(self.configuration.auth_token_ttl_seconds, clock=clock) if settings is not None else None
        )
        self._on_request = on_request
        self._closed = False

    def __repr__(self) -> str:
        auth = "off" if self._tokens is None else ("disabled by server" if self._tokens.disabled else "on")
        return f"{type(self).__name__}(server_api_url={self._api_root!r}, auth={auth}, closed={self._closed})"

    def _lean_trust(self) -> tuple[Any, str]:
        """``verify`` for a lean transport and where it came from: what ``trusted_cas`` names, else
        the default bundle."""
        cas = trusted_cas(self.configuration.ssl_ca_cert, os.environ)
        return cas if cas is not None else (True, "verify")

    def _read_timeout_for(self, request: HttpRequest) -> float:
        """The read timeout of one exchange (a long poll adds its wait); ``RuntimeError`` once closed."""
        if self._closed:
            raise RuntimeError(f"this {type(self).__name__} is closed")
        return self._read_timeout + request.long_poll_seconds

    def _observed(self, request: HttpRequest, started: float, answer: tuple[int, bytes] | None) -> None:
        """Report one exchange to ``on_request`` (status 0 when no answer came) and log an answer."""
        seconds = time.monotonic() - started
        if self._on_request is not None:
            self._on_request(request.method, request.uri_template, answer[0] if answer else 0, seconds)
        if answer is not None:
            log_answer(request, answer[0], answer[1], seconds)

    def _lean_failure(self, request: HttpRequest, exc: BaseException, read_timeout: float) -> ConductorError:
        """The client error for a lean transport's ``OSError`` or ``ProtocolError``."""
        return lean_transport_error(request, exc, self._connect_timeout, read_timeout)

    def _token_call(self) -> Call[str]:
        """``POST /token`` with the configured key (``ConfigurationError`` without credentials)."""
        return calls.get_token(self.configuration.authentication_settings)

    @staticmethod
    def _fetch_failed(tokens: TokenSchedule, error: ConductorError) -> str | None:
        """A token fetch raised ``error``: no token (None) when the server has no auth, else
        ``error`` is raised (the schedule now backs off)."""
        if not record_fetch_error(tokens, error):
            raise error
        return None


def _lean_pool(
    configuration: Configuration, pool_size: int, verify: Any, source: str
) -> tuple[LeanConnectionPool, str]:
    """The lean pool for the server and the API's path prefix."""
    parts = urlsplit(configuration.server_api_url)
    scheme, host, port = origin_of(parts)
    pool = pool_for_origin(scheme, host, port, verify, pool_size, configuration.max_response_bytes, source)
    return pool, parts.path.rstrip("/")


class ConductorClient(SyncClosing, _ClientCore):
    """Blocking client for the Conductor task, metadata and workflow endpoints.

    Args:
        configuration: server URL, credentials and timeouts (default: ``Configuration()``, from the
            environment).
        session: a ready ``requests.Session`` to send with (the transport seam for tests or a tuned
            session). It is used as given and not closed by ``close()``. By default the client builds
            its own.
        pool_size: keep-alive connections kept for this server (the worker's concurrency).
        clock: monotonic clock (seconds) for the token lifetime and fetch backoff; for tests.
        on_request: called after every exchange with ``(method, path template, HTTP status or 0 when
            no answer came, seconds)``, on the calling thread or loop; it must be quick and not raise.

    Every call raises from the client error tree (``conductor_actors.client``): ``ConductorHTTPError``
    and subclasses for non-2xx, ``InvalidResponseError`` for a garbled 2xx,
    ``ConductorTransportError``/``ConductorTimeoutError`` when no answer came. Bad arguments raise
    ``ValueError`` before anything is sent; a call on a closed client raises ``RuntimeError``.
    """

    def __init__(
        self,
        configuration: Configuration | None = None,
        *,
        session: requests.Session | None = None,
        pool_size: int = 10,
        clock: Callable[[], float] = time.monotonic,
        on_request: RequestObserver | None = None,
    ) -> None:
        super().__init__(configuration, pool_size, clock, on_request)
        self._owns_session = session is None
        # Hot path: with the lean transport the client talks to its own pool, skipping requests'
        # per-call preparation (cookies, hooks, settings merges) that the Conductor protocol never
        # uses, and requests is not even imported.
        self._lean: tuple[LeanConnectionPool, str, list[tuple[str, str]]] | None = None
        self._requests: SessionExchange | None = None
        if session is None and self.configuration.http_transport == "lean" and proxy_for(
            self._api_root, system_settings=True
        ) is None:
            pool, base = _lean_pool(self.configuration, pool_size, *self._lean_trust())
            self._lean = (pool, base, lean_headers())
        else:
            from ._standard_sync import SessionExchange, build_session  # here: only now is requests loaded

            if session is None:
                session = build_session(self.configuration, pool_size)
            self._requests = SessionExchange(
                session, self._api_root, self._connect_timeout, self.configuration.max_response_bytes,
                settings_fixed=self._owns_session,
            )
        self._token_lock = threading.Lock()

    def close(self) -> None:
        """Close the pooled connections (of a session the client built). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._lean is not None:
            self._lean[0].close()
        elif self._owns_session and self._requests is not None:
            self._requests.session.close()

    def perform(self, call: Call[T]) -> T:
        """Run one call built by ``_calls`` (or the workflow clients): this client's auth, transport
        and errors, as every method."""
        return self._call(call)

    def _exchange(self, request: HttpRequest, token: str | None) -> tuple[int, bytes]:
        """Send one request and read the whole answer, timed once for the DEBUG line and ``on_request``.

        No HTTP answer raises a transport error (reported to ``on_request`` with status 0).
        """
        started = time.monotonic()
        try:
            answer = self._send(request, token, self._read_timeout_for(request))
        except BaseException:
            self._observed(request, started, None)
            raise
        self._observed(request, started, answer)
        return answer

    def _send(self, request: HttpRequest, token: str | None, read_timeout: float) -> tuple[int, bytes]:
        """The one blocking exchange, on the lean pool or through ``SessionExchange`` (same errors)."""
        if self._lean is None:
            assert self._requests is not None
            return self._requests.send(request, token, read_timeout)
        pool, base, defaults = self._lean
        headers = defaults + list(request.headers(token).items())
        try:
            reader = pool.request(
                request.method, base + request.target, headers, request.body, self._connect_timeout, read_timeout
            )
        except (OSError, ProtocolError) as exc:  # ConnectTimeout and TimeoutError are OSErrors
            raise self._lean_failure(request, exc, read_timeout) from exc
        return reader.status, reader.body

    def _call(self, call: Call[T]) -> T:
        """Run one call: with auth, through the shared token flow; without, one exchange."""
        tokens = self._tokens
        if tokens is None:
            return call.result(*self._exchange(call.request, None))
        flow = call_flow(tokens, call)
        try:
            step = next(flow)
            while True:
                if step is NEED_TOKEN:
                    step = flow.send(self._current_token(tokens))
                else:
                    step = flow.send(self._exchange(call.request, step.token))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        finally:
            flow.close()

    def _current_token(self, tokens: TokenSchedule) -> str | None:
        """The token to send (fetched under the lock when needed); ``None`` when the server has no auth.

        Raises the token error (a fresh copy while backing off) when no token can be had.
        """
        decision = tokens.decide()
        if decision.action is TokenAction.SEND:
            return decision.token
        with self._token_lock:
            decision = tokens.decide()  # another thread may have fetched while this one waited
            if decision.action is TokenAction.SEND:
                return decision.token
            try:
                token = self.get_token()
            except ConductorError as exc:
                return self._fetch_failed(tokens, exc)
            tokens.fetched(token)
            return token

    # ------------------------------------------------------------------------------------------
    # Tasks

    def batch_poll(
        self,
        task_type: str,
        *,
        count: int = 1,
        timeout_ms: int = 100,
        worker_id: str | None = None,
        domain: str | None = None,
    ) -> list[Task]:
        """Up to ``count`` tasks of ``task_type``; the server waits up to ``timeout_ms`` for them."""
        return self._call(
            calls.batch_poll(task_type, count=count, timeout_ms=timeout_ms, worker_id=worker_id, domain=domain)
        )

    def poll(self, task_type: str, *, worker_id: str | None = None, domain: str | None = None) -> Task | None:
        """One task of ``task_type``, or ``None`` when there is none."""
        return self._call(calls.poll(task_type, worker_id=worker_id, domain=domain))

    def update_task(self, result: TaskResult) -> str:
        """Report a result with ``POST /tasks`` (v1); returns the task id the server acknowledged."""
        return self._call(calls.update_task(result))

    def update_task_v2(self, result: TaskResult) -> Task | None:
        """Report a result with ``POST /tasks/update-v2``; returns the next task of that type, or ``None``."""
        return self._call(calls.update_task_v2(result))

    def add_task_log(self, task_id: str, message: str) -> None:
        """Append one log line to a task."""
        self._call(calls.add_task_log(task_id, message))

    def get_task_logs(self, task_id: str) -> list[TaskExecLog]:
        """A task's log lines (``[]`` when none)."""
        return self._call(calls.get_task_logs(task_id))

    def get_task(self, task_id: str) -> Task:
        """A task by id (``NotFoundError`` when unknown)."""
        return self._call(calls.get_task(task_id))

    def get_queue_size(self, task_type: str, domain: str | None = None) -> int:
        """How many tasks of ``task_type`` (in ``domain``) wait to be polled."""
        return self._call(calls.get_queue_size(task_type, domain))

    # ------------------------------------------------------------------------------------------
    # Metadata

    def register_task_defs(self, defs: Sequence[TaskDef]) -> None:
        """Create or replace task definitions (``POST /metadata/taskdefs``)."""
        self._call(calls.register_task_defs(defs))

    def update_task_def(self, task_def: TaskDef) -> None:
        """Replace an existing task definition (``PUT``; ``NotFoundError`` when it does not exist)."""
        self._call(calls.update_task_def(task_def))

    def get_task_def(self, name: str) -> TaskDef:
        """A task definition by name (``NotFoundError`` when unknown)."""
        return self._call(calls.get_task_def(name))

    def get_task_defs(self) -> list[TaskDef]:
        """Every task definition on the server."""
        return self._call(calls.get_task_defs())

    def save_schema(self, schema: Mapping[str, Any]) -> None:
        """Register one schema (``POST /schema``)."""
        self._call(calls.save_schema(schema))

    def register_workflow_def(self, definition: Mapping[str, Any], *, overwrite: bool = True) -> None:
        """Register a workflow definition (a JSON object as the server expects it)."""
        self._call(calls.register_workflow_def(definition, overwrite=overwrite))

    # ------------------------------------------------------------------------------------------
    # Workflows

    def start_workflow(
        self,
        name: str,
        input: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        correlation_id: str | None = None,
        task_to_domain: Mapping[str, str] | None = None,
        priority: int | None = None,
    ) -> str:
        """Start a workflow; returns its id."""
        return self._call(
            calls.start_workflow(
                name,
                input,
                version=version,
                correlation_id=correlation_id,
                task_to_domain=task_to_domain,
                priority=priority,
            )
        )

    def get_workflow(self, workflow_id: str, *, include_tasks: bool = True) -> dict[str, Any]:
        """A workflow as the server's JSON object."""
        return self._call(calls.get_workflow(workflow_id, include_tasks=include_tasks))

    # ------------------------------------------------------------------------------------------
    # Auth

    def get_token(self) -> str:
        """A fresh token from ``POST /token`` with the configured key (does not change the client's token).

        Raises ``ConfigurationError`` when the configuration has no credentials.
        """
        call = self._token_call()
        return call.result(*self._exchange(call.request, None))


class AsyncConductorClient(AsyncClosing, _ClientCore):
    """Asyncio client for the Conductor task, metadata and workflow endpoints.

    Args:
        configuration: server URL, credentials and timeouts (default: ``Configuration()``, from the
            environment).
        http_client: a ready ``httpx.AsyncClient`` to send with; used as given and not closed by
            ``aclose()``.
        transport: an ``httpx.AsyncBaseTransport`` for the client's own ``AsyncClient`` (the
            transport seam for tests or a faster transport); closed with the client.
        pool_size: keep-alive connections kept for this server (the worker's concurrency).
        clock: monotonic clock (seconds) for the token lifetime and fetch backoff; for tests.
        on_request: called after every exchange with ``(method, path template, HTTP status or 0 when
            no answer came, seconds)``, on the calling thread or loop; it must be quick and not raise.

    Coroutines raise exactly what ``ConductorClient`` raises; ``ValueError`` when both
    ``http_client`` and ``transport`` are given.
    """

    def __init__(
        self,
        configuration: Configuration | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        pool_size: int = 100,
        clock: Callable[[], float] = time.monotonic,
        on_request: RequestObserver | None = None,
    ) -> None:
        if http_client is not None and transport is not None:
            raise ValueError("pass either http_client or transport, not both")
        super().__init__(configuration, pool_size, clock, on_request)
        self._owns_http_client = http_client is None
        self._token_lock: asyncio.Lock | None = None
        # Hot path: with the lean transport the client talks to its own pools, skipping
        # httpx.AsyncClient's per-call request building, and httpx is not even imported.
        self._lean: tuple[LeanAsyncPools, LeanPool, str, list[tuple[str, str]]] | None = None
        self._httpx: HttpxExchange | None = None
        proxy = proxy_for(self._api_root, system_settings=False) if http_client is None else None
        if http_client is None and transport is None and self.configuration.http_transport == "lean" and proxy is None:
            # Imported here, not with the module: asyncio (which _lean_async needs) costs a sync
            # worker process start-up time and memory, and only the async client uses it.
            from ._lean_async import LeanAsyncPools

            verify, source = self._lean_trust()
            pools = LeanAsyncPools(pool_size, verify, self.configuration.max_response_bytes, source)
            pool, base = pools.pool_for(self._api_root)
            self._lean = (pools, pool, base, lean_headers())
        else:
            from ._standard_async import HttpxExchange, build_http_client  # here: only now is httpx loaded

            http = (
                http_client if http_client is not None
                else build_http_client(self.configuration, pool_size, transport, proxy)
            )
            self._httpx = HttpxExchange(
                http, self._api_root, self._connect_timeout, self._read_timeout, self.configuration.max_response_bytes
            )

    async def aclose(self) -> None:
        """Close the pooled connections (of an ``AsyncClient`` the client built). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._lean is not None:
            await self._lean[0].aclose()
        elif self._owns_http_client and self._httpx is not None:
            await self._httpx.http.aclose()

    async def perform(self, call: Call[T]) -> T:
        """Run one call built by ``_calls`` (or the workflow clients): this client's auth, transport
        and errors, as every method."""
        return await self._call(call)

    async def _exchange(self, request: HttpRequest, token: str | None) -> tuple[int, bytes]:
        """Send one request and read the whole answer, timed once for the DEBUG line and ``on_request``.

        No HTTP answer raises a transport error (reported to ``on_request`` with status 0).
        """
        started = time.monotonic()
        try:
            answer = await self._send(request, token, self._read_timeout_for(request))
        except BaseException:
            self._observed(request, started, None)
            raise
        self._observed(request, started, answer)
        return answer

    async def _send(self, request: HttpRequest, token: str | None, read_timeout: float) -> tuple[int, bytes]:
        """The one awaited exchange, on the lean pools or through ``HttpxExchange`` (same errors)."""
        if self._lean is None:
            assert self._httpx is not None
            return await self._httpx.send(request, token, read_timeout)
        pools, pool, base, defaults = self._lean
        headers = defaults + list(request.headers(token).items())
        try:
            reader = await pools.exchange(
                pool, request.method, base + request.target, headers, request.body, self._connect_timeout, read_timeout
            )
        except (OSError, ProtocolError) as exc:  # ConnectTimeout and TimeoutError are OSErrors
            raise self._lean_failure(request, exc, read_timeout) from exc
        return reader.status, reader.body

    async def _call(self, call: Call[T]) -> T:
        """Run one call: with auth, through the shared token flow; without, one exchange."""
        tokens = self._tokens
        if tokens is None:
            return call.result(*await self._exchange(call.request, None))
        flow = call_flow(tokens, call)
        try:
            step = next(flow)
            while True:
                if step is NEED_TOKEN:
                    step = flow.send(await self._current_token(tokens))
                else:
                    step = flow.send(await self._exchange(call.request, step.token))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        finally:
            flow.close()

    async def _current_token(self, tokens: TokenSchedule) -> str | None:
        """The token to send (fetched under the lock when needed); ``None`` when the server has no auth.

        Raises the token error (a fresh copy while backing off) when no token can be had.
        """
        decision = tokens.decide()
        if decision.action is TokenAction.SEND:
            return decision.token
        if self._token_lock is None:
            import asyncio  # here: see the lean transport's import in __init__

            self._token_lock = asyncio.Lock()
        async with self._token_lock:
            decision = tokens.decide()  # another task may have fetched while this one waited
            if decision.action is TokenAction.SEND:
                return decision.token
            try:
                token = await self.get_token()
            except ConductorError as exc:
                return self._fetch_failed(tokens, exc)
            tokens.fetched(token)
            return token

    # ------------------------------------------------------------------------------------------
    # Tasks

    async def batch_poll(
        self,
        task_type: str,
        *,
        count: int = 1,
        timeout_ms: int = 100,
        worker_id: str | None = None,
        domain: str | None = None,
    ) -> list[Task]:
        """Up to ``count`` tasks of ``task_type``; the server waits up to ``timeout_ms`` for them."""
        return await self._call(
            calls.batch_poll(task_type, count=count, timeout_ms=timeout_ms, worker_id=worker_id, domain=domain)
        )

    async def poll(self, task_type: str, *, worker_id: str | None = None, domain: str | None = None) -> Task | None:
        """One task of ``task_type``, or ``None`` when there is none."""
        return await self._call(calls.poll(task_type, worker_id=worker_id, domain=domain))

    async def update_task(self, result: TaskResult) -> str:
        """Report a result with ``POST /tasks`` (v1); returns the task id the server acknowledged."""
        return await self._call(calls.update_task(result))

    async def update_task_v2(self, result: TaskResult) -> Task | None:
        """Report a result with ``POST /tasks/update-v2``; returns the next task of that type, or ``None``."""
        return await self._call(calls.update_task_v2(result))

    async def add_task_log(self, task_id: str, message: str) -> None:
        """Append one log line to a task."""
        await self._call(calls.add_task_log(task_id, message))

    async def get_task_logs(self, task_id: str) -> list[TaskExecLog]:
        """A task's log lines (``[]`` when none)."""
        return await self._call(calls.get_task_logs(task_id))

    async def get_task(self, task_id: str) -> Task:
        """A task by id (``NotFoundError`` when unknown)."""
        return await self._call(calls.get_task(task_id))

    async def get_queue_size(self, task_type: str, domain: str | None = None) -> int:
        """How many tasks of ``task_type`` (in ``domain``) wait to be polled."""
        return await self._call(calls.get_queue_size(task_type, domain))

    # ------------------------------------------------------------------------------------------
    # Metadata

    async def register_task_defs(self, defs: Sequence[TaskDef]) -> None:
        """Create or replace task definitions (``POST /metadata/taskdefs``)."""
        await self._call(calls.register_task_defs(defs))

    async def update_task_def(self, task_def: TaskDef) -> None:
        """Replace an existing task definition (``PUT``; ``NotFoundError`` when it does not exist)."""
        await self._call(calls.update_task_def(task_def))

    async def get_task_def(self, name: str) -> TaskDef:
        """A task definition by name (``NotFoundError`` when unknown)."""
        return await self._call(calls.get_task_def(name))

    async def get_task_defs(self) -> list[TaskDef]:
        """Every task definition on the server."""
        return await self._call(calls.get_task_defs())

    async def save_schema(self, schema: Mapping[str, Any]) -> None:
        """Register one schema (``POST /schema``)."""
        await self._call(calls.save_schema(schema))

    async def register_workflow_def(self, definition: Mapping[str, Any], *, overwrite: bool = True) -> None:
        """Register a workflow definition (a JSON object as the server expects it)."""
        await self._call(calls.register_workflow_def(definition, overwrite=overwrite))

    # ------------------------------------------------------------------------------------------
    # Workflows

    async def start_workflow(
        self,
        name: str,
        input: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        correlation_id: str | None = None,
        task_to_domain: Mapping[str, str] | None = None,
        priority: int | None = None,
    ) -> str:
        """Start a workflow; returns its id."""
        return await self._call(
            calls.start_workflow(
                name,
                input,
                version=version,
                correlation_id=correlation_id,
                task_to_domain=task_to_domain,
                priority=priority,
            )
        )

    async def get_workflow(self, workflow_id: str, *, include_tasks: bool = True) -> dict[str, Any]:
        """A workflow as the server's JSON object."""
        return await self._call(calls.get_workflow(workflow_id, include_tasks=include_tasks))

    # ------------------------------------------------------------------------------------------
    # Auth

    async def get_token(self) -> str:
        """A fresh token from ``POST /token`` with the configured key (does not change the client's token).

        Raises ``ConfigurationError`` when the configuration has no credentials.
        """
        call = self._token_call()
        return call.result(*await self._exchange(call.request, None))
