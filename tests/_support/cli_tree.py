"""Real process trees started by tests: ``python -m conductor_actors ARGS`` (or the standalone dev
server's command line, or another program of the tests directory) with a hermetic environment, its
output read from a log file, waited on line by line, stopped with a signal, its exit code collected
and its leftovers killed by pid.

Everything here runs on the test's own thread. ``hermetic_env`` is the one builder of the
environment of such a process: the test's own without any ``CONDUCTOR*`` variable, plus small
runtime and supervision numbers, the outbox directory, the server URL and the worker flavour the
test asks for. ``CliTree`` is one started tree; ``finish_trees`` is the teardown a fixture runs
over the trees of its test; ``run_to_end`` runs the CLI to its end and captures what it printed.
A failed wait or stop raises ``AssertionError`` with the end of the tree's log.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from conductor_actors.settings import STATE_DIR_VARIABLE

from .cli_apps import FAST_ENV, FLAVOUR_VARIABLE
from .waiting import WAIT, process_gone, wait_until

__all__ = ["CLI", "DEV_SERVER", "TESTS_DIR", "CliTree", "finish_trees", "hermetic_env", "run_to_end"]

#: The tests root: a tree's working directory unless the test names another, so ``_support.*`` programs import.
TESTS_DIR = Path(__file__).resolve().parents[1]
#: What follows ``python`` to run the command line.
CLI = ("-m", "conductor_actors")
#: What follows ``python`` to run the standalone dev server's command line.
DEV_SERVER = ("-m", "conductor_actors.devserver")
#: A log line of any process of a tree: ``[<process name> <pid>] conductor_actors.<area>: ...``.
_PROCESS_LINE = re.compile(r"\[[^\]\n]*? (\d+)\] conductor_actors\.")
#: The supervisor's line for each worker process it started.
_WORKER_STARTED = r"worker \S+ started \(pid (\d+)\)"

T = TypeVar("T")


def hermetic_env(
    state_dir: Path | None,
    *,
    settings: Mapping[str, str] = FAST_ENV,
    server_url: str | None = None,
    flavour: str | None = "sync",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a tree: ours without ``CONDUCTOR*`` variables, plus ``settings`` (the
    ``CONDUCTOR_ACTORS_*`` numbers), the outbox in ``state_dir``, the flavour the test programs
    register (``FLAVOUR_VARIABLE``), the server URL, unbuffered output and ``extra``; ``None``
    leaves a variable out."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CONDUCTOR")}
    env.update(settings)
    if state_dir is not None:
        env[STATE_DIR_VARIABLE] = str(state_dir)
    if flavour is not None:
        env[FLAVOUR_VARIABLE] = flavour
    if server_url is not None:
        env["CONDUCTOR_SERVER_URL"] = server_url
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class CliTree:
    """``python ARGV`` (``python`` may be any program: ``sh`` runs a command line as a page shows
    it) started in ``cwd`` (the tests directory unless the test wrote its application into a
    directory of its own) in a session of its own (signals reach it only from the test;
    ``kill_all`` can end the whole group). Its output and that of its worker processes go to
    ``log_path``."""

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], log_path: Path, python: str = sys.executable,
        cwd: Path = TESTS_DIR,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [python, *self.argv], cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 60) -> str:
        return f"----- log of {self.argv} (last lines) -----\n" + "\n".join(self.log().splitlines()[-lines:])

    def matches(self, pattern: str) -> list[re.Match[str]]:
        """Every match of the regex ``pattern`` in the log so far (``^``/``$`` match at lines)."""
        return list(re.finditer(pattern, self.log(), re.MULTILINE))

    def wait_for(self, pattern: str, what: str, count: int = 1, timeout: float = WAIT) -> list[re.Match[str]]:
        """Wait until ``pattern`` matched ``count`` times in the log; returns the matches (see
        ``wait_until``)."""

        def found() -> list[re.Match[str]] | None:
            matches = self.matches(pattern)
            return matches if len(matches) >= count else None

        return self.wait_until(found, what, timeout)

    def wait_until(self, condition: Callable[[], T | None], what: str, timeout: float = WAIT,
                   interval: float = 0.02) -> T:
        """Poll ``condition`` until it returns something true and return that. Fails with the
        log's tail after ``timeout`` seconds, or as soon as the tree exits without it."""
        outcome: list[T | None] = []

        def settled() -> bool:
            running = self.process.poll() is None
            value = condition()  # checked after poll(): what the tree did before an exit counts
            if value or not running:
                outcome.append(value)
                return True
            return False

        try:
            wait_until(settled, what, timeout, interval)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.tail()}") from None
        value = outcome[0]
        if not value:
            raise AssertionError(f"{self.argv} exited ({self.process.returncode}) before {what}\n{self.tail()}")
        return value

    def worker_pids(self) -> list[int]:
        """Pids of every worker process the supervisor logged as started, in order."""
        return [int(m.group(1)) for m in self.matches(_WORKER_STARTED)]

    def started_pids(self, key: str) -> list[int]:
        """Pids of every process the supervisor started for worker ``key``, in order."""
        return [int(m.group(1)) for m in self.matches(rf"worker {re.escape(key)} started \(pid (\d+)\)")]

    def wait_ready(self, key: str, count: int = 1, timeout: float = WAIT) -> int:
        """Wait for the ``count``-th "is ready" line of worker ``key``; returns that process's pid."""
        found = self.wait_for(rf"worker {re.escape(key)} \(pid (\d+)\) is ready", f"{key} ready #{count}",
                              count, timeout)
        return int(found[count - 1].group(1))

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait_exit(self, timeout: float = WAIT) -> int:
        """The exit code; fails with the log's tail if the process still runs after ``timeout`` s."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.argv} did not exit within {timeout:g} s\n{self.tail()}") from None

    def stop(self, signum: int = signal.SIGTERM, timeout: float = WAIT) -> int:
        """Send ``signum`` (SIGTERM: a graceful stop) and return the exit code (see ``wait_exit``)."""
        self.send(signum)
        return self.wait_exit(timeout)

    def kill_leftovers(self) -> list[int]:
        """SIGKILL the process and every process of its tree (a worker the supervisor logged as
        started, or any process that logged a line) that still runs; returns the pids of those
        that outlived a parent that had already exited."""
        parent_exited = self.process.poll() is not None
        pids = (set(self.worker_pids()) | {int(m.group(1)) for m in _PROCESS_LINE.finditer(self.log())}) - {self.pid}
        orphans = []
        for pid in ([] if parent_exited else [self.pid]) + sorted(pids):  # the parent first: it restarts workers
            if process_gone(pid):
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            if parent_exited:
                orphans.append(pid)
        self.process.wait(WAIT)
        return orphans

    def kill_all(self) -> None:
        """SIGKILL the whole tree at once (the parent, its worker processes, multiprocessing's
        helpers: the process group it leads) and reap the parent."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # nothing of the group is left
        self.process.wait(WAIT)


def finish_trees(trees: Iterable[CliTree]) -> None:
    """The teardown of a test's trees: print each one's exit code and log (pytest shows it when the
    test failed), kill whatever still runs, and fail if a worker process outlived its parent."""
    orphans = []
    for tree in trees:
        print(f"{tree.argv}: exit code {tree.process.poll()}\n{tree.tail(200)}")
        orphans += tree.kill_leftovers()
    assert not orphans, f"worker processes outlived their parent and were killed at teardown: {orphans}"


def run_to_end(
    args: Sequence[str], env: Mapping[str, str] | None, timeout: float = WAIT
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m conductor_actors ARGS`` in the tests directory to its end, its output
    captured as text; ``env`` ``None`` keeps the test's own environment."""
    return subprocess.run(
        [sys.executable, *CLI, *args], cwd=TESTS_DIR, env=None if env is None else dict(env),
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False,
    )
