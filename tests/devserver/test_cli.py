"""The command line: ``python -m conductor_actors.devserver`` as a real subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from devserver._support import WAIT

import conductor_actors

ROOT = Path(conductor_actors.__file__).resolve().parent.parent
URL = re.compile(r"listening on (http://\S+/api)")


def cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "conductor_actors.devserver", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


@pytest.fixture
def running() -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    """A CLI server on a free port: (process, API URL, the announcement line)."""
    proc = cli("--port", "0", "--auth-key", "k", "--auth-secret", "s")
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = URL.search(line)
        assert match, line
        yield proc, match.group(1), line
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=WAIT)


def call(url: str, body: object = None, token: str | None = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    if token:
        request.add_header("X-Authorization", token)
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_it_announces_serves_and_stops_cleanly(running: tuple[subprocess.Popen[str], str, str],
                                               stop_signal: signal.Signals) -> None:
    proc, url, line = running
    assert "for local development and tests, not production" in line
    assert call(url + "/metadata/taskdefs")[0] == 401  # --auth-key/--auth-secret turn auth on
    status, body = call(url + "/token", {"keyId": "k", "keySecret": "s"})
    assert status == 200 and isinstance(body, dict)
    assert call(url + "/metadata/taskdefs", token=body["token"]) == (200, [])
    stats = call(url.removesuffix("/api") + "/__devserver__/stats")[1]
    assert isinstance(stats, dict) and stats["token"] == 1
    proc.send_signal(stop_signal)
    assert proc.wait(timeout=WAIT) == 0
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read()


def test_a_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = cli("--port", str(taken.getsockname()[1]))
        _, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "address already in use" in lines[0]


def test_help_says_what_it_is_for() -> None:
    proc = cli("--help")
    out, _ = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0
    assert "local development and tests, not production" in " ".join(out.split())


def test_bad_usage_exits_2() -> None:
    proc = cli("--auth-key", "only-a-key")
    _, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 2 and "--auth-secret" in err
