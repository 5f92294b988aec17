"""Fixtures of the migration tests: the feature document's workers in real processes.

``launch(*argv, server=..., env=...)`` starts ``python <argv>`` in the tests directory (so
``_support.migration`` imports) with a hermetic environment: no ``CONDUCTOR*`` variable from the
outside, the small ``FAST_ENV`` runtime numbers, an outbox directory of the test's own,
``CONDUCTOR_SERVER_URL`` pointing at the test's dev server, unbuffered output. Everything the
process and its worker processes print goes to one log file. At teardown the log is printed (pytest
shows it for a failed test) and whatever still runs is killed by pid.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from _support.cli_apps import FAST_ENV, WAIT, process_gone

#: The tests directory: ``_support.migration`` imports from there.
TESTS_DIR = Path(__file__).resolve().parents[1]

#: A log line of any process of the tree: ``[<process name> <pid>] conductor_actors.<area>: ...``.
_PROCESS_LINE = re.compile(r"\[[^\]\n]*? (\d+)\] conductor_actors\.")


class Launched:
    """One process tree started by a test (methods run on the test's thread)."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.argv = argv
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, *argv], cwd=TESTS_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,  # signals reach it only from the test
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def lines(self, pattern: str) -> list[re.Match[str]]:
        """Every match of the regex ``pattern`` (``^``/``$`` at lines) in the output so far."""
        return list(re.finditer(pattern, self.log(), re.MULTILINE))

    def stop(self, signum: int = signal.SIGTERM, timeout: float = WAIT) -> int:
        """Send ``signum`` and return the exit code; fails with the output if it does not exit."""
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.argv} did not exit within {timeout:g} s\n{self.log()[-4000:]}") from None

    def pids(self) -> set[int]:
        """The process and every process of its tree that logged a line."""
        return {self.process.pid} | {int(m.group(1)) for m in _PROCESS_LINE.finditer(self.log())}

    def kill_leftovers(self) -> list[int]:
        """SIGKILL each process of the tree that still runs; returns their pids."""
        killed = []
        for pid in sorted(self.pids()):
            if pid == self.process.pid and self.process.poll() is not None:
                continue
            if not process_gone(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
        self.process.wait(WAIT)
        return killed


Launch = Callable[..., Launched]


def hermetic_env(test_dir: Path, server_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Ours without ``CONDUCTOR*`` variables, plus ``FAST_ENV``, an outbox directory in ``test_dir``,
    the server URL and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CONDUCTOR")}
    env.update(FAST_ENV)
    env["CONDUCTOR_ACTORS_STATE_DIR"] = str(test_dir / "state")
    env["CONDUCTOR_SERVER_URL"] = server_url
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """``launch(*argv, server=<DevServer>, env=None) -> Launched`` (not waited on)."""
    started: list[Launched] = []

    def start(*argv: str, server: Any, env: Mapping[str, str] | None = None) -> Launched:
        run = Launched(list(argv), hermetic_env(tmp_path, server.url, env), tmp_path / f"run-{len(started) + 1}.log")
        started.append(run)
        return run

    yield start
    leftovers = []
    for run in started:
        print(f"{run.argv}: exit code {run.process.poll()}\n{run.log()[-6000:]}")
        exited = run.process.poll() is not None
        killed = run.kill_leftovers()
        if exited:
            leftovers += killed
    assert not leftovers, f"worker processes outlived their parent and were killed at teardown: {leftovers}"
