"""A child started by ``SupervisedChild.spawn`` gets its pipe, the supervisor thread's signal
mask, a working sentinel and exit code. (A "forkserver" tree is covered by ``test_lifecycle``.)"""

from __future__ import annotations

import multiprocessing
import pickle
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import wait
from pathlib import Path

from _support.fake_children import fake_child_main, fake_settings, read_records, well_behaved
from supervision._helpers import WAIT, wait_for_record

from conductor_actors.runtime import Pause, Ready
from conductor_actors.supervision._child import SupervisedChild


def in_other_thread(action: Callable[[], object]) -> None:
    """Run ``action()`` in a short-lived thread (as the supervisor thread starts children), so the
    signal mask it sets does not stay on the test's thread; re-raises what it raised."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive(), "starting the child did not finish"
    if failures:
        raise failures[0]


def test_supervised_child_has_pipe_mask_sentinel_and_exit_code(tmp_path: Path) -> None:
    """``SupervisedChild.spawn`` with "spawn": the child boots with SIGINT/SIGTERM blocked, its
    Ready arrives over the pipe and a Pause sent back reaches it; after SIGKILL its sentinel is
    ready and the exit code is -9."""
    worker_settings = fake_settings("spawned", well_behaved(tmp_path))
    child = SupervisedChild(worker_settings, pickle.dumps(worker_settings))
    context = multiprocessing.get_context("spawn")
    in_other_thread(lambda: child.spawn(context, fake_child_main, now=0.0))
    assert child.pid is not None and child.conn is not None and child.sentinel is not None
    try:
        assert child.conn.poll(WAIT), read_records(tmp_path, "spawned")
        ready = child.conn.recv()
        assert isinstance(ready, Ready) and ready.pid == child.pid
        assert read_records(tmp_path, "spawned")[0] == f"start {child.pid} 1 blocked=SIGINT,SIGTERM"
        assert child.send(Pause())
        wait_for_record(tmp_path, "spawned", lambda lines: "pause" in lines, "the Pause to arrive")

        child.signal(kill=True)
        assert wait([child.sentinel], WAIT) == [child.sentinel]
        assert child.reap() == -signal.SIGKILL
        assert child.last_exit == "SIGKILL" and child.process is None
    finally:
        if child.process is not None:
            child.signal(kill=True)
            child.reap()
