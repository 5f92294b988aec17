"""Serving metrics: the HTTP server for ``/metrics`` and ``/health``, and the atomic file writer.

The HTTP server runs in its own threads (``ThreadingHTTPServer``); a scrape asks the MetricsActor
for the rendered text (the actor owns the registry), a health check asks the supervisor for the
children's status. Both are bound or checked when the parent starts, so a port in use or an
unwritable directory is an error at start-up that names the setting, before any worker process
exists.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import tempfile
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST

from ._settings import MetricsSettingsError

__all__ = ["HealthProbe", "MetricsHTTPServer", "check_writable_directory", "health_report", "write_atomically"]

_log = logging.getLogger("conductor_actors.metrics")

#: Returns (every worker process is up and heartbeating, the statuses); any thread.
HealthProbe = Callable[[], tuple[bool, Sequence[Any]]]


def health_report(healthy: bool, statuses: Sequence[Any]) -> tuple[int, dict[str, Any]]:
    """The ``/health`` answer: 200 when every worker process is up and polling, else 503 naming why."""
    children = [
        {
            "key": s.key, "taskType": s.task_type, "pid": s.pid, "state": s.state, "alive": s.alive,
            "restarts": s.restarts, "inFlight": s.in_flight,
            "lastHeartbeatAgeSeconds": None if s.last_heartbeat_age is None else round(s.last_heartbeat_age, 3),
        }
        for s in statuses
    ]
    problems = [
        f"{s.key}: {s.state}" + (f" (last exit {s.last_exit})" if s.last_exit is not None and s.state != "up" else "")
        for s in statuses
        if s.state != "up"
    ]
    if not statuses:
        problems.append("no worker process is running")
    if not problems and not healthy:
        problems.append("a worker process has stopped heartbeating")
    ok = healthy and not problems
    body: dict[str, Any] = {"status": "ok" if ok else "unhealthy", "children": children}
    if problems:
        body["problems"] = problems
    return (200 if ok else 503), body


class MetricsHTTPServer:
    """``/metrics`` and ``/health`` on ``host:port`` (port 0 = any free port; see ``port``).

    Raises ``MetricsSettingsError`` naming ``http_host`` and/or ``http_port`` when the address
    cannot be bound (see ``_bind_error``).
    """

    def __init__(self, host: str, port: int, render: Callable[[], bytes], probe: HealthProbe) -> None:
        handler = type("_Handler", (_Handler,), {"render": staticmethod(render), "probe": staticmethod(probe)})
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise _bind_error(host, port, exc) from exc
        self._server.daemon_threads = True
        address = self._server.server_address
        self.host, self.port = str(address[0]), int(address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)
        self._thread.start()
        _log.info("metrics on http://%s:%d/metrics, health on /health", host, self.port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _bind_error(host: str, port: int, exc: OSError) -> MetricsSettingsError:
    """The start-up error for an address that cannot be served, naming the setting at fault: the
    port when it is in use or needs privileges, the host when it is not an address of this
    machine or cannot be resolved, both otherwise."""
    reason = exc.strerror or str(exc)
    if isinstance(exc, socket.gaierror):
        setting, why = f"http_host={host!r}", f"cannot resolve the host name: {reason}"
    elif exc.errno == errno.EADDRINUSE:
        setting, why = f"http_port={port}", f"{reason}: another program listens there"
    elif exc.errno == errno.EACCES:
        setting, why = f"http_port={port}", f"{reason}: ports below 1024 need privileges" if 0 < port < 1024 else reason
    elif exc.errno == errno.EADDRNOTAVAIL:
        setting, why = f"http_host={host!r}", f"{reason}: not an address of this machine"
    else:
        setting, why = f"http_host={host!r}, http_port={port}", reason
    return MetricsSettingsError(f"{setting}: cannot serve metrics on {host}:{port} ({why})")


class _Handler(BaseHTTPRequestHandler):
    render: Callable[[], bytes]
    probe: HealthProbe
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = urlsplit(self.path).path.rstrip("/") or "/"
        if path in ("/metrics", "/"):
            try:
                body, status, content_type = self.render(), 200, CONTENT_TYPE_LATEST
            except Exception as exc:  # the metrics actor is restarting: say so, do not hang the scrape
                body, status, content_type = f"metrics unavailable: {exc}\n".encode(), 503, "text/plain"
        elif path == "/health":
            status, report = health_report(*self.probe())
            body, content_type = json.dumps(report).encode(), "application/json"
        else:
            body, status, content_type = b"not found: try /metrics or /health\n", 404, "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("metrics http: " + format, *args)


def check_writable_directory(directory: str) -> str:
    """Create ``directory`` if needed and prove it is writable; raises ``MetricsSettingsError``."""
    path = os.path.abspath(directory)
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-", delete=True):
            pass
    except OSError as exc:
        raise MetricsSettingsError(
            f"directory={directory!r}: cannot write metrics there ({exc.strerror or exc})"
        ) from exc
    return path


def write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".metrics-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
