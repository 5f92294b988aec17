"""``ConductorClient``: the blocking Conductor client (used by sync workers).

A thin shell over ``_protocol``/``_wire`` (what to send, how to read the answer) and ``_auth``
(when to fetch a token, when to replay): this module only moves bytes. By default it sends over
the lean transport's keep-alive pool of ``pool_size`` connections (``_lean_sync``) and never loads
``requests``; a session passed in, ``CONDUCTOR_ACTORS_HTTP_TRANSPORT=standard`` or a proxy send
through a ``requests.Session`` instead (``_standard_sync``). No automatic retries (the runtime
decides about retries); every call has a connect timeout and a read timeout (a long poll adds its
wait to the read timeout). The read timeout bounds the whole answer, not each read, on both
transports the client builds (a session passed in keeps its own adapter's behaviour): a timeout
raises ``ConductorTimeoutError`` and the connection is closed. Every response is read fully and
released. Redirects are not followed (a 3xx is an error), so the token header never travels to
another host.

Thread-safety: one client may be shared by many threads; the token fetch runs under a lock, so one
thread fetches while the others wait for its token.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from . import _protocol as protocol
from ._auth import NEED_TOKEN, TokenAction, TokenSchedule, call_flow, record_fetch_error
from ._config import Configuration
from ._errors import ConductorError
from ._http11 import ProtocolError, lean_headers, origin_of, trusted_cas
from ._lean_sync import LeanConnectionPool, pool_for_origin
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
    import requests

    from ._standard_sync import SessionExchange

__all__ = ["ConductorClient"]

T = TypeVar("T")


def _lean_pool(configuration: Configuration, pool_size: int) -> tuple[LeanConnectionPool, str]:
    """The lean pool for the server and the API's path prefix; TLS trusts what ``trusted_cas`` says."""
    parts = urlsplit(configuration.server_api_url)
    scheme, host, port = origin_of(parts)
    cas = trusted_cas(configuration.ssl_ca_cert, os.environ)
    verify, source = cas if cas is not None else (True, "verify")
    pool = pool_for_origin(scheme, host, port, verify, pool_size, configuration.max_response_bytes, source)
    return pool, parts.path.rstrip("/")


class ConductorClient:
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
        self.configuration = configuration if configuration is not None else Configuration()
        check_pool_size(pool_size)
        self._api_root = self.configuration.server_api_url
        self._owns_session = session is None
        self._connect_timeout = self.configuration.connect_timeout
        self._read_timeout = self.configuration.read_timeout
        # Hot path: with the lean transport the client talks to its own pool, skipping requests'
        # per-call preparation (cookies, hooks, settings merges) that the Conductor protocol never
        # uses, and requests is not even imported.
        self._lean: tuple[LeanConnectionPool, str, list[tuple[str, str]]] | None = None
        self._requests: SessionExchange | None = None
        if session is None and self.configuration.http_transport == "lean" and proxy_for(
            self._api_root, system_settings=True
        ) is None:
            pool, base = _lean_pool(self.configuration, pool_size)
            self._lean = (pool, base, lean_headers())
        else:
            from ._standard_sync import SessionExchange, build_session

            if session is None:
                session = build_session(self.configuration, pool_size)
            self._requests = SessionExchange(
                session, self._api_root, self._connect_timeout, self.configuration.max_response_bytes
            )
        settings = self.configuration.authentication_settings
        self._tokens = (
            TokenSchedule(self.configuration.auth_token_ttl_seconds, clock=clock) if settings is not None else None
        )
        self._token_lock = threading.Lock()
        self._on_request = on_request
        self._closed = False

    # ------------------------------------------------------------------------------------------
    # Life cycle

    def close(self) -> None:
        """Close the pooled connections (of a session the client built). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._lean is not None:
            self._lean[0].close()
        elif self._owns_session and self._requests is not None:
            self._requests.session.close()

    def __enter__(self) -> ConductorClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        auth = "off" if self._tokens is None else ("disabled by server" if self._tokens.disabled else "on")
        return f"ConductorClient(server_api_url={self._api_root!r}, auth={auth}, closed={self._closed})"

    # ------------------------------------------------------------------------------------------
    # Sending

    def _exchange(self, request: HttpRequest, token: str | None) -> tuple[int, bytes]:
        """Send one request and read the whole answer, timed once for the DEBUG line and ``on_request``.

        No HTTP answer raises a transport error (reported to ``on_request`` with status 0).
        """
        started = time.monotonic()
        status = 0
        try:
            if self._closed:
                raise RuntimeError("this ConductorClient is closed")
            read_timeout = self._read_timeout + request.long_poll_seconds
            if self._lean is not None:
                status, body = self._send_lean(request, token, read_timeout)
            else:
                assert self._requests is not None
                status, body = self._requests.send(request, token, read_timeout)
        finally:
            seconds = time.monotonic() - started
            if self._on_request is not None:
                self._on_request(request.method, request.uri_template, status, seconds)
        log_answer(request, status, body, seconds)
        return status, body

    def _send_lean(self, request: HttpRequest, token: str | None, read_timeout: float) -> tuple[int, bytes]:
        """One exchange straight over the lean pool (same errors as ``SessionExchange.send``)."""
        assert self._lean is not None
        pool, base, defaults = self._lean
        headers = defaults + list(request.headers(token).items())
        try:
            reader = pool.request(
                request.method, base + request.target, headers, request.body, self._connect_timeout, read_timeout
            )
        except (OSError, ProtocolError) as exc:  # ConnectTimeout and TimeoutError are OSErrors
            raise lean_transport_error(request, exc, self._connect_timeout, read_timeout) from exc
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
                if record_fetch_error(tokens, exc):
                    return None
                raise
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
            protocol.batch_poll(task_type, count=count, timeout_ms=timeout_ms, worker_id=worker_id, domain=domain)
        )

    def poll(self, task_type: str, *, worker_id: str | None = None, domain: str | None = None) -> Task | None:
        """One task of ``task_type``, or ``None`` when there is none."""
        return self._call(protocol.poll(task_type, worker_id=worker_id, domain=domain))

    def update_task(self, result: TaskResult) -> str:
        """Report a result with ``POST /tasks`` (v1); returns the task id the server acknowledged."""
        return self._call(protocol.update_task(result))

    def update_task_v2(self, result: TaskResult) -> Task | None:
        """Report a result with ``POST /tasks/update-v2``; returns the next task of that type, or ``None``."""
        return self._call(protocol.update_task_v2(result))

    def add_task_log(self, task_id: str, message: str) -> None:
        """Append one log line to a task."""
        self._call(protocol.add_task_log(task_id, message))

    def get_task_logs(self, task_id: str) -> list[TaskExecLog]:
        """A task's log lines (``[]`` when none)."""
        return self._call(protocol.get_task_logs(task_id))

    def get_task(self, task_id: str) -> Task:
        """A task by id (``NotFoundError`` when unknown)."""
        return self._call(protocol.get_task(task_id))

    def get_queue_size(self, task_type: str, domain: str | None = None) -> int:
        """How many tasks of ``task_type`` (in ``domain``) wait to be polled."""
        return self._call(protocol.get_queue_size(task_type, domain))

    # ------------------------------------------------------------------------------------------
    # Metadata

    def register_task_defs(self, defs: Sequence[TaskDef]) -> None:
        """Create or replace task definitions (``POST /metadata/taskdefs``)."""
        self._call(protocol.register_task_defs(defs))

    def update_task_def(self, task_def: TaskDef) -> None:
        """Replace an existing task definition (``PUT``; ``NotFoundError`` when it does not exist)."""
        self._call(protocol.update_task_def(task_def))

    def get_task_def(self, name: str) -> TaskDef:
        """A task definition by name (``NotFoundError`` when unknown)."""
        return self._call(protocol.get_task_def(name))

    def get_task_defs(self) -> list[TaskDef]:
        """Every task definition on the server."""
        return self._call(protocol.get_task_defs())

    def save_schema(self, schema: Mapping[str, Any]) -> None:
        """Register one schema (``POST /schema``)."""
        self._call(protocol.save_schema(schema))

    def register_workflow_def(self, definition: Mapping[str, Any], *, overwrite: bool = True) -> None:
        """Register a workflow definition (a JSON object as the server expects it)."""
        self._call(protocol.register_workflow_def(definition, overwrite=overwrite))

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
            protocol.start_workflow(
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
        return self._call(protocol.get_workflow(workflow_id, include_tasks=include_tasks))

    # ------------------------------------------------------------------------------------------
    # Auth

    def get_token(self) -> str:
        """A fresh token from ``POST /token`` with the configured key (does not change the client's token).

        Raises ``ConfigurationError`` when the configuration has no credentials.
        """
        call = protocol.get_token(self.configuration.authentication_settings)
        return call.result(*self._exchange(call.request, None))
