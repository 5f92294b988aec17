"""One supervised worker process: its settings, its OS process and pipe, what was last heard of it,
and the board where the supervisor publishes that for other threads.

A ``SupervisedChild`` is owned by the supervisor thread: every method runs there. Other threads only
see the immutable ``ChildStatus`` snapshots built by ``snapshot``, through the ``StatusBoard``
(whose writers run on the supervisor thread and whose readers run on any thread). Worker
processes start with ``multiprocessing``'s own ``Process`` of the configured start method.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any, Literal

from ..runtime import WorkerSettings

__all__ = [
    "CHILD_STATES",
    "EXIT_UNGUARDED_MAIN",
    "UNGUARDED_MAIN_CAUSE",
    "ChildState",
    "ChildStatus",
    "ChildTarget",
    "StatusBoard",
    "SupervisedChild",
    "describe_exit",
    "exit_label",
]

_log = logging.getLogger("conductor_actors.supervision")

#: The exit code of a worker process that, while multiprocessing re-imported the main script to
#: start it, was asked to start a ``TaskHandler`` (the script does so at import time, without the
#: ``if __name__ == "__main__":`` guard). ``TaskHandler`` raises ``UnguardedMainError`` with it.
EXIT_UNGUARDED_MAIN = 5
#: How the supervisor names that cause when such a process dies before it said Ready.
UNGUARDED_MAIN_CAUSE = (
    "starting it re-ran the main script, which starts a TaskHandler when imported; put the code that "
    'starts the TaskHandler under `if __name__ == "__main__":`'
)

#: starting: spawned, not Ready yet; up: Ready; stopping: asked to stop (or being killed because
#: it is wedged); restarting: dead, waiting for its backoff before a fresh process; stopped: gone
#: for good after a stop; failed: gone for good because it failed (boot failure, or the crash
#: that made the supervisor give up).
ChildState = Literal["starting", "up", "stopping", "restarting", "stopped", "failed"]
CHILD_STATES: tuple[ChildState, ...] = ("starting", "up", "stopping", "restarting", "stopped", "failed")


@dataclass(frozen=True)
class ChildStatus:
    """One worker process as the supervisor last saw it.

    Attributes:
        key: the key of its ``WorkerSettings`` (unique in the tree).
        task_type: the worker's task definition name.
        pid: the current (or last) process id; None before the first start.
        state: see ``ChildState``.
        alive: a process for this child exists and has not been reaped.
        restarts: how many times this child was restarted since the supervisor started.
        consecutive_crashes: crashes since it last stayed up ``restart_reset_after`` seconds.
        last_heartbeat_age: seconds since its last heartbeat (or since Ready before the first
            one); None when it is not up.
        in_flight: tasks in flight at the last heartbeat.
        stage_ages: ``(stage, seconds since that stage loop last ran)`` at the last heartbeat.
        last_exit: how its previous process ended: the exit code, or the signal name
            ("SIGKILL"); None while no process of it has ended.
        last_poll_success_age: seconds since its current process last completed a poll
            successfully (as of the last heartbeat); None before the first.
        last_poll_error: the error of its last poll when that poll failed; None once one succeeds.
        polling_paused: its polling is paused (it does not poll on purpose).
    """

    key: str
    task_type: str
    pid: int | None
    state: ChildState
    alive: bool
    restarts: int
    consecutive_crashes: int
    last_heartbeat_age: float | None
    in_flight: int
    stage_ages: tuple[tuple[str, float], ...]
    last_exit: int | str | None
    last_poll_success_age: float | None = None
    last_poll_error: str | None = None
    polling_paused: bool = False


def exit_label(exitcode: int) -> int | str:
    """``multiprocessing``'s exit code as ``ChildStatus.last_exit``: the code, or the signal's name."""
    if exitcode >= 0:
        return exitcode
    try:
        return signal.Signals(-exitcode).name
    except ValueError:
        return f"signal {-exitcode}"


def describe_exit(exitcode: int) -> str:
    """A phrase for logs: ``exit code 3`` or ``signal SIGKILL``."""
    label = exit_label(exitcode)
    if isinstance(label, int):
        return f"exit code {label}"
    return label if label.startswith("signal ") else f"signal {label}"


class StatusBoard:
    """Latest ``ChildStatus`` per child, plus the exit code and reason once the tree has stopped.

    The supervisor thread calls ``publish`` and ``finish``; any thread calls the readers and
    waiters. One condition variable guards everything, held only for dictionary updates and copies.

    Args:
        fresh_within: per child key, the heartbeat age up to which the child counts as healthy.
        clock: the supervisor's clock (heartbeat ages are recomputed at read time).
    """

    def __init__(self, fresh_within: Mapping[str, float], clock: Callable[[], float]) -> None:
        self._fresh_within = dict(fresh_within)
        self._clock = clock
        self._cond = threading.Condition()
        self._latest: dict[str, tuple[ChildStatus, float | None]] = {}
        self._finished = False
        self._exit_code: int | None = None
        self._exit_reason: str | None = None

    def publish(self, status: ChildStatus, beat_at: float | None) -> None:
        """Supervisor thread: record ``status`` (``beat_at`` = clock time of the last heartbeat)."""
        with self._cond:
            self._latest[status.key] = (status, beat_at)
            self._cond.notify_all()

    def finish(self, exit_code: int, reason: str | None) -> None:
        """Supervisor thread: the tree has stopped and every child is reaped."""
        with self._cond:
            self._finished, self._exit_code, self._exit_reason = True, exit_code, reason
            self._cond.notify_all()

    def statuses(self) -> list[ChildStatus]:
        """Any thread: every child's latest status, heartbeat ages as of now, in the order the
        supervisor was given them."""
        with self._cond:
            latest = list(self._latest.values())
        now = self._clock()
        return [self._aged(status, beat_at, now) for status, beat_at in latest]

    def is_healthy(self) -> bool:
        """Any thread: every child is up and its last heartbeat is fresh."""
        statuses = self.statuses()
        return bool(statuses) and all(
            status.state == "up"
            and status.last_heartbeat_age is not None
            and status.last_heartbeat_age <= self._fresh_within[status.key]
            for status in statuses
        )

    def wait_all_up(self, timeout: float | None) -> bool:
        """Any thread: block until every child is up (True), or timeout / the tree stopped (False)."""
        with self._cond:
            self._cond.wait_for(lambda: self._finished or self._all_up(), timeout)
            return not self._finished and self._all_up()

    def wait_finished(self, timeout: float | None) -> bool:
        """Any thread: block until the tree has stopped; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._finished, timeout)

    @property
    def finished(self) -> bool:
        with self._cond:
            return self._finished

    @property
    def exit_code(self) -> int | None:
        with self._cond:
            return self._exit_code

    @property
    def exit_reason(self) -> str | None:
        with self._cond:
            return self._exit_reason

    def _all_up(self) -> bool:
        return bool(self._latest) and all(status.state == "up" for status, _ in self._latest.values())

    @staticmethod
    def _aged(status: ChildStatus, beat_at: float | None, now: float) -> ChildStatus:
        if status.state != "up" or beat_at is None:
            return status
        return dataclasses.replace(status, last_heartbeat_age=max(0.0, now - beat_at))


#: The process entry point: ``target(pickle.dumps(worker_settings), child_end_of_the_pipe)``.
ChildTarget = Callable[[bytes, Connection], Any]

#: Messages read from one child in one go before the loop looks at the others again.
_READ_BATCH = 64
#: Blocked in the spawning thread, so every child starts with them blocked and unblocks them
#: itself once its own handlers are installed (a signal in between cannot kill it half-booted).
_STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


class SupervisedChild:
    """The supervisor's record of one child (one ``WorkerSettings``): a fresh OS process per (re)start."""

    def __init__(self, settings: WorkerSettings, settings_bytes: bytes) -> None:
        self.settings = settings
        self.settings_bytes = settings_bytes
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
        return self.settings.key

    @property
    def alive(self) -> bool:
        """A process was started and has not been reaped yet."""
        return self.process is not None

    def spawn(self, context: BaseContext, target: ChildTarget, now: float) -> None:
        """Start a fresh process for this child; raises what ``Process.start`` raises (nothing leaks)."""
        _block_stop_signals(context)
        parent_end, child_end = context.Pipe(duplex=True)
        process = context.Process(  # type: ignore[attr-defined]
            target=target, args=(self.settings_bytes, child_end), name=self.key, daemon=False
        )
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
            task_type=self.settings.task_type,
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

    Done before every start: with "spawn" and "forkserver", multiprocessing starts its resource
    tracker (one process for the whole tree) on first use and UNblocks SIGINT/SIGTERM in the
    calling thread afterwards, so the tracker is started first and the mask set again.
    """
    if context.get_start_method() != "fork":
        resource_tracker.ensure_running()
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
