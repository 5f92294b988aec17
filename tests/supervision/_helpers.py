"""Shared pieces of the supervisor tests: small settings, a waiting helper, callback collectors and
an offset clock that a test can move forward."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path

from _support.fake_children import read_records
from _support.waiting import wait_until

from conductor_actors.settings import SupervisionSettings
from conductor_actors.supervision import EXIT_UNGUARDED_MAIN, ChildStatus

#: Generous upper bound for anything a test waits for (spawning is slow on a loaded machine).
WAIT = 20.0

#: Small numbers so every scenario takes seconds. Jitter 0 makes restart delays exact.
FAST = SupervisionSettings(
    restart_backoff_base=0.05,
    restart_backoff_cap=0.4,
    restart_jitter=0.0,
    restart_reset_after=60.0,
    heartbeat_timeout=2.0,
    boot_timeout=WAIT,
    kill_timeout=0.5,
    shutdown_grace=1.0,
    shutdown_flush=0.5,
    fast_shutdown_timeout=1.0,
)


def settings(**changes: object) -> SupervisionSettings:
    """``FAST`` with some values changed."""
    return replace(FAST, **changes)  # type: ignore[arg-type]


def wait_for_record(record_dir: Path, key: str, predicate: Callable[[list[str]], bool], what: str) -> list[str]:
    """Wait until the fake child ``key``'s record lines satisfy ``predicate``; returns them."""
    wait_until(lambda: predicate(read_records(record_dir, key)), f"{key}: {what}")
    return read_records(record_dir, key)


def started_pids(record_dir: Path, key: str) -> list[int]:
    """The pid of every process of ``key`` that started, in order."""
    return [int(line.split()[1]) for line in read_records(record_dir, key) if line.startswith("start ")]


def process_gone(pid: int) -> bool:
    """True once no process ``pid`` exists, reaped included: stricter than ``_support.waiting``'s
    (where a zombie counts as gone), so a supervisor that forgets to reap its children fails here.
    For processes the test did not start, use ``_support.waiting.process_gone``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def exits_like_an_unguarded_main(settings_bytes: bytes, conn: Connection) -> None:
    """A child target that ends the way a worker process whose bootstrap re-ran an unguarded main
    script ends: at once, with ``EXIT_UNGUARDED_MAIN`` and no message."""
    os._exit(EXIT_UNGUARDED_MAIN)


class Collector:
    """``on_state`` / ``on_message`` callbacks that keep what they get (thread-safe)."""

    def __init__(self) -> None:
        self.messages: queue.Queue[tuple[ChildStatus, object]] = queue.Queue()
        self._lock = threading.Lock()
        self._states: list[tuple[float, ChildStatus]] = []

    def on_message(self, status: ChildStatus, message: object) -> None:
        self.messages.put((status, message))

    def on_state(self, status: ChildStatus) -> None:
        with self._lock:
            self._states.append((time.monotonic(), status))

    def states(self, key: str) -> list[str]:
        """The successive states ``on_state`` reported for ``key``."""
        with self._lock:
            return [status.state for _, status in self._states if status.key == key]

    def timeline(self, key: str) -> list[tuple[float, ChildStatus]]:
        with self._lock:
            return [(at, status) for at, status in self._states if status.key == key]
