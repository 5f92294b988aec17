"""The start-up check: one request to the Conductor server when the workers start, and one clear
line when it shows that nothing can work (wrong URL, refused credentials, unreachable host).

The workers do not wait for it and keep retrying whatever it finds: the server may come up
later, and their own poll failures (``/ready``, the ``polling for ... failed`` lines) tell when it
does. The request is ``GET <root>/tasks/queue/size`` for one worker's task type: an endpoint of
the worker API that takes no task, so the check never moves work.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

__all__ = ["check_server", "describe_server_problem", "start_server_check"]

_log = logging.getLogger("conductor_actors.startup")


def describe_server_problem(exc: BaseException, url: str, has_credentials: bool) -> str:
    """The one line for what the check call raised: names the URL called and the likely fix."""
    from .client import AuthorizationError, ConductorHTTPError, ConductorTransportError, InvalidResponseError

    called = f"{url}/tasks/queue/size"
    without_api = not url.rstrip("/").endswith("/api")
    if isinstance(exc, AuthorizationError) or (isinstance(exc, ConductorHTTPError) and exc.status in (401, 403)):
        status = getattr(exc, "status", "?")
        if has_credentials:
            return (f"the Conductor server at {url} refused the credentials ({status}): check "
                    "CONDUCTOR_AUTH_KEY and CONDUCTOR_AUTH_SECRET (the application key and its secret) and that "
                    "the application may poll these tasks")
        return (f"the Conductor server at {url} requires credentials ({status}) and none are set: set "
                "CONDUCTOR_AUTH_KEY and CONDUCTOR_AUTH_SECRET")
    if isinstance(exc, ConductorHTTPError) and exc.status == 404:
        if without_api:
            hint = f"the server URL must be the API root, which usually ends in /api (try {url.rstrip('/')}/api)"
        else:
            hint = "check the host and port: this server has no Conductor worker API there"
        return f"GET {called} answered 404 Not Found: {hint}"
    if isinstance(exc, InvalidResponseError) and without_api and "HTML" in str(exc):
        # A UI's address (the Conductor UI, Orkes Cloud) answers every path with its web page.
        return (f"GET {called} answered a web page, not the worker API: the server URL must be the API root, "
                f"which usually ends in /api (try {url.rstrip('/')}/api)")
    if isinstance(exc, ConductorTransportError):
        text = str(exc)
        if url.startswith("https://") and "SSL" in text and "CERTIFICATE" not in text:
            # Most often a plain-HTTP port: its answer to the handshake is not TLS.
            return (f"cannot reach the Conductor server at {url}: the TLS handshake failed ({exc}); if the "
                    f"server speaks plain HTTP, use http://{url[len('https://'):]}")
        return f"cannot reach the Conductor server at {url}: {exc}"
    if isinstance(exc, ConductorHTTPError):
        return f"GET {called} answered {exc.status}: {exc}"
    return f"the Conductor server at {url} gave an answer the workers cannot use: {type(exc).__name__}: {exc}"


def check_server(configuration: Any, task_type: str, domain: str | None = None) -> str | None:
    """Call the server once; returns the problem line, or None when it answered. Blocks the
    calling thread for at most the client's timeouts; never raises for what the server does."""
    from .client import ConductorClient, ConductorError

    url = configuration.server_api_url
    client = ConductorClient(configuration)
    try:
        client.get_queue_size(task_type, domain)
    except ConductorError as exc:
        return describe_server_problem(exc, url, configuration.authentication_settings is not None)
    finally:
        client.close()
    return None


def start_server_check(configuration: Any, task_type: str, domain: str | None = None) -> threading.Thread:
    """Run ``check_server`` on a daemon thread and log its outcome: the problem at ERROR (workers
    keep retrying), or a DEBUG line. Returns the thread (tests join it)."""

    def run() -> None:
        try:
            problem = check_server(configuration, task_type, domain)
        except Exception as exc:  # a bug here must not disturb the workers
            _log.debug("the start-up check of the Conductor server failed: %r", exc)
            return
        if problem is None:
            _log.debug("the Conductor server at %s answers", configuration.server_api_url)
        else:
            _log.error("%s; the workers keep retrying", problem)

    thread = threading.Thread(target=run, name="server-check", daemon=True)
    thread.start()
    return thread
