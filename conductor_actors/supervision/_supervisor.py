"""``ProcessSupervisor``: one OS process per worker process, kept alive and stopped safely.

The public face of the supervisor. ``start()`` launches the supervisor thread (which runs
``SupervisionLoop``); every other method may be called from any thread, and ``request_stop`` also
from a signal handler. ``install_signal_handlers`` connects SIGTERM/SIGINT to it for the programs
that own the process (the CLI and ``TaskHandler.run()``; library code never calls it implicitly):
the handlers only queue a ``StopTree`` (``request_stop`` appends to a queue and writes one wake-up
byte); the supervisor loop acts.
"""

from __future__ import annotations

import logging
import pickle
import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, Protocol

from ..runtime import Pause, Resume, WorkerSettings, child_main
from ..settings import SupervisionSettings
from ._child import ChildStatus, ChildTarget, StatusBoard, SupervisedChild
from ._loop import RequestBox, StopTree, SupervisionLoop

__all__ = ["HANDLED_SIGNALS", "ProcessSupervisor", "install_signal_handlers"]

_log = logging.getLogger("conductor_actors.supervision")

#: A child counts as healthy while its last heartbeat is younger than this many heartbeat intervals.
_FRESH_BEATS = 3.0


class ProcessSupervisor:
    """Runs one worker process per ``WorkerSettings`` (one_for_one), restarts crashed ones, stops them without loss.

    Args:
        worker_settings: one ``WorkerSettings`` per process; keys must be unique. Each is pickled
            here, so settings that cannot travel to its process is a ``ValueError`` now rather than a failed start.
        settings: restart policy, liveness checks and deadlines (default ``SupervisionSettings()``).
        on_message: called with the sender's status and each ``EventBatch`` / ``UndeliveredResult``
            a child sends. Runs on the supervisor thread: it must return quickly (hand the message
            to an actor); an exception it raises is logged and the message is dropped.
        on_state: called with the new status on every state change of a child (supervisor thread;
            an exception is logged).
        target: the process entry point, called as ``target(pickle.dumps(settings), conn)``; default
            ``conductor_actors.runtime.child_main``. Must be importable by the children.
        clock: monotonic seconds; every deadline and age is measured with it.
        rng: uniform [0, 1) source for the restart jitter.

    The supervisor thread is not a daemon: a started supervisor keeps the interpreter alive until
    it has stopped (``request_stop``) and reaped every child.
    """

    def __init__(
        self,
        worker_settings: Sequence[WorkerSettings],
        *,
        settings: SupervisionSettings | None = None,
        on_message: Callable[[ChildStatus, object], None],
        on_state: Callable[[ChildStatus], None] | None = None,
        target: ChildTarget | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        settings = SupervisionSettings() if settings is None else settings
        if not isinstance(settings, SupervisionSettings):
            raise TypeError(f"settings must be a SupervisionSettings, not {type(settings).__name__}")
        if not callable(on_message):
            raise TypeError("on_message must be callable")
        if on_state is not None and not callable(on_state):
            raise TypeError("on_state must be callable or None")
        children = _children_of(worker_settings)
        if target is None:
            target = child_main
        self._settings = settings
        self._requests = RequestBox()
        self._board = StatusBoard(
            {
                child.key: min(settings.heartbeat_timeout, _FRESH_BEATS * child.settings.runtime.heartbeat_interval)
                for child in children
            },
            clock,
        )
        self._loop = SupervisionLoop(
            children,
            settings=settings,
            on_message=on_message,
            on_state=on_state,
            target=target,
            clock=clock,
            rng=rng,
            requests=self._requests,
            board=self._board,
        )
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def settings(self) -> SupervisionSettings:
        return self._settings

    def start(self) -> None:
        """Start the supervisor thread, which spawns every child; returns at once. Idempotent:
        a second call (even after the supervisor has finished) does nothing.

        The supervisor thread blocks SIGINT/SIGTERM before each spawn, so children start with
        them blocked (they unblock after installing their handlers) and the process's signals
        are delivered to the main thread."""
        with self._start_lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._loop.run, name="conductor-actors-supervisor", daemon=False)
            self._thread.start()

    def request_stop(self, *, fast: bool = False, exit_code: int | None = None) -> None:
        """Ask the tree to stop; any thread, or a signal handler (only queues, never blocks or logs).

        Graceful: pending restarts are cancelled, every running child gets ``Stop(shutdown_grace,
        shutdown_flush)``; children alive ``grace + flush + STOP_MARGIN`` s later get SIGTERM,
        then SIGKILL after ``kill_timeout`` (``settings.shutdown_deadlines()``). A child not ready
        yet polls nothing: it gets SIGTERM (its graceful stop) at once and SIGKILL after
        ``kill_timeout``. ``fast``: ``Stop(0, 1)`` to every child, SIGKILL after
        ``fast_shutdown_timeout``. ``exit_code`` replaces the final exit code (e.g. 130, 143).
        A request made before ``start()`` is honoured when it starts (no child is spawned).
        """
        if exit_code is not None and (not isinstance(exit_code, int) or isinstance(exit_code, bool)):
            raise TypeError(f"exit_code must be an int or None, not {exit_code!r}")
        self._requests.post(StopTree(fast=fast, exit_code=exit_code))

    def pause(self) -> None:
        """Any thread: every running child stops polling (children started later start paused)."""
        self._requests.post(Pause())

    def resume(self) -> None:
        """Any thread: every running child polls again."""
        self._requests.post(Resume())

    def join(self, timeout: float | None = None) -> int | None:
        """Wait until the tree has stopped and every child is reaped; returns the exit code.

        0 = stopped on request, 1 = gave up (too many restarts, or the supervisor failed),
        3 = a child could not start, or the ``exit_code`` given to ``request_stop``. None when
        ``timeout`` passed first. Raises ``RuntimeError`` before ``start()`` or when called from
        the supervisor thread itself (for instance inside ``on_state``).
        """
        thread = self._thread
        if thread is None:
            raise RuntimeError("ProcessSupervisor.join() called before start()")
        if thread is threading.current_thread():
            raise RuntimeError("ProcessSupervisor.join() cannot be called from the supervisor thread")
        if not self._board.wait_finished(timeout):
            return None
        thread.join()
        return self._board.exit_code

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Any thread: True once every child is up; False on timeout or if the tree stopped."""
        return self._board.wait_all_up(timeout)

    def status(self) -> list[ChildStatus]:
        """Any thread: every child's current status, in the order it was given."""
        return self._board.statuses()

    def is_healthy(self) -> bool:
        """Any thread: every child is up and heartbeated within the last three heartbeat intervals
        (capped by ``heartbeat_timeout``)."""
        return self._board.is_healthy()

    @property
    def finished(self) -> bool:
        """The tree has stopped and every child is reaped."""
        return self._board.finished

    @property
    def exit_reason(self) -> str | None:
        """Why the tree stopped on its own (names the worker and the cause); None while running
        and after a stop that was requested."""
        return self._board.exit_reason


def _children_of(worker_settings: Sequence[WorkerSettings]) -> list[SupervisedChild]:
    if isinstance(worker_settings, (str, bytes)) or not isinstance(worker_settings, Sequence):
        raise TypeError("worker_settings must be a sequence of WorkerSettings")
    if not worker_settings:
        raise ValueError("no worker settings: there is nothing to supervise")
    children: list[SupervisedChild] = []
    seen: set[str] = set()
    for settings in worker_settings:
        if not isinstance(settings, WorkerSettings):
            raise TypeError(f"worker_settings must hold WorkerSettings objects, not {type(settings).__name__}")
        if settings.key in seen:
            raise ValueError(f"two worker settings have the key {settings.key!r}; keys must be unique")
        seen.add(settings.key)
        try:
            settings_bytes = pickle.dumps(settings)
        except Exception as exc:
            raise ValueError(
                f"the settings of worker {settings.key!r} cannot be pickled for its process: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        children.append(SupervisedChild(settings, settings_bytes))
    return children


#: The signals ``install_signal_handlers`` takes over.
HANDLED_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)


class _Stoppable(Protocol):
    def request_stop(self, *, fast: bool = False, exit_code: int | None = None) -> None: ...


def install_signal_handlers(supervisor: _Stoppable) -> Callable[[], None]:
    """Route SIGTERM and SIGINT to ``supervisor``; returns a function that restores the old handlers.

    The first of either signal asks for a graceful stop (``request_stop()``); any later one for
    the fast path (``request_stop(fast=True, exit_code=128 + signum)``, so 143 for SIGTERM and
    130 for SIGINT). Must be called, and the restorer too, from the main thread (Python runs
    signal handlers there): ``RuntimeError`` otherwise.
    """
    _require_main_thread("install_signal_handlers")
    received = 0

    def handle(signum: int, frame: FrameType | None) -> None:
        nonlocal received
        received += 1
        if received == 1:
            supervisor.request_stop()
        else:
            supervisor.request_stop(fast=True, exit_code=128 + signum)

    previous: dict[signal.Signals, Any] = {}
    for signum in HANDLED_SIGNALS:
        previous[signum] = signal.signal(signum, handle)

    def restore() -> None:
        _require_main_thread("restoring the signal handlers")
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    return restore


def _require_main_thread(what: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            f"{what} must run in the main thread (Python delivers signals there); "
            f"it was called from thread {threading.current_thread().name!r}"
        )
