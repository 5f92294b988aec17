"""``AsyncConductorClient``: the asyncio Conductor client (used by async workers).

The twin of ``ConductorClient`` (same methods, as coroutines) and just as thin: ``_protocol`` says
what to send and how to read the answer, ``_auth`` when to fetch a token and when to replay. By
default it sends over the lean transport's keep-alive pool of ``pool_size`` connections
(``_lean_async``) and never loads ``httpx``; an ``http_client`` or ``transport`` passed in,
``CONDUCTOR_ACTORS_HTTP_TRANSPORT=standard`` or a proxy send through an ``httpx.AsyncClient``
(``_standard_async``), speaking HTTP/1.1. No automatic retries; every call has a connect timeout
and a read timeout (a long poll adds its wait). The read timeout bounds the whole answer, not each
read, on every transport (the lean one's timer, ``AnswerDeadline`` on httpx's own): a timeout
raises ``ConductorTimeoutError`` and the connection is closed. Every response is read fully and
released. Redirects are not followed. The environment (proxy for the server's URL, CA bundle
variables) is read once, when the client is built.

Use one client from one event loop. The token fetch is serialised by an ``asyncio.Lock`` created
lazily inside that loop, so concurrent calls wait for one fetch.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from . import _protocol as protocol
from ._auth import NEED_TOKEN, TokenAction, TokenSchedule, call_flow, record_fetch_error
from ._config import Configuration
from ._errors import ConductorError
from ._http11 import ProtocolError, lean_headers, trusted_cas
from ._lean_async import LeanAsyncPools, LeanPool
from ._models import Task, TaskDef, TaskExecLog, TaskResult
from ._proxies import proxy_for
from ._wire import (
    Call,
    HttpRequest,
    RequestObserver,
    check_pool_size,
    lean_transport_error,
    log_answer,
)

if TYPE_CHECKING:
    import httpx

    from ._standard_async import HttpxExchange

__all__ = ["AsyncConductorClient"]

T = TypeVar("T")


class AsyncConductorClient:
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
        self.configuration = configuration if configuration is not None else Configuration()
        check_pool_size(pool_size)
        self._api_root = self.configuration.server_api_url
        self._owns_http_client = http_client is None
        self._connect_timeout = self.configuration.connect_timeout
        self._read_timeout = self.configuration.read_timeout
        settings = self.configuration.authentication_settings
        self._tokens = (
            TokenSchedule(self.configuration.auth_token_ttl_seconds, clock=clock) if settings is not None else None
        )
        self._token_lock: asyncio.Lock | None = None
        # Hot path: with the lean transport the client talks to its own pools, skipping
        # httpx.AsyncClient's per-call request building, and httpx is not even imported.
        self._lean: tuple[LeanAsyncPools, LeanPool, str, list[tuple[str, str]]] | None = None
        self._httpx: HttpxExchange | None = None
        proxy = proxy_for(self._api_root, system_settings=False) if http_client is None else None
        if http_client is None and transport is None and self.configuration.http_transport == "lean" and proxy is None:
            cas = trusted_cas(self.configuration.ssl_ca_cert, os.environ)
            verify, source = cas if cas is not None else (True, "verify")
            pools = LeanAsyncPools(pool_size, verify, self.configuration.max_response_bytes, source)
            pool, base = pools.pool_for(self._api_root)
            self._lean = (pools, pool, base, lean_headers())
        else:
            from ._standard_async import HttpxExchange, build_http_client

            http = (
                http_client if http_client is not None
                else build_http_client(self.configuration, pool_size, transport, proxy)
            )
            self._httpx = HttpxExchange(
                http, self._api_root, self._connect_timeout, self._read_timeout, self.configuration.max_response_bytes
            )
        self._on_request = on_request
        self._closed = False

    # ------------------------------------------------------------------------------------------
    # Life cycle

    async def aclose(self) -> None:
        """Close the pooled connections (of an ``AsyncClient`` the client built). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._lean is not None:
            await self._lean[0].aclose()
        elif self._owns_http_client and self._httpx is not None:
            await self._httpx.http.aclose()

    async def __aenter__(self) -> AsyncConductorClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        auth = "off" if self._tokens is None else ("disabled by server" if self._tokens.disabled else "on")
        return f"AsyncConductorClient(server_api_url={self._api_root!r}, auth={auth}, closed={self._closed})"

    # ------------------------------------------------------------------------------------------
    # Sending

    async def _exchange(self, request: HttpRequest, token: str | None) -> tuple[int, bytes]:
        """Send one request and read the whole answer, timed once for the DEBUG line and ``on_request``.

        No HTTP answer raises a transport error (reported to ``on_request`` with status 0).
        """
        started = time.monotonic()
        status = 0
        try:
            if self._closed:
                raise RuntimeError("this AsyncConductorClient is closed")
            read_timeout = self._read_timeout + request.long_poll_seconds
            if self._lean is not None:
                status, body = await self._send_lean(request, token, read_timeout)
            else:
                assert self._httpx is not None
                status, body = await self._httpx.send(request, token, read_timeout)
        finally:
            seconds = time.monotonic() - started
            if self._on_request is not None:
                self._on_request(request.method, request.uri_template, status, seconds)
        log_answer(request, status, body, seconds)
        return status, body

    async def _send_lean(self, request: HttpRequest, token: str | None, read_timeout: float) -> tuple[int, bytes]:
        """One exchange straight over the lean transport (same errors as ``HttpxExchange.send``)."""
        assert self._lean is not None
        pools, pool, base, defaults = self._lean
        headers = defaults + list(request.headers(token).items())
        try:
            reader = await pools.exchange(
                pool, request.method, base + request.target, headers, request.body, self._connect_timeout, read_timeout
            )
        except (OSError, ProtocolError) as exc:  # ConnectTimeout and TimeoutError are OSErrors
            raise lean_transport_error(request, exc, self._connect_timeout, read_timeout) from exc
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
            self._token_lock = asyncio.Lock()
        async with self._token_lock:
            decision = tokens.decide()  # another task may have fetched while this one waited
            if decision.action is TokenAction.SEND:
                return decision.token
            try:
                token = await self.get_token()
            except ConductorError as exc:
                if record_fetch_error(tokens, exc):
                    return None
                raise
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
            protocol.batch_poll(task_type, count=count, timeout_ms=timeout_ms, worker_id=worker_id, domain=domain)
        )

    async def poll(self, task_type: str, *, worker_id: str | None = None, domain: str | None = None) -> Task | None:
        """One task of ``task_type``, or ``None`` when there is none."""
        return await self._call(protocol.poll(task_type, worker_id=worker_id, domain=domain))

    async def update_task(self, result: TaskResult) -> str:
        """Report a result with ``POST /tasks`` (v1); returns the task id the server acknowledged."""
        return await self._call(protocol.update_task(result))

    async def update_task_v2(self, result: TaskResult) -> Task | None:
        """Report a result with ``POST /tasks/update-v2``; returns the next task of that type, or ``None``."""
        return await self._call(protocol.update_task_v2(result))

    async def add_task_log(self, task_id: str, message: str) -> None:
        """Append one log line to a task."""
        await self._call(protocol.add_task_log(task_id, message))

    async def get_task_logs(self, task_id: str) -> list[TaskExecLog]:
        """A task's log lines (``[]`` when none)."""
        return await self._call(protocol.get_task_logs(task_id))

    async def get_task(self, task_id: str) -> Task:
        """A task by id (``NotFoundError`` when unknown)."""
        return await self._call(protocol.get_task(task_id))

    async def get_queue_size(self, task_type: str, domain: str | None = None) -> int:
        """How many tasks of ``task_type`` (in ``domain``) wait to be polled."""
        return await self._call(protocol.get_queue_size(task_type, domain))

    # ------------------------------------------------------------------------------------------
    # Metadata

    async def register_task_defs(self, defs: Sequence[TaskDef]) -> None:
        """Create or replace task definitions (``POST /metadata/taskdefs``)."""
        await self._call(protocol.register_task_defs(defs))

    async def update_task_def(self, task_def: TaskDef) -> None:
        """Replace an existing task definition (``PUT``; ``NotFoundError`` when it does not exist)."""
        await self._call(protocol.update_task_def(task_def))

    async def get_task_def(self, name: str) -> TaskDef:
        """A task definition by name (``NotFoundError`` when unknown)."""
        return await self._call(protocol.get_task_def(name))

    async def get_task_defs(self) -> list[TaskDef]:
        """Every task definition on the server."""
        return await self._call(protocol.get_task_defs())

    async def save_schema(self, schema: Mapping[str, Any]) -> None:
        """Register one schema (``POST /schema``)."""
        await self._call(protocol.save_schema(schema))

    async def register_workflow_def(self, definition: Mapping[str, Any], *, overwrite: bool = True) -> None:
        """Register a workflow definition (a JSON object as the server expects it)."""
        await self._call(protocol.register_workflow_def(definition, overwrite=overwrite))

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
            protocol.start_workflow(
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
        return await self._call(protocol.get_workflow(workflow_id, include_tasks=include_tasks))

    # ------------------------------------------------------------------------------------------
    # Auth

    async def get_token(self) -> str:
        """A fresh token from ``POST /token`` with the configured key (does not change the client's token).

        Raises ``ConfigurationError`` when the configuration has no credentials.
        """
        call = protocol.get_token(self.configuration.authentication_settings)
        return call.result(*await self._exchange(call.request, None))
