"""Readiness and the start-up check, from the command line against real servers.

``/ready`` on the metrics port is 503 while a worker's polls fail (a URL without ``/api``, refused
credentials) with a JSON body naming each worker process and its last error, while ``/health``
(liveness) stays 200; it turns 200 once polls succeed. At start the runtime calls the server once
and says in one line what is wrong (404: the URL called and the ``/api`` hint; 401/403: the
credentials; no answer: the host), and the workers keep retrying.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from _support.cli_apps import SLEEPY_TASK, wait_until
from _support.ports import free_port

from conductor_actors.devserver import DevServer

if TYPE_CHECKING:
    from .conftest import CliRun, StartCli

APP = "_support.cli_apps.sleepy"


def _get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _start(cli: StartCli, flavour: str, url: str, env: dict[str, str] | None = None) -> tuple[CliRun, int]:
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
