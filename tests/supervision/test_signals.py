"""Real signals: a parent program with ``install_signal_handlers`` stops its children gracefully on
SIGTERM/SIGINT and takes the fast path on a second signal."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _support.cli_tree import TESTS_DIR, CliTree, hermetic_env
from _support.fake_children import read_records
from supervision._helpers import WAIT, process_gone, wait_for_record, wait_until

from conductor_actors.supervision import install_signal_handlers

PROJECT_DIR = TESTS_DIR.parent
PARENT_SCRIPT = Path(__file__).resolve().parent / "_signal_parent.py"

StartParent = Callable[..., CliTree]


@pytest.fixture
def run_parent(tmp_path: Path) -> Iterator[StartParent]:
    """``run_parent(*args) -> CliTree``: the parent program (``_signal_parent.py`` recording into
    ``tmp_path``) started in a session of its own. At teardown its log is printed and its whole
    process group killed: its fake children log no line a tree could find their pids by."""
    # the package from this checkout, and the tests' helpers (``_support``)
    path = os.pathsep.join(filter(None, [str(PROJECT_DIR), str(TESTS_DIR), os.environ.get("PYTHONPATH")]))
    env = hermetic_env(None, settings={}, flavour=None, extra={"PYTHONPATH": path})
    started: list[CliTree] = []

    def start(*args: str) -> CliTree:
        parent = CliTree([str(PARENT_SCRIPT), str(tmp_path), *args], env, tmp_path / f"parent-{len(started)}.log")
        started.append(parent)
        return parent

    yield start
    for parent in started:
        print(f"{parent.argv}: exit code {parent.process.poll()}\n{parent.tail(200)}")
        parent.kill_all()


def _ready_pids(parent: CliTree) -> list[int]:
    """The children's pids from the parent's ``READY <pid> <pid>`` line; fails on ``NOT READY``."""
    line = parent.wait_for(r"^(?:NOT )?READY\b.*$", "the parent's READY line")[0].group(0)
    assert line.startswith("READY "), f"{line}\n{parent.tail()}"
    return [int(pid) for pid in line.split()[1:]]


def test_sigterm_stops_the_parent_gracefully_and_reaps_the_children(run_parent, tmp_path: Path) -> None:
    parent = run_parent()
    pids = _ready_pids(parent)
    parent.send(signal.SIGTERM)
    assert parent.wait_exit() == 0, parent.log()
    for key, pid in zip(("alpha", "beta"), pids):
        records = read_records(tmp_path, key)
        assert "stop 30.0 1.0" in records and records[-1] == "exit 0", records
        assert "sigterm" not in records  # the signal went to the parent only; the child got Stop
        assert process_gone(pid)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_second_signal_takes_the_fast_path(run_parent, tmp_path: Path, signum: int, code: int) -> None:
    parent = run_parent("linger")
    pids = _ready_pids(parent)
    parent.send(signum)
    for key in ("alpha", "beta"):  # the graceful Stop arrived; the children linger for 30 s
        wait_for_record(tmp_path, key, lambda lines: "stop 30.0 1.0" in lines, "the graceful Stop")
    started = time.monotonic()
    parent.send(signum)
    assert parent.wait_exit() == code, parent.log()
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
