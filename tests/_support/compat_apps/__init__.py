"""Programs for the compatibility tests: official-SDK-style code with only its imports changed,
run in real processes (``python -m conductor_actors <module>`` or ``python -m <script>``) from the
tests directory against the test's dev server.

The test side shares ``Run`` (one process tree whose output goes to a log file, stopped with a
signal, leftovers killed by pid) and ``run_env`` (a hermetic environment: no ``CONDUCTOR*``
variable from the outside, the small ``FAST_ENV`` numbers, an outbox directory of the test's own,
the flavour, unbuffered output). Modules that define workers choose their flavour from
``CLI_APPS_FLAVOUR`` ("sync" or "async"), as the CLI scenarios do.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from ..cli_apps import FAST_ENV, FLAVOUR_VARIABLE, WAIT, process_gone

__all__ = [
    "CLASS_TASK",
    "DECORATED_TASK",
    "FUNCTION_TASK",
    "GREET_ASYNC_TASK",
    "GREET_TASK",
    "LISTED_TASK",
    "OBJECT_TASKS",
    "TESTS_DIR",
    "Run",
    "run_env",
]

#: Task types of the programs' workers. Tests take them from here instead of importing a program,
#: so the test process's worker registry stays clean.
FUNCTION_TASK = "compat_objects_function"
CLASS_TASK = "compat_objects_class"
LISTED_TASK = "compat_objects_listed"
DECORATED_TASK = "compat_objects_decorated"
OBJECT_TASKS = (FUNCTION_TASK, CLASS_TASK, LISTED_TASK, DECORATED_TASK)
GREET_TASK = "compat_greet"
GREET_ASYNC_TASK = "compat_greet_async"

#: The tests directory: ``_support.compat_apps`` imports from there.
TESTS_DIR = Path(__file__).resolve().parents[2]

#: A log line of any process of the tree: ``[<process name> <pid>] conductor_actors.<area>: ...``.
_PROCESS_LINE = re.compile(r"\[[^\]\n]*? (\d+)\] conductor_actors\.")


def run_env(test_dir: Path, server_url: str, flavour: str = "sync",
            extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Ours without ``CONDUCTOR*`` variables, plus ``FAST_ENV``, an outbox directory in
    ``test_dir``, the server URL, the flavour and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CONDUCTOR")}
    env.update(FAST_ENV)
    env["CONDUCTOR_ACTORS_STATE_DIR"] = str(test_dir / "state")
    env["CONDUCTOR_SERVER_URL"] = server_url
    env[FLAVOUR_VARIABLE] = flavour
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class Run:
    """``python <argv>`` started in the tests directory, its whole output in ``log_path``.
    Methods run on the test's thread."""

    def __init__(self, argv: list[str], env: Mapping[str, str], log_path: Path,
                 python: str = sys.executable) -> None:
        self.argv = argv
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [python, *argv], cwd=TESTS_DIR, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,  # signals reach it only from the test
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = WAIT) -> int:
        """Send ``signum`` and return the exit code; fails with the output if it does not exit."""
        self.process.send_signal(signum)
        return self.wait(timeout)

    def wait(self, timeout: float = WAIT) -> int:
        """The exit code; fails with the output if the process still runs after ``timeout`` s."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.argv} did not exit within {timeout:g} s\n{self.log()[-4000:]}") from None

    def kill_leftovers(self) -> list[int]:
        """SIGKILL the process and each process of its tree that logged a line and still runs;
        returns the pids of worker processes that outlived an exited parent."""
        parent_exited = self.process.poll() is not None
        pids = {int(m.group(1)) for m in _PROCESS_LINE.finditer(self.log())} - {self.process.pid}
        orphans = []
        for pid in sorted(pids | ({self.process.pid} if not parent_exited else set())):
            if process_gone(pid):
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            if parent_exited and pid != self.process.pid:
                orphans.append(pid)
        self.process.wait(WAIT)
        return orphans
