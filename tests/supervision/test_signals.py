"""Real signals: a parent program with ``install_signal_handlers`` stops its children gracefully on
SIGTERM/SIGINT and takes the fast path on a second signal."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _support.fake_children import read_records
from supervision._helpers import WAIT, process_gone, wait_for_record, wait_until

from conductor_actors.supervision import install_signal_handlers

TESTS_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = TESTS_DIR.parent
PARENT_SCRIPT = Path(__file__).resolve().parent / "_signal_parent.py"


class _Parent:
    """The parent program running as a subprocess in its own session."""

    def __init__(self, record_dir: Path, *args: str) -> None:
        env = dict(os.environ)
        # the package from this checkout, and the tests' helpers (``_support``)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_DIR), str(TESTS_DIR), env.get("PYTHONPATH")]))
        self.stderr_path = record_dir / "parent-stderr.txt"
        with self.stderr_path.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(PARENT_SCRIPT), str(record_dir), *args],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
                start_new_session=True,
            )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read_stdout, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.strip())

    def ready_pids(self) -> list[int]:
        try:
            line = self._lines.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(f"the parent never got ready; stderr:\n{self.stderr_path.read_text()}") from None
        assert line.startswith("READY "), f"{line}; stderr:\n{self.stderr_path.read_text()}"
        return [int(pid) for pid in line.split()[1:]]

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self) -> int:
        try:
            return self.process.wait(WAIT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the parent did not exit; stderr:\n{self.stderr_path.read_text()}") from None

    def kill_leftovers(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def run_parent(tmp_path: Path) -> Iterator[type[_Parent]]:
    started: list[_Parent] = []

    def start(*args: str) -> _Parent:
        parent = _Parent(tmp_path, *args)
        started.append(parent)
        return parent

    yield start  # type: ignore[misc]
    for parent in started:
        parent.kill_leftovers()


def test_sigterm_stops_the_parent_gracefully_and_reaps_the_children(run_parent, tmp_path: Path) -> None:
    parent = run_parent()
    pids = parent.ready_pids()
    parent.send(signal.SIGTERM)
    assert parent.wait() == 0, parent.stderr_path.read_text()
    for key, pid in zip(("alpha", "beta"), pids):
        records = read_records(tmp_path, key)
        assert "stop 30.0 1.0" in records and records[-1] == "exit 0", records
        assert "sigterm" not in records  # the signal went to the parent only; the child got Stop
        assert process_gone(pid)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_second_signal_takes_the_fast_path(run_parent, tmp_path: Path, signum: int, code: int) -> None:
    parent = run_parent("linger")
    pids = parent.ready_pids()
    parent.send(signum)
    for key in ("alpha", "beta"):  # the graceful Stop arrived; the children linger for 30 s
        wait_for_record(tmp_path, key, lambda lines: "stop 30.0 1.0" in lines, "the graceful Stop")
    started = time.monotonic()
    parent.send(signum)
    assert parent.wait() == code, parent.stderr_path.read_text()
    assert time.monotonic() - started < 10
    for key, pid in zip(("alpha", "beta"), pids):
        records = read_records(tmp_path, key)
        assert "stop 0.0 1.0" in records and records[-1] == "exit 0", records
        assert process_gone(pid)


class _RecordingSupervisor:
    """Stands in for the supervisor: the unit under test here is the signal plumbing."""

    def __init__(self) -> None:
        self.calls: list[tuple[bool, int | None]] = []

    def request_stop(self, *, fast: bool = False, exit_code: int | None = None) -> None:
        self.calls.append((fast, exit_code))


def test_handlers_route_signals_and_restore_the_previous_ones() -> None:
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    target = _RecordingSupervisor()
    restore = install_signal_handlers(target)
    try:
        assert all(signal.getsignal(signum) is not before[signum] for signum in before)
        os.kill(os.getpid(), signal.SIGTERM)
        wait_until(lambda: len(target.calls) == 1, "the first signal handled")
        os.kill(os.getpid(), signal.SIGINT)
        wait_until(lambda: len(target.calls) == 2, "the second signal handled")
    finally:
        restore()
    assert target.calls == [(False, None), (True, 130)]
    assert {signum: signal.getsignal(signum) for signum in before} == before


def test_handlers_must_be_installed_from_the_main_thread() -> None:
    errors: list[BaseException] = []

    def install() -> None:
        try:
            install_signal_handlers(_RecordingSupervisor())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=install, name="not-main")
    thread.start()
    thread.join(WAIT)
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
    assert "main thread" in str(errors[0]) and "not-main" in str(errors[0])
