"""One supervised worker process: its spec, its current OS process and pipe, and what was last heard.

A ``SupervisedChild`` is owned by the supervisor thread: every method runs there. Other threads only
see the immutable ``ChildStatus`` snapshots built by ``snapshot``.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

from ..runtime import WorkerSettings
from ._spawn import new_process, starts_untracked
from ._status import ChildState, ChildStatus, exit_label

__all__ = ["ChildTarget", "SupervisedChild"]

_log = logging.getLogger("conductor_actors.supervision")

#: The process entry point: ``target(pickle.dumps(spec), child_end_of_the_pipe)``.
ChildTarget = Callable[[bytes, Connection], Any]

#: Messages read from one child in one go before the loop looks at the others again.
_READ_BATCH = 64
#: Blocked in the spawning thread, so every child starts with them blocked and unblocks them
#: itself once its own handlers are installed (a signal in between cannot kill it half-booted).
_STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


class SupervisedChild:
    """The supervisor's record of one child (one spec): a fresh OS process per (re)start."""

    def __init__(self, spec: WorkerSettings, spec_bytes: bytes) -> None:
        self.spec = spec
        self.spec_bytes = spec_bytes
        self.process: BaseProcess | None = None
        self.conn: Connection | None = None
        self.sentinel: int | None = None
        self.pid: int | None = None
        self.state: ChildState = "starting"
        self.restarts = 0
        self.consecutive_crashes = 0
        self.last_exit: int | str | None = None
        # Times below are readings of the supervisor's clock.
        self.started_at: float | None = None
        self.up_at: float | None = None
        self.beat_at: float | None = None
        self.stage_ages: tuple[tuple[str, float], ...] = ()
        self.in_flight = 0
        self.poll_ok_at: float | None = None  # when its last successful poll was, by this clock
        self.poll_error: str | None = None
        self.polling_paused = False
        self.exiting_reason: str | None = None
        self.restart_at: float | None = None  # due time of a pending restart
        self.kill_at: float | None = None  # SIGKILL due time while a stop is escalating
        self.wedged: str | None = None  # why it is being killed, when it is wedged

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def alive(self) -> bool:
        """A process was started and has not been reaped yet."""
        return self.process is not None

    def spawn(self, context: BaseContext, target: ChildTarget, now: float) -> None:
        """Start a fresh process for this spec; raises what ``Process.start`` raises (nothing leaks).

        With "spawn" on POSIX the process starts without multiprocessing's resource tracker (see
        ``_spawn``: no tracker process, nothing here for it to track).
        """
        _block_stop_signals(context)
        parent_end, child_end = context.Pipe(duplex=True)
        process = new_process(context, target=target, args=(self.spec_bytes, child_end), name=self.key, daemon=False)
        try:
            process.start()
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        self.process, self.conn, self.sentinel, self.pid = process, parent_end, process.sentinel, process.pid
        self.started_at, self.up_at, self.beat_at = now, None, None
        self.stage_ages, self.in_flight = (), 0
        self.poll_ok_at, self.poll_error, self.polling_paused = None, None, False
        self.exiting_reason, self.kill_at, self.wedged, self.restart_at = None, None, None, None

    def send(self, message: object) -> bool:
        """Send a control message; False when the pipe is gone (the sentinel reports the death)."""
        if self.conn is None:
            return False
        try:
            self.conn.send(message)
        except (OSError, EOFError) as exc:
            _log.debug("could not send %s to worker %s (pid %s): %s", type(message).__name__, self.key, self.pid, exc)
            return False
        return True

    def receive(self, limit: int | None = _READ_BATCH) -> list[object]:
        """The messages waiting in the pipe (at most ``limit``; None = all); closes the pipe at EOF.

        A message that cannot be unpickled is logged (naming the worker) and skipped: the pipe
        stays framed, so the next one is still readable.
        """
        messages: list[object] = []
        while self.conn is not None and (limit is None or len(messages) < limit):
            try:
                if not self.conn.poll():
                    break
                messages.append(self.conn.recv())
            except (EOFError, OSError):
                self.close_pipe()
            except Exception as exc:  # unpickling garbage: name it, keep reading
                _log.warning(
                    "worker %s (pid %s) sent a message that cannot be read (%s: %s); skipped",
                    self.key, self.pid, type(exc).__name__, exc,
                )
        return messages

    def close_pipe(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def signal(self, kill: bool) -> None:
        """SIGKILL (``kill``) or SIGTERM the current process, if it has not been reaped."""
        if self.process is None:
            return
        try:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
        except (OSError, ValueError):
            pass  # already gone: the sentinel tells

    def reap(self) -> int:
        """Join the dead process, release it and its pipe; returns its exit code (-N = signal N)."""
        process = self.process
        if process is None:
            raise RuntimeError(f"worker {self.key}: no process to reap")
        process.join()
        code = process.exitcode if process.exitcode is not None else -1
        process.close()
        self.close_pipe()
        self.process, self.sentinel, self.kill_at = None, None, None
        self.last_exit = exit_label(code)
        return code

    def note_polling(self, report: object, now: float) -> None:
        """Take ``Heartbeat.polling`` (seconds since the last good poll, last error, paused);
        anything unreadable leaves what was known (the heartbeat still counts for liveness)."""
        if report is None:
            return
        try:
            age: Any
            error: Any
            paused: Any
            age, error, paused = report  # type: ignore[misc]
            self.poll_ok_at = None if age is None else now - max(0.0, float(age))
            self.poll_error = None if error is None else str(error)
            self.polling_paused = bool(paused)
        except (TypeError, ValueError):
            _log.debug("worker %s sent an unreadable poll report %r; ignored", self.key, report)

    def oldest_stage(self) -> tuple[str | None, float]:
        """The stage loop that ran longest ago at the last heartbeat, and its age (None, 0 if none)."""
        if not self.stage_ages:
            return None, 0.0
        stage, age = max(self.stage_ages, key=lambda pair: pair[1])
        return stage, max(0.0, float(age))

    def snapshot(self, now: float) -> ChildStatus:
        beat_age = None
        if self.state == "up" and self.beat_at is not None:
            beat_age = max(0.0, now - self.beat_at)
        return ChildStatus(
            key=self.key,
            task_type=self.spec.task_type,
            pid=self.pid,
            state=self.state,
            alive=self.alive,
            restarts=self.restarts,
            consecutive_crashes=self.consecutive_crashes,
            last_heartbeat_age=beat_age,
            in_flight=self.in_flight,
            stage_ages=self.stage_ages,
            last_exit=self.last_exit,
            last_poll_success_age=None if self.poll_ok_at is None else max(0.0, now - self.poll_ok_at),
            last_poll_error=self.poll_error,
            polling_paused=self.polling_paused,
        )


def _block_stop_signals(context: BaseContext) -> None:
    """Block SIGINT/SIGTERM in the calling (supervisor) thread so the next child inherits the mask.

    Done before every start: with "forkserver" (and "spawn" where the untracked launcher of
    ``_spawn`` is not available), multiprocessing starts its resource tracker on first use and
    UNblocks SIGINT/SIGTERM in the calling thread afterwards, so the tracker is started first and
    the mask set again. The untracked "spawn" launcher never starts a tracker.
    """
    if context.get_start_method() != "fork" and not starts_untracked(context):
        resource_tracker.ensure_running()
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
