"""``DevServer``: the embedded Conductor-compatible server, run on a background thread.

All state (tasks, workflows, queues, timers) lives on the server's own event loop, in one daemon
thread started by :meth:`DevServer.start` (or the first helper call). Public methods may be
called from any thread: they hop onto that loop and wait for the answer. ``stop()`` only stops
listening and drops the open connections; the loop, the state and the timers keep going, so a
later ``start()`` listens again on the same port with everything kept. ``close()`` ends the thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ._api_metadata import MetadataApi
from ._api_tasks import MAX_POLL_TIMEOUT_MS, TaskApi
from ._api_workflows import WorkflowApi
from ._app import DevServerApp
from ._auth import TokenAuthority
from ._clock import ServerClock
from ._errors import ApiError, encode_json
from ._faults import FaultInjector, RequestCounters
from ._http import HttpProtocol
from ._metadata import Metadata
from ._queues import TaskQueues
from ._store import Store, WorkflowRecord
from ._tasks import TaskService
from ._workflows import Decider

__all__ = ["DevServer"]

_log = logging.getLogger("conductor_actors.devserver")

#: accept() errors after which the next connection may be taken at once (the client gave up).
_ACCEPT_AGAIN = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR, errno.ECONNABORTED, errno.EPROTO})
#: accept() errors of a process out of descriptors or memory: accepting pauses for a second.
_ACCEPT_LATER = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

T = TypeVar("T")


class _Watch:
    """Workflows a ``wait_for_workflows`` caller waits for (counted down on the loop thread)."""

    __slots__ = ("done", "ids", "remaining")

    def __init__(self, ids: set[str], remaining: int) -> None:
        self.ids = ids
        self.remaining = remaining
        self.done = threading.Event()


def _python_error(error: ApiError) -> Exception:
    """How a helper reports what HTTP would answer with ``error``: KeyError for 404, else ValueError."""
    return KeyError(error.message) if error.status == 404 else ValueError(str(error))


class DevServer:
    """An in-memory Conductor-compatible server for local development and tests, not production.

    Use as a context manager (``with DevServer() as server:``) or call ``start()`` / ``close()``.
    ``url`` is the API base (ends in ``/api``) to give to clients and workers.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, auth_key: str | None = None,
                 auth_secret: str | None = None, token_ttl_seconds: float = 3600.0,
                 update_v2_poll_timeout_ms: int = 100, sweep_interval: float = 0.05) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an integer between 0 and 65535, got {port!r}")
        if (isinstance(update_v2_poll_timeout_ms, bool) or not isinstance(update_v2_poll_timeout_ms, int)
                or not 0 <= update_v2_poll_timeout_ms <= MAX_POLL_TIMEOUT_MS):
            raise ValueError(f"update_v2_poll_timeout_ms must be an integer between 0 and {MAX_POLL_TIMEOUT_MS}, "
                             f"got {update_v2_poll_timeout_ms!r}")
        if not isinstance(sweep_interval, (int, float)) or sweep_interval <= 0:
            raise ValueError(f"sweep_interval must be a number of seconds > 0, got {sweep_interval!r}")
        if (auth_key is None) != (auth_secret is None):
            raise ValueError("auth needs both auth_key and auth_secret (or neither)")
        self.host = host
        self.port = port
        self.faults = FaultInjector()
        self._auth = (TokenAuthority(auth_key, auth_secret, token_ttl_seconds)
                      if auth_key is not None and auth_secret is not None else None)
        self._sweep_interval = float(sweep_interval)
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._acceptor: asyncio.Task[None] | None = None  # the accept loop while listening
        self._connections: set[HttpProtocol] = set()
        self._lock = threading.RLock()
        self._closed = False
        self._watches: list[_Watch] = []
        self._clock = ServerClock(self._loop)
        self._store = Store(self._clock)
        self._metadata = Metadata()
        self._queues = TaskQueues(self._loop, self._clock)
        self._decider = Decider(self._store, self._metadata, self._queues, self._clock, self._loop,
                                self._workflow_ended)
        self._tasks = TaskService(self._store, self._queues, self._decider, self._loop)
        self._workflows = WorkflowApi(self._store, self._metadata, self._decider, self._loop)
        handlers = {
            **TaskApi(self._store, self._queues, self._tasks, update_v2_poll_timeout_ms).handlers(),
            **MetadataApi(self._metadata).handlers(),
            **self._workflows.handlers(),
        }
        self._counters = RequestCounters()
        self._app = DevServerApp(handlers, self._counters, self.faults, self._auth, self._store,
                                 self._tasks.conflicts, self._clock.time, self._advance_on_loop)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("listening" if self._acceptor is not None else "not listening")
        return f"DevServer(url={self.url!r}, {state}, auth={'on' if self._auth else 'off'})"

    # -- addresses -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://host:port`` (the real bound port once started)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The API base URL, ``http://host:port/api``."""
        return self.base_url + "/api"

    @property
    def ui_url(self) -> str:
        """The web page's address, ``http://host:port/`` (workflows, their tasks, start/terminate/retry)."""
        return self.base_url + "/"

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> DevServer:
        """Bind and serve in the background thread; returns self. No-op when already listening.

        After ``stop()`` it listens again on the same port. Raises ``OSError`` when the port is
        taken and ``RuntimeError`` after ``close()``.
        """
        with self._lock:
            self._ensure_thread()
            if self._acceptor is not None:
                return self
            listener = self._bind()
            self.port = listener.getsockname()[1]
            self._acceptor = self._run_on_loop(self._serve(listener))
            _log.debug("dev server listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection; state and timers keep running. Idempotent."""
        with self._lock:
            acceptor, self._acceptor = self._acceptor, None
            if acceptor is None or self._closed:
                return
            self._run_on_loop(self._shut_listener(acceptor))

    def close(self) -> None:
        """``stop()`` and end the background thread. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self.stop()
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            thread.join()
        else:
            self._loop.close()

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_thread(self) -> None:
        if self._closed:
            raise RuntimeError("DevServer is closed")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run_loop, name="conductor-devserver", daemon=True)
            self._thread.start()

    def _run_loop(self) -> None:
        """Body of the background thread: run the loop until ``close()``, then clean up."""
        loop = self._loop
        asyncio.set_event_loop(loop)
        loop.call_soon(self._sweep)
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _bind(self) -> socket.socket:
        family, kind, proto, _, address = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(address)
            listener.listen(1024)
            listener.setblocking(False)
        except BaseException:
            listener.close()
            raise
        return listener

    async def _serve(self, listener: socket.socket) -> asyncio.Task[None]:
        return self._loop.create_task(self._accept(listener))

    async def _accept(self, listener: socket.socket) -> None:
        """The accept loop (loop thread) until ``stop()`` cancels it; closes ``listener`` at the end.

        Connections are taken here instead of by ``loop.create_server``: on Python 3.13 a
        connection asyncio's server accepts just as it closes is left half made, and its transport
        raises TypeError when collected (CPython issue 109564). Here a connection is either made
        (in ``_connections``) or closed by the time the cancelled loop has ended. An error other
        than running out of descriptors or memory is logged and ends accepting.
        """
        try:
            while True:
                try:
                    sock, _ = await self._loop.sock_accept(listener)
                except OSError as exc:
                    if exc.errno in _ACCEPT_AGAIN:
                        continue
                    if exc.errno in _ACCEPT_LATER:
                        _log.warning("dev server: cannot accept a connection (%s); trying again in 1 s", exc)
                        await asyncio.sleep(1.0)
                        continue
                    _log.error("dev server: accepting connections failed (%s); no new connection is taken", exc)
                    return
                try:
                    await self._loop.connect_accepted_socket(lambda: HttpProtocol(self._app, self._connections), sock)
                except OSError:  # the client went away while its connection was being set up
                    sock.close()
        finally:
            listener.close()

    async def _shut_listener(self, acceptor: asyncio.Task[None]) -> None:
        acceptor.cancel()
        await asyncio.gather(acceptor, return_exceptions=True)
        for connection in list(self._connections):
            connection.abort()
        await asyncio.sleep(0)  # their connection_lost (scheduled by abort) runs before stop() returns

    def _sweep(self) -> None:
        try:
            self._tasks.sweep()
        except Exception:  # keep sweeping: one bad task must not stop response timeouts for all
            _log.exception("dev server: response-timeout sweep failed")
        self._loop.call_later(self._sweep_interval, self._sweep)

    # -- running code on the loop ----------------------------------------------------------
    def _run_on_loop(self, coroutine: Any) -> Any:
        """Run ``coroutine`` on the loop and wait for it. Raises ``RuntimeError`` on the loop thread
        itself (waiting there would deadlock: call start/stop/close from another thread)."""
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("DevServer.start/stop/close cannot be called from the server's own loop thread")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def _call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` on the loop thread and return its result (or raise its error)."""
        with self._lock:
            self._ensure_thread()
        if threading.current_thread() is self._thread:
            return function(*args)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(function(*args))
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        try:
            return future.result()
        except ApiError as exc:
            raise _python_error(exc) from None

    def _json_call(self, function: Callable[..., Any], *args: Any) -> Any:
        """Like ``_call`` for a JSON result: encoded on the loop, decoded here (a private copy)."""
        return json.loads(self._call(lambda: encode_json(function(*args))))

    # -- the server clock ------------------------------------------------------------------
    def advance_clock(self, seconds: float) -> None:
        """Move the server's clock forward by ``seconds`` and run everything that became due.

        WAIT durations, retry delays, ``callbackAfterSeconds``, ``startDelay`` and response
        timeouts all run on this clock, so a test of a workflow with a one-hour WAIT calls
        ``advance_clock(3600)`` instead of waiting. The clock never goes back. Raises
        ``ValueError`` for a negative or non-numeric ``seconds``.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
            raise ValueError(f"seconds must be a number >= 0, got {seconds!r}")
        self._call(self._advance_on_loop, float(seconds))

    def _advance_on_loop(self, seconds: float) -> None:
        """Move the clock and run what became due (loop thread; also ``POST /__devserver__/clock/advance``)."""
        self._clock.advance(seconds)
        self._tasks.sweep()

    def clock_time(self) -> float:
        """The server clock, in seconds since the epoch (wall time plus every advance so far)."""
        return self._call(self._clock.time)

    # -- stats -----------------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        """Requests received per endpoint name (0 when unused) plus ``total``."""
        return self._call(self._counters.snapshot)

    def reset_stats(self) -> None:
        """Set every request counter back to 0."""
        self._call(self._counters.reset)

    # -- helpers for tests, examples and benchmarks ----------------------------------------
    def register_task_def(self, task_def: dict[str, Any]) -> None:
        """Upsert one task definition. Raises ``ValueError`` when it is invalid."""
        self._call(self._metadata.register_task_defs, [task_def])

    def register_workflow(self, workflow_def: dict[str, Any]) -> None:
        """Upsert one workflow definition. Raises ``ValueError`` when it is invalid or uses a task
        type (or an optional extra) the dev server does not have."""
        self._call(lambda: self._metadata.register_workflow_def(workflow_def, overwrite=True))

    def start_workflow(self, name: str, input: dict[str, Any] | None = None, *, version: int | None = None,
                       correlation_id: str | None = None, task_to_domain: dict[str, str] | None = None) -> str:
        """Start a workflow (latest version unless given) and return its id; the first task is
        queued before this returns. Raises ``KeyError`` for an unknown definition, ``ValueError``
        for invalid arguments."""
        workflow_input = json.loads(encode_json(input)) if input is not None else None
        record = self._call(self._workflows.start, name, version, workflow_input, correlation_id, 0,
                            task_to_domain)
        return record.workflow_id

    def get_workflow(self, workflow_id: str, include_tasks: bool = True) -> dict[str, Any]:
        """The Workflow JSON (a copy). Raises ``KeyError`` if the id is unknown."""
        def read() -> dict[str, Any]:
            workflow = self._store.workflows.get(workflow_id)
            if workflow is None:
                raise ApiError(404, f"No such workflow found by id: {workflow_id}")
            return workflow.to_json(include_tasks)

        return self._json_call(read)  # type: ignore[no-any-return]

    def workflow_statuses(self, workflow_ids: Iterable[str]) -> dict[str, str]:
        """id -> status for many workflows in one hop onto the server's loop. Raises ``KeyError``
        for an unknown id."""
        ids = list(workflow_ids)
        return self._call(lambda: {i: self._store.workflows[i].status for i in ids})  # type: ignore[no-any-return]

    def get_task(self, task_id: str) -> dict[str, Any]:
        """The Task JSON (a copy). Raises ``KeyError`` if the id is unknown."""
        def read() -> dict[str, Any]:
            task = self._store.tasks.get(task_id)
            if task is None:
                raise ApiError(404, f"Task not found for taskId: {task_id}")
            return task

        return self._json_call(read)  # type: ignore[no-any-return]

    def tasks(self, *, status: str | None = None, task_type: str | None = None) -> list[dict[str, Any]]:
        """Copies of every task (in creation order), optionally filtered by status and task type."""
        def read() -> list[dict[str, Any]]:
            return [task for task in self._store.tasks.values()
                    if (status is None or task["status"] == status)
                    and (task_type is None or task["taskType"] == task_type)]

        return self._json_call(read)  # type: ignore[no-any-return]

    def queue_size(self, task_type: str, domain: str | None = None) -> int:
        """Entries (ready plus delayed) in the queue of ``task_type`` in ``domain``."""
        return self._call(self._queues.size, (task_type, domain or None))

    def wait_for_workflows(self, workflow_ids: Iterable[str], timeout: float) -> dict[str, str]:
        """Wait until every workflow is terminal; returns id -> status.

        Waits on an event set by the loop thread when the last one ends. Raises ``KeyError`` for
        unknown ids and ``TimeoutError`` naming how many are unfinished (and a few of them).
        """
        ids = list(dict.fromkeys(workflow_ids))
        watch = self._call(self._watch, ids)
        finished = watch.done.wait(timeout)
        self._call(self._unwatch, watch)
        statuses = self.workflow_statuses(ids)
        if not finished:
            unfinished = [i for i in ids if statuses[i] in ("RUNNING", "PAUSED")]
            if unfinished:
                examples = ", ".join(f"{i} ({statuses[i]})" for i in unfinished[:3])
                raise TimeoutError(f"{len(unfinished)} of {len(ids)} workflows still unfinished after "
                                   f"{timeout} s, e.g. {examples}")
        return statuses

    def _watch(self, ids: list[str]) -> _Watch:
        workflows = self._store.workflows
        unknown = [i for i in ids if i not in workflows]
        if unknown:
            raise KeyError(f"unknown workflow ids: {', '.join(unknown[:5])}"
                           + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
        pending = {i for i in ids if not workflows[i].terminal}
        watch = _Watch(pending, len(pending))
        if pending:
            self._watches.append(watch)
        else:
            watch.done.set()
        return watch

    def _unwatch(self, watch: _Watch) -> None:
        if watch in self._watches:
            self._watches.remove(watch)

    def _workflow_ended(self, workflow: WorkflowRecord) -> None:
        """Decider callback (loop thread): count the workflow down in every watch that has it."""
        for watch in self._watches:
            if workflow.workflow_id in watch.ids:
                watch.ids.discard(workflow.workflow_id)  # a retried workflow may end again
                watch.remaining -= 1
                if watch.remaining == 0:
                    watch.done.set()

    def expire_tokens(self) -> None:
        """Make every token issued so far expired. Raises ``RuntimeError`` when auth is off."""
        if self._auth is None:
            raise RuntimeError("this DevServer runs without auth (no auth_key/auth_secret), it has no tokens")
        self._auth.expire_all()
