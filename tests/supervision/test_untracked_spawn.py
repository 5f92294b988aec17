"""Worker processes started with "spawn" run without multiprocessing's resource-tracker process:
no process of a real tree runs the tracker, and a child started by the untracked launcher still
gets its pipe, the supervisor thread's signal mask, a working sentinel and exit code, and sees
itself as the ``SpawnProcess`` multiprocessing would have made. (A "forkserver" tree is covered
by ``test_lifecycle``.)"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import wait
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _support.cli_apps import FAST_ENV, PAIR_ASYNC_TASK, PAIR_SYNC_TASK, one_task_workflow, start_workflows
from _support.fake_children import fake_child_main, fake_spec, read_records, well_behaved
from _support.waiting import process_gone, wait_until
from supervision._helpers import WAIT, wait_for_record

from conductor_actors.runtime import Pause, Ready
from conductor_actors.settings import STATE_DIR_VARIABLE
from conductor_actors.supervision import _spawn
from conductor_actors.supervision._child import SupervisedChild

if TYPE_CHECKING:
    from conductor_actors.devserver import DevServer

TESTS_DIR = Path(__file__).resolve().parents[1]
TRACKER_MODULE = "multiprocessing.resource_tracker"

pytestmark = pytest.mark.skipif(not _spawn.UNTRACKED_SPAWN, reason="this Python lacks the untracked launcher's pieces")


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, grandchildren...), read from procfs."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                text = children.read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue  # that thread or process just ended
            for child in map(int, text.split()):
                if child not in found:
                    found.append(child)
                    pending.append(child)
    return found


def command_line(pid: int) -> str:
    """The command line of ``pid`` with spaces between the arguments ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


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


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs procfs")
def test_cli_tree_has_no_resource_tracker(dev_server: DevServer, tmp_path: Path) -> None:
    """``python -m conductor_actors`` with the default start method and one worker of each flavour:
    both workers poll (their workflows complete), the tree holds exactly the two worker processes
    and none of its processes runs the resource tracker; SIGTERM still stops it with exit code 0."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CONDUCTOR")}
    env.update(FAST_ENV)
    env.update({"CONDUCTOR_SERVER_URL": dev_server.url, STATE_DIR_VARIABLE: str(tmp_path / "state")})
    log_path = tmp_path / "cli.log"
    with open(log_path, "wb") as log:
        cli = subprocess.Popen(
            [sys.executable, "-m", "conductor_actors", "_support.cli_apps.pair"], cwd=TESTS_DIR, env=env,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    workers: list[int] = []
    try:
        flows = [one_task_workflow(dev_server, task, ["index"]) for task in (PAIR_SYNC_TASK, PAIR_ASYNC_TASK)]
        ids = [workflow_id for flow in flows for workflow_id in start_workflows(dev_server, flow, [{"index": 1}])]
        assert dev_server.wait_for_workflows(ids, WAIT) == dict.fromkeys(ids, "COMPLETED"), log_path.read_text()

        tree = {pid: command_line(pid) for pid in descendants(cli.pid)}
        workers = [pid for pid, args in tree.items() if "spawn_main" in args]
        assert len(workers) == 2, tree
        assert not [args for args in tree.values() if TRACKER_MODULE in args], tree
        assert not [args for args in tree.values() if "tracker_fd" in args], tree

        cli.send_signal(signal.SIGTERM)
        assert cli.wait(WAIT) == 0, log_path.read_text()
        wait_until(lambda: all(process_gone(pid) for pid in workers), "the worker processes to end")
    finally:
        for pid in [cli.pid, *workers]:
            if not process_gone(pid):
                os.kill(pid, signal.SIGKILL)
        cli.wait(WAIT)


def test_supervised_child_has_pipe_mask_sentinel_and_exit_code(tmp_path: Path) -> None:
    """``SupervisedChild.spawn`` with "spawn": the untracked launcher starts the child (no tracker
    descriptor on its command line); it boots with SIGINT/SIGTERM blocked, its Ready arrives over
    the pipe and a Pause sent back reaches it; after SIGKILL its sentinel is ready and the exit
    code is -9."""
    spec = fake_spec("untracked", well_behaved(tmp_path))
    child = SupervisedChild(spec, pickle.dumps(spec))
    context = multiprocessing.get_context("spawn")
    in_other_thread(lambda: child.spawn(context, fake_child_main, now=0.0))
    assert child.pid is not None and child.conn is not None and child.sentinel is not None
    try:
        assert isinstance(child.process, _spawn.UntrackedSpawnProcess)
        # The launcher does not wait for the exec: until then procfs shows an empty or the parent's line.
        def launched() -> str | None:
            args = command_line(child.pid)
            return args if "spawn_main" in args else None

        args = wait_until(launched, "the child's command line")
        assert "tracker_fd" not in args, args

        assert child.conn.poll(WAIT), read_records(tmp_path, "untracked")
        ready = child.conn.recv()
        assert isinstance(ready, Ready) and ready.pid == child.pid
        assert read_records(tmp_path, "untracked")[0] == f"start {child.pid} 1 blocked=SIGINT,SIGTERM"
        assert child.send(Pause())
        wait_for_record(tmp_path, "untracked", lambda lines: "pause" in lines, "the Pause to arrive")

        child.signal(kill=True)
        assert wait([child.sentinel], WAIT) == [child.sentinel]
        assert child.reap() == -signal.SIGKILL
        assert child.last_exit == "SIGKILL" and child.process is None
    finally:
        if child.process is not None:
            child.signal(kill=True)
            child.reap()


#: Run by ``exec`` in the child (a builtin target needs nothing imported to unpickle): reports what
#: the child sees, then answers one request over the pipe.
_PROBE = """
import multiprocessing, sys
me = multiprocessing.current_process()
conn.send((type(me).__module__, type(me).__qualname__, me.name,
           sorted(m for m in sys.modules if m.startswith("conductor_actors"))))
conn.send(conn.recv() * 2)
"""


def test_child_sees_a_plain_spawn_process_and_imports_nothing_of_ours() -> None:
    """A process from ``new_process`` reaches the child as multiprocessing's own ``SpawnProcess``
    (same name), so the child imports nothing of this package to boot; a round trip over the
    Pipe works and a normal end gives exit code 0 and a ready sentinel."""
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe(duplex=True)
    process = _spawn.new_process(context, target=exec, args=(_PROBE, {"conn": child_end}), name="probe")
    assert isinstance(process, _spawn.UntrackedSpawnProcess)
    try:
        process.start()
        child_end.close()
        assert parent_end.poll(WAIT)
        assert parent_end.recv() == ("multiprocessing.context", "SpawnProcess", "probe", [])
        parent_end.send(21)
        assert parent_end.poll(WAIT) and parent_end.recv() == 42
        assert wait([process.sentinel], WAIT) == [process.sentinel]
        process.join(WAIT)
        assert process.exitcode == 0
    finally:
        parent_end.close()
        if process.exitcode is None and process.pid is not None:
            process.kill()
            process.join(WAIT)


@pytest.mark.parametrize("method", [m for m in ("fork", "forkserver") if m in multiprocessing.get_all_start_methods()])
def test_other_start_methods_keep_multiprocessings_own_process(method: str) -> None:
    context = multiprocessing.get_context(method)
    process = _spawn.new_process(context, target=print, name="other")
    assert type(process) is type(context.Process())  # type: ignore[attr-defined]
    assert not _spawn.starts_untracked(context)


def test_without_the_private_pieces_spawn_falls_back_to_multiprocessing(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an unexpected Python gets (the import-time check failed): the context's own
    ``SpawnProcess``, and the caller knows the tracker may start."""
    context = multiprocessing.get_context("spawn")
    assert _spawn.starts_untracked(context)
    monkeypatch.setattr(_spawn, "UNTRACKED_SPAWN", False)
    assert type(_spawn.new_process(context, target=print)) is multiprocessing.context.SpawnProcess
    assert not _spawn.starts_untracked(context)
