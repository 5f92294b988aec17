"""Readiness and the start-up check, from the command line against real servers.

``/ready`` on the metrics port is 503 while a worker's polls fail (a URL without ``/api``, refused
credentials) with a JSON body naming each worker process and its last error, while ``/health``
(liveness) stays 200; it turns 200 once polls succeed. At start the runtime calls the server once
and says in one line what is wrong (404: the URL called and the ``/api`` hint; 401/403: the
credentials; no answer: the host), and the workers keep retrying.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from _support.cli_apps import SLEEPY_TASK, wait_until
from _support.ports import free_port

from conductor_actors.devserver import DevServer

if TYPE_CHECKING:
    from _support.cli_tree import CliTree

    from .conftest import StartCli

APP = "_support.cli_apps.sleepy"


def _get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _start(cli: StartCli, flavour: str, url: str, env: dict[str, str] | None = None) -> tuple[CliTree, int]:
    port = free_port()
    run = cli("--metrics-port", str(port), APP, flavour=flavour, env={"CONDUCTOR_SERVER_URL": url, **(env or {})})
    run.wait_ready(SLEEPY_TASK)
    run.wait_for("readiness on /ready", "the metrics server")
    return run, port


def _not_ready_with_error(port: int, fragment: str) -> dict[str, Any]:
    """Wait until /ready is 503 with a worker whose last error contains ``fragment``."""

    def answer() -> dict[str, Any] | None:
        status, body = _get(port, "/ready")
        assert status == 503, body  # never ready: no poll can succeed
        errors = [w["lastError"] or "" for w in body["workers"]]
        return body if any(fragment in e for e in errors) else None

    return wait_until(answer, f"/ready naming {fragment!r}")


@pytest.fixture
def auth_server() -> Iterator[DevServer]:
    server = DevServer(auth_key="app-key", auth_secret="app-secret").start()
    yield server
    server.close()


def test_ready_turns_200_once_polls_succeed(cli: StartCli, dev_server: DevServer, flavour: str) -> None:
    run, port = _start(cli, flavour, dev_server.url)
    body = wait_until(lambda: (lambda a: a[1] if a[0] == 200 else None)(_get(port, "/ready")), "/ready 200")
    worker = body["workers"][0]
    assert body["status"] == "ready" and worker["key"] == SLEEPY_TASK and worker["ready"] is True, body
    assert worker["lastError"] is None and worker["lastPollSuccessAgeSeconds"] is not None, body
    assert not run.matches(r"conductor_actors\.startup"), run.tail()  # the check found nothing to say


def test_url_without_api_is_not_ready_and_named_at_start(cli: StartCli, dev_server: DevServer, flavour: str) -> None:
    run, port = _start(cli, flavour, dev_server.base_url)
    line = run.wait_for(r"^.* ERROR .*conductor_actors\.startup: (.*)$", "the start-up line")[0].group(1)
    assert line == (f"GET {dev_server.base_url}/tasks/queue/size answered 404 Not Found: the server URL must be "
                    f"the API root, which usually ends in /api (try {dev_server.base_url}/api); the workers keep "
                    "retrying"), line
    body = _not_ready_with_error(port, "404")
    worker = body["workers"][0]
    assert worker["key"] == SLEEPY_TASK and worker["ready"] is False and worker["state"] == "up", body
    assert worker["reason"].startswith("no poll has succeeded yet: "), body
    assert _get(port, "/health")[0] == 200  # liveness: the process is alive and beating
    run.wait_for(r"polling for cli_sleepy failed", "the workers keep polling")


def test_refused_credentials_are_not_ready_and_named_at_start(cli: StartCli, auth_server: DevServer) -> None:
    run, port = _start(cli, "sync", auth_server.url,
                       {"CONDUCTOR_AUTH_KEY": "app-key", "CONDUCTOR_AUTH_SECRET": "not-the-secret"})
    line = run.wait_for(r"^.* ERROR .*conductor_actors\.startup: (.*)$", "the start-up line")[0].group(1)
    assert line.startswith(f"the Conductor server at {auth_server.url} refused the credentials (401): check "
                           "CONDUCTOR_AUTH_KEY and CONDUCTOR_AUTH_SECRET"), line
    assert "not-the-secret" not in run.log()
    _not_ready_with_error(port, "401")


def test_missing_credentials_are_named_at_start(cli: StartCli, auth_server: DevServer) -> None:
    run, _ = _start(cli, "sync", auth_server.url)
    line = run.wait_for(r"^.* ERROR .*conductor_actors\.startup: (.*)$", "the start-up line")[0].group(1)
    assert line.startswith(f"the Conductor server at {auth_server.url} requires credentials (401) and none are "
                           "set"), line


def test_unreachable_host_is_named_at_start(cli: StartCli) -> None:
    url = f"http://127.0.0.1:{free_port()}/api"
    run, port = _start(cli, "sync", url)
    line = run.wait_for(r"^.* ERROR .*conductor_actors\.startup: (.*)$", "the start-up line")[0].group(1)
    assert line.startswith(f"cannot reach the Conductor server at {url}: "), line
    assert line.endswith("; the workers keep retrying"), line
    _not_ready_with_error(port, "connect")


# -- the pieces, without a worker tree --------------------------------------------------------------


def _status(**fields: Any) -> Any:
    from conductor_actors.supervision import ChildStatus

    base = {"key": "charge", "task_type": "charge", "pid": 7, "state": "up", "alive": True, "restarts": 0,
            "consecutive_crashes": 0, "last_heartbeat_age": 0.1, "in_flight": 0, "stage_ages": (),
            "last_exit": None}
    return ChildStatus(**{**base, **fields})


def test_readiness_rules() -> None:
    """Ready: a good poll and no failure since, or failures for at most the window, or paused.
    Not ready: not up, no good poll yet, failing longer than the window, or no process at all."""
    from conductor_actors.metrics._catalog import READY_WINDOW, ready_report

    good = _status(last_poll_success_age=0.5)
    busy = _status(key="busy", last_poll_success_age=600.0)  # all slots busy: no poll since, none failed
    blip = _status(key="blip", last_poll_success_age=READY_WINDOW - 1, last_poll_error="timed out")
    paused = _status(key="paused", polling_paused=True)
    assert ready_report([good, busy, blip, paused])[0] == 200
    failing = _status(key="failing", last_poll_success_age=READY_WINDOW + 1, last_poll_error="HTTP 503")
    never = _status(key="never", last_poll_error="HTTP 401")
    starting = _status(key="starting", state="starting", alive=True)
    code, body = ready_report([good, failing, never, starting])
    reasons = {w["key"]: w.get("reason") for w in body["workers"]}
    assert code == 503 and body["status"] == "not ready"
    assert reasons == {"charge": None, "failing": f"polls have failed for {READY_WINDOW + 1:.0f} s: HTTP 503",
                       "never": "no poll has succeeded yet: HTTP 401",
                       "starting": "the worker process is starting"}
    assert ready_report([]) == (503, {"status": "not ready", "workers": [], "reason": "no worker process is running"})


class _Forbidding(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b'{"message": "access denied", "error": "ACCESS_DENIED"}'
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET  # the token request with credentials

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_start_up_check_names_a_403() -> None:
    """A server that answers 403 (a key without permission): the line says the credentials were
    refused, naming the URL; without credentials, that they are required."""
    from conductor_actors import AuthenticationSettings, Configuration
    from conductor_actors._parent import check_server

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Forbidding)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/api"
    try:
        bare = check_server(Configuration(server_api_url=url, env={}), "charge")
        assert bare is not None and bare.startswith(f"the Conductor server at {url} requires credentials (403)"), bare
        keyed = Configuration(server_api_url=url, authentication_settings=AuthenticationSettings("key", "s3cr3t-value"))
        refused = check_server(keyed, "charge")
        assert refused is not None and refused.startswith(
            f"the Conductor server at {url} refused the credentials (403): check CONDUCTOR_AUTH_KEY"), refused
        assert "s3cr3t-value" not in refused
    finally:
        server.shutdown()
        server.server_close()


class _WebPage(BaseHTTPRequestHandler):
    """A UI's address: every path answers 200 with the same HTML page."""

    def do_GET(self) -> None:
        body = b"<!doctype html><html><body>Conductor UI</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_start_up_check_suggests_the_api_root_for_a_web_page() -> None:
    """The UI's address instead of the API root (Orkes Cloud and the Conductor UI answer every path
    with their page, not 404): the line names the URL called and suggests the /api root."""
    from conductor_actors import Configuration
    from conductor_actors._parent import check_server

    server = ThreadingHTTPServer(("127.0.0.1", 0), _WebPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    root = f"http://127.0.0.1:{server.server_port}"
    try:
        line = check_server(Configuration(server_api_url=root + "/", env={}), "charge")
        assert line == (f"GET {root}/tasks/queue/size answered a web page, not the worker API: the server URL must "
                        f"be the API root, which usually ends in /api (try {root}/api)"), line
        behind = check_server(Configuration(server_api_url=root + "/api", env={}), "charge")
        assert behind is not None and "try" not in behind and "HTML" in behind, behind  # no /api to suggest
    finally:
        server.shutdown()
        server.server_close()
