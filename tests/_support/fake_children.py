"""Fake worker processes for the supervisor's tests.

They speak the real parent/child pipe protocol (``conductor_actors.runtime._messages``) and follow
the real child's signal rules (SIGINT ignored, SIGTERM = graceful stop, a second SIGTERM = exit 1,
SIGINT/SIGTERM unblocked only after the handlers are installed), but do no Conductor work. What a
fake does is described by a ``FakeBehaviour`` pickled into the ``worker_payload`` of its ``WorkerSettings``; the
process entry point is ``fake_child_main`` (module level, so spawn can import it).

A fake records what happens to it, one line per event, in ``<record_dir>/<key>.log``:
``start <pid> <start number> blocked=<signals>``, ``ready``, ``stop <grace> <flush>``, ``pause``,
``resume``, ``sigterm``, ``eof``, ``wedged``, ``crash``, ``exit <code>``. ``<key>.count`` counts
its starts, so a behaviour can change after the first N starts.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from conductor_actors.client import Configuration, TaskResult, TaskResultStatus
from conductor_actors.events import PollStarted
from conductor_actors.runtime import (
    EventBatch,
    Exiting,
    Heartbeat,
    Pause,
    Ready,
    Resume,
    Stop,
    UndeliveredResult,
    WorkerSettings,
)
from conductor_actors.settings import RuntimeSettings

__all__ = [
    "BOOT_FAILURE_REASON",
    "FakeBehaviour",
    "boot_failure",
    "chatty",
    "crash_loop",
    "crashes_then_behaves",
    "fake_child_main",
    "fake_settings",
    "hangs_before_ready",
    "ignores_stop",
    "read_records",
    "sends_garbage",
    "stuck_stage",
    "wedged",
    "well_behaved",
]

#: Reason a ``boot_failure`` fake sends in its ``Exiting`` message.
BOOT_FAILURE_REASON = "cannot import module 'no_such_module' (No module named 'no_such_module')"


@dataclass(frozen=True)
class FakeBehaviour:
    """What one fake child does.

    Attributes:
        record_dir: directory for the ``<key>.log`` and ``<key>.count`` files.
        boot: "ready" (send Ready), "fail" (send Exiting(reason, 3), exit 3) or "hang" (never Ready;
            SIGTERM still stops it).
        crash_starts: crash (exit 1, nothing sent) right after Ready on the first N starts;
            -1 = on every start.
        wedge_starts: on the first N starts, block the main loop for good after ``beats`` heartbeats
            (no more heartbeats, pipe not read, SIGTERM noted but not acted on).
        stuck_stage_starts: on the first N starts, keep heartbeating but report the "executor"
            stage as not having run since Ready.
        beats: heartbeats sent before wedging.
        on_stop: "exit" (send Exiting, exit 0), "linger" (keep going ``grace`` seconds unless a
            Stop(0, ...) or SIGTERM comes) or "ignore" (also ignores SIGTERM: only SIGKILL ends it).
        chatty: after Ready, send one EventBatch and one UndeliveredResult naming this child.
        garbage: after Ready, send an unexpected object, a frame that is not a pickle and a
            Heartbeat with unreadable stage ages, then behave.
        farewell: when it stops, send this many EventBatch messages just before Exiting (the
            last events of a stopping worker), the n-th with ``PollStarted(poll_count=n)``.
    """

    record_dir: str
    boot: str = "ready"
    crash_starts: int = 0
    wedge_starts: int = 0
    stuck_stage_starts: int = 0
    beats: int = 2
    on_stop: str = "exit"
    chatty: bool = False
    garbage: bool = False
    farewell: int = 0


def well_behaved(record_dir: Path | str, *, linger: bool = False) -> FakeBehaviour:
    return FakeBehaviour(str(record_dir), on_stop="linger" if linger else "exit")


def crashes_then_behaves(record_dir: Path | str, crashes: int) -> FakeBehaviour:
    return FakeBehaviour(str(record_dir), crash_starts=crashes)


def crash_loop(record_dir: Path | str) -> FakeBehaviour:
    return FakeBehaviour(str(record_dir), crash_starts=-1)


def boot_failure(record_dir: Path | str) -> FakeBehaviour:
    return FakeBehaviour(str(record_dir), boot="fail")


def hangs_before_ready(record_dir: Path | str) -> FakeBehaviour:
    return FakeBehaviour(str(record_dir), boot="hang")


def wedged(record_dir: Path | str, *, starts: int = 1, beats: int = 2) -> FakeBehaviour:
    return FakeBehaviour(str(record_dir), wedge_starts=starts, beats=beats)


def stuck_stage(record_dir: Path | str, *, starts: int = 1) -> FakeBehaviour:
    return FakeBehaviour(str(record_dir), stuck_stage_starts=starts)


def ignores_stop(record_dir: Path | str) -> FakeBehaviour:
    return FakeBehaviour(str(record_dir), on_stop="ignore")


def chatty(record_dir: Path | str, *, farewell: int = 0) -> FakeBehaviour:
    return FakeBehaviour(str(record_dir), chatty=True, farewell=farewell)


def sends_garbage(record_dir: Path | str) -> FakeBehaviour:
    return FakeBehaviour(str(record_dir), garbage=True)


def fake_settings(key: str, behaviour: FakeBehaviour, *, heartbeat_interval: float = 0.2) -> WorkerSettings:
    """A real ``WorkerSettings`` whose worker payload is ``behaviour`` (for ``fake_child_main``)."""
    return WorkerSettings(
        key=key,
        task_type=f"{key}_task",
        worker_payload=pickle.dumps(behaviour),
        worker_config=None,
        configuration=Configuration(server_api_url="http://127.0.0.1:9/api", env={}),
        runtime=RuntimeSettings(heartbeat_interval=heartbeat_interval),
    )


def read_records(record_dir: Path | str, key: str) -> list[str]:
    """The lines a fake child recorded so far (empty if none)."""
    path = Path(record_dir) / f"{key}.log"
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


class _Recorder:
    def __init__(self, record_dir: str, key: str) -> None:
        self._log = Path(record_dir) / f"{key}.log"
        self._count = Path(record_dir) / f"{key}.count"

    def line(self, text: str) -> None:
        with self._log.open("a") as handle:
            handle.write(text + "\n")

    def next_start(self) -> int:
        try:
            number = int(self._count.read_text()) + 1
        except FileNotFoundError:
            number = 1
        self._count.write_text(str(number))
        return number


class _Fake:
    """The fake child's state; runs on the child's main thread (signal handlers too)."""

    def __init__(self, settings: WorkerSettings, behaviour: FakeBehaviour, conn: Connection) -> None:
        self.settings, self.behaviour, self.conn = settings, behaviour, conn
        self.pid = os.getpid()
        self.recorder = _Recorder(behaviour.record_dir, settings.key)
        self.start = self.recorder.next_start()
        self.sigterms = 0
        self.stop_now = False

    def applies(self, starts: int) -> bool:
        return starts == -1 or self.start <= starts

    def install_signals(self) -> None:
        blocked = sorted(signal.Signals(s).name for s in signal.pthread_sigmask(signal.SIG_BLOCK, []))
        self.recorder.line(f"start {self.pid} {self.start} blocked={','.join(blocked)}")
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, self.on_sigterm)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})

    def on_sigterm(self, signum: int, frame: object) -> None:
        self.sigterms += 1
        self.recorder.line("sigterm")
        if self.behaviour.on_stop == "ignore":
            return
        if self.sigterms >= 2:
            self.exit(1, "second SIGTERM")
        self.stop_now = True

    def exit(self, code: int, reason: str) -> None:
        try:
            self.conn.send(Exiting(reason, code))
        except OSError:
            pass
        self.recorder.line(f"exit {code}")
        os._exit(code)

    def run(self) -> None:
        self.install_signals()
        behaviour = self.behaviour
        if behaviour.boot == "fail":
            self.exit(3, BOOT_FAILURE_REASON)
        if behaviour.boot == "hang":
            while not self.stop_now:
                signal.pause()
            self.exit(0, "stopped before it was ready")
        self.conn.send(Ready(self.pid, self.settings.task_type, "sync", f"fake-{self.pid}"))
        self.recorder.line("ready")
        if self.applies(behaviour.crash_starts):
            self.recorder.line("crash")
            os._exit(1)
        if behaviour.chatty:
            self.send_chatter()
        if behaviour.garbage:
            self.conn.send("hello")
            self.conn.send_bytes(b"this is not a pickle")
            self.conn.send(Heartbeat(self.pid, "poller", 0))  # type: ignore[arg-type]
        self.main_loop()

    def send_chatter(self) -> None:
        key, task_type = self.settings.key, self.settings.task_type
        self.conn.send(EventBatch(events=(PollStarted(task_type, worker_id=key, poll_count=1),), metrics=None))
        result = TaskResult(
            task_id=f"{key}-task", workflow_instance_id="wf-1", worker_id=key, status=TaskResultStatus.COMPLETED
        )
        self.conn.send(UndeliveredResult(task_type, result, ConnectionError(f"{key}: server unreachable"), 4))

    def main_loop(self) -> None:
        interval = self.settings.runtime.heartbeat_interval
        ready_at = time.monotonic()
        next_beat, beats, linger_until = ready_at, 0, None
        stuck = self.applies(self.behaviour.stuck_stage_starts)
        while not self.stop_now:
            now = time.monotonic()
            if linger_until is not None and now >= linger_until:
                break
            if now >= next_beat:
                if self.applies(self.behaviour.wedge_starts) and beats >= self.behaviour.beats:
                    self.recorder.line("wedged")
                    threading.Event().wait()  # blocked for good: only SIGKILL ends this process
                stages = (("poller", 0.0), ("executor", now - ready_at if stuck else 0.0))
                self.conn.send(Heartbeat(self.pid, stages, 0))
                beats, next_beat = beats + 1, now + interval
            wait = next_beat - now if linger_until is None else min(next_beat, linger_until) - now
            try:
                if not self.conn.poll(max(0.0, wait)):
                    continue
                message = self.conn.recv()
            except (EOFError, OSError):
                self.recorder.line("eof")
                break
            if isinstance(message, Stop):
                self.recorder.line(f"stop {message.grace} {message.flush}")
                if self.behaviour.on_stop == "exit" or (self.behaviour.on_stop == "linger" and message.grace <= 0):
                    break
                if self.behaviour.on_stop == "linger" and linger_until is None:
                    linger_until = time.monotonic() + message.grace
            elif isinstance(message, Pause):
                self.recorder.line("pause")
            elif isinstance(message, Resume):
                self.recorder.line("resume")
        for number in range(self.behaviour.farewell):
            event = PollStarted(self.settings.task_type, worker_id=f"{self.settings.key}-farewell", poll_count=number)
            self.conn.send(EventBatch(events=(event,), metrics=None))
        self.exit(0, "stopped")


def fake_child_main(settings_bytes: bytes, conn: Connection) -> None:
    """Process entry point, called like the real ``child_main(pickle.dumps(settings), conn)``."""
    settings = pickle.loads(settings_bytes)
    behaviour = pickle.loads(settings.worker_payload)
    if not isinstance(behaviour, FakeBehaviour):
        print(f"fake child {settings.key}: the worker payload is not a FakeBehaviour", file=sys.stderr)
        os._exit(2)
    _Fake(settings, behaviour, conn).run()
