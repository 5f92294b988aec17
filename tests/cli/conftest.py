"""Fixtures of the CLI tests: ``python -m conductor_actors`` as a real subprocess.

``cli`` starts the CLI in the tests directory (so ``_support.cli_apps.<scenario>`` imports) with
a hermetic environment: no ``CONDUCTOR_*`` variable from the outside, runtime and supervision
numbers small enough (``FAST_ENV``) for each scenario to take seconds, the outbox journal in the
test's own directory, and ``CLI_APPS_FLAVOUR`` choosing the worker flavour. Parent and children
log to one file the test reads. Whatever a test leaves running is killed, by pid, when it ends.
``run_cli`` runs the CLI to its end and captures what it printed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _support.cli_apps import FAST_ENV, FLAVOUR_VARIABLE, WAIT, process_gone, wait_until

from conductor_actors.settings import STATE_DIR_VARIABLE

#: The directory the CLI runs in: the tests root, which holds the ``_support`` package.
TESTS_DIR = Path(__file__).resolve().parents[1]


def cli_env(
    test_dir: Path, flavour: str = "sync", server_url: str | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a CLI run: ours without ``CONDUCTOR_*``, plus ``FAST_ENV``, an outbox
    directory inside ``test_dir``, the flavour, the server URL and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CONDUCTOR")}
    env.update(FAST_ENV)
    env[STATE_DIR_VARIABLE] = str(test_dir / "state")
    env[FLAVOUR_VARIABLE] = flavour
    env["PYTHONUNBUFFERED"] = "1"
    if server_url is not None:
        env["CONDUCTOR_SERVER_URL"] = server_url
    env.update(extra or {})
    return env


class CliRun:
    """One ``python -m conductor_actors`` process started by a test; stdout and stderr (the parent's
    and its children's logs) go to ``log_path``. Methods run on the test's thread."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args = args
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "conductor_actors", *args],
                cwd=TESTS_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # signals reach it only from the test
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 60) -> str:
        return "----- CLI log (last lines) -----\n" + "\n".join(self.log().splitlines()[-lines:])

    def matches(self, pattern: str) -> list[re.Match[str]]:
        """Every match of the regex ``pattern`` in the log so far (``^``/``$`` match at lines)."""
        return list(re.finditer(pattern, self.log(), re.MULTILINE))

    def wait_for(self, pattern: str, what: str, count: int = 1, timeout: float = WAIT) -> list[re.Match[str]]:
        """Wait until ``pattern`` matched ``count`` times in the log; returns the matches. Fails
        after ``timeout`` seconds, or as soon as the CLI exits without them."""
        exited: list[int] = []

        def seen() -> list[re.Match[str]] | bool:
            running = self.process.poll() is None
            found = self.matches(pattern)  # read after poll(): the last lines before an exit count
            if len(found) >= count:
                return found
            if not running:
                exited.append(self.process.returncode)
                return True
            return []

        result = wait_until(seen, what, timeout)
        if exited:
            raise AssertionError(f"the CLI exited ({exited[0]}) before {what}\n{self.tail()}")
        return result  # type: ignore[return-value]

    def started_pids(self, key: str) -> list[int]:
        """Pids of every process the supervisor started for worker ``key``, in order."""
        return [int(m.group(1)) for m in self.matches(rf"worker {re.escape(key)} started \(pid (\d+)\)")]

    def all_child_pids(self) -> list[int]:
        """Pids of every worker process the supervisor logged as started."""
        return [int(m.group(1)) for m in self.matches(r"worker \S+ started \(pid (\d+)\)")]

    def wait_ready(self, key: str, count: int = 1, timeout: float = WAIT) -> int:
        """Wait for the ``count``-th "is ready" line of worker ``key``; returns that process's pid."""
        found = self.wait_for(rf"worker {re.escape(key)} \(pid (\d+)\) is ready", f"{key} ready #{count}",
                              count, timeout)
        return int(found[count - 1].group(1))

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait_exit(self, timeout: float = WAIT) -> int:
        """The CLI's exit code; fails with the log if it is still running after ``timeout`` s."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the CLI did not exit within {timeout:g} s\n{self.tail()}") from None

    def kill_leftovers(self) -> list[int]:
        """SIGKILL the CLI and every worker process it logged that still runs; returns their pids."""
        alive = [self.pid] if self.process.poll() is None else []
        alive += [pid for pid in self.all_child_pids() if not process_gone(pid)]
        killed = []
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
        self.process.wait(WAIT)
        return killed


StartCli = Callable[..., CliRun]


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[StartCli]:
    """``cli(*args, flavour="sync", server=None, env=None) -> CliRun``: start the CLI (not waited on).

    ``server`` (a DevServer) sets ``CONDUCTOR_SERVER_URL``; ``env`` adds or overrides variables.
    At teardown each run's log is printed (pytest shows it for a failed test), anything still
    running is killed, and the test fails if a worker process outlived a CLI that had exited."""
    runs: list[CliRun] = []

    def start(*args: str, flavour: str = "sync", server: Any = None, env: Mapping[str, str] | None = None) -> CliRun:
        url = None if server is None else server.url
        run = CliRun(list(args), cli_env(tmp_path, flavour, url, env), tmp_path / f"cli-{len(runs) + 1}.log")
        runs.append(run)
        return run

    yield start
    orphans = []
    for run in runs:
        print(f"{run.args}: exit code {run.process.poll()}\n{run.tail(200)}")  # shown when the test failed
        exited = run.process.poll() is not None
        killed = run.kill_leftovers()
        if exited:
            orphans += killed
    assert not orphans, f"worker processes outlived their CLI and were killed at teardown: {orphans}"


@dataclass(frozen=True)
class Finished:
    """What a CLI run that went to its end left behind."""

    code: int
    stdout: str
    stderr: str
    seconds: float


RunCli = Callable[..., Finished]


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """``run_cli(*args, flavour="sync", env=None, timeout=WAIT) -> Finished``: run the CLI to its end."""

    def run(*args: str, flavour: str = "sync", env: Mapping[str, str] | None = None,
            timeout: float = WAIT) -> Finished:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "conductor_actors", *args], cwd=TESTS_DIR,
            env=cli_env(tmp_path, flavour, None, env), capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Finished(done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    return run

