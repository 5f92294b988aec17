"""Waiting on the test's side: poll a condition with a deadline (tests never sleep to wait), and
tell whether a process is gone. Shared by the test helpers of ``cli_apps``, ``fault_apps`` and
``metrics_apps``, which re-export these names."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["WAIT", "process_gone", "wait_until"]

#: Generous upper bound (s) for anything a test waits for: spawning is slow on a loaded machine.
WAIT = 30.0

T = TypeVar("T")


def wait_until(condition: Callable[[], T | None], what: str, timeout: float = WAIT, interval: float = 0.02) -> T:
    """Poll ``condition`` (in the calling thread) until it returns something true and return that;
    raise ``AssertionError`` naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def process_gone(pid: int) -> bool:
    """True when no process ``pid`` runs any more (an unreaped zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    except OSError:  # no procfs: the kill(0) above is all we know
        return False
    return state in ("Z", "X")
