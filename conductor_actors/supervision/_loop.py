"""The supervisor loop: one thread that starts, watches, restarts and stops the worker processes.

Everything here runs on the supervisor thread. The loop blocks in
``multiprocessing.connection.wait`` on every child's pipe, every process sentinel and the wake-up
socket of its own request box, with a timeout equal to the next deadline (a restart backoff, a
SIGKILL due, a boot or heartbeat deadline, the shutdown's SIGTERM time). A child's death is seen
through its sentinel at once; nothing polls, nothing sleeps, there is no SIGCHLD handler.

Requests reach the loop through its ``RequestBox`` (posted from any thread or a signal handler):
``StopTree``, and the runtime's ``Pause`` and ``Resume``, which the loop forwards to the children
as they are.

An exception in the loop (any ``BaseException``) is not re-raised: ``SupervisionLoop.run`` logs it,
SIGKILLs every child and finishes the tree with ``TREE_EXIT_GAVE_UP`` (1) and a reason naming the
exception; an exception raised by the ``on_message`` or ``on_state`` callback is logged and the
loop goes on.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

from ..actors import RestartIntensity, restart_backoff
from ..runtime import EXIT_RECYCLE, EventBatch, Exiting, Heartbeat, Pause, Ready, Resume, Stop, UndeliveredResult
from ..settings import SupervisionSettings
from ._child import (
    EXIT_UNGUARDED_MAIN,
    UNGUARDED_MAIN_CAUSE,
    ChildState,
    ChildStatus,
    ChildTarget,
    StatusBoard,
    SupervisedChild,
    describe_exit,
)

__all__ = [
    "FAST_FLUSH",
    "TREE_EXIT_BOOT_FAILURE",
    "TREE_EXIT_GAVE_UP",
    "TREE_EXIT_OK",
    "RequestBox",
    "StopTree",
    "SupervisionLoop",
    "SupervisorRequest",
]

_log = logging.getLogger("conductor_actors.supervision")

#: The flush time children get on the fast path: ``Stop(0, FAST_FLUSH)``.
FAST_FLUSH = 1.0

# The tree's exit codes (what ``ProcessSupervisor.join``, ``TaskHandler.run()`` and the command line
# return); a worker process's own exit codes are the runtime's.
#: Every worker process stopped cleanly.
TREE_EXIT_OK = 0
#: The supervisor gave up: workers crashed more often than the restart intensity allows, or the
#: supervisor loop itself failed.
TREE_EXIT_GAVE_UP = 1
#: A worker process failed to boot (e.g. its module raised on import): restarting cannot help.
TREE_EXIT_BOOT_FAILURE = 3


@dataclass(frozen=True, slots=True)
class StopTree:
    """Stop the whole tree: gracefully, or on the fast path; ``exit_code`` overrides the final code."""

    fast: bool = False
    exit_code: int | None = None


#: What the request box carries: a stop of the tree, or polling paused / resumed in every child.
SupervisorRequest = StopTree | Pause | Resume


class RequestBox:
    """A queue of requests plus a wake-up socket: the supervisor loop's own mailbox.

    ``post`` only appends to a ``queue.SimpleQueue`` (whose ``put`` is reentrant, so a signal
    handler may interrupt another ``put``) and writes one byte to a non-blocking socket; the loop
    waits on the other end next to its children's pipes and sentinels, so a request wakes it at once.

    ``post`` may be called from any thread or a signal handler; ``open``, ``drain`` and ``close``
    belong to the supervisor thread.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[SupervisorRequest] = queue.SimpleQueue()
        self._reader: socket.socket | None = None
        self._writer: socket.socket | None = None

    def open(self) -> socket.socket:
        """Supervisor thread, once: create the wake-up socket pair; returns the end to wait on.

        Requests posted before this are kept and seen by the first ``drain``.
        """
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        self._reader, self._writer = reader, writer
        return reader

    def post(self, request: SupervisorRequest) -> None:
        """Queue ``request`` and wake the loop. Never blocks, never logs, never raises."""
        self._queue.put(request)
        writer = self._writer
        if writer is None:
            return  # not open yet (the loop drains first thing) or closed (nobody is listening)
        try:
            writer.send(b"\0")
        except OSError:
            pass  # full of wake-ups already (the loop is going to look anyway), or closed just now

    def drain(self) -> list[SupervisorRequest]:
        """Clear the wake-up bytes and return every queued request, oldest first."""
        if self._reader is not None:
            try:
                while self._reader.recv(4096):
                    pass
            except OSError:
                pass  # BlockingIOError: nothing more to read
        requests: list[SupervisorRequest] = []
        while True:
            try:
                requests.append(self._queue.get_nowait())
            except queue.Empty:
                return requests

    def close(self) -> None:
        """Supervisor thread: release the sockets; later posts are queued but wake nobody."""
        reader, writer = self._reader, self._writer
        self._reader = self._writer = None
        for sock in (reader, writer):
            if sock is not None:
                sock.close()


class SupervisionLoop:
    """one_for_one supervision of a fixed list of children (see ``ProcessSupervisor``)."""

    def __init__(
        self,
        children: Sequence[SupervisedChild],
        *,
        settings: SupervisionSettings,
        on_message: Callable[[ChildStatus, object], None],
        on_state: Callable[[ChildStatus], None] | None,
        target: ChildTarget,
        clock: Callable[[], float],
        rng: Callable[[], float],
        requests: RequestBox,
        board: StatusBoard,
    ) -> None:
        self._children = list(children)
        self._settings = settings
        self._on_message = on_message
        self._on_state = on_state
        self._target = target
        self._clock = clock
        self._rng = rng
        self._requests = requests
        self._board = board
        self._context = multiprocessing.get_context(settings.start_method)
        self._intensity = RestartIntensity(
            max_restarts=settings.max_restarts, within=settings.restart_window, clock=clock
        )
        self._stopping = False
        self._fast = False
        self._term_at: float | None = None  # graceful stop: SIGTERM whatever is alive at this time
        self._paused = False
        self._exit_code: int | None = None  # set by the first escalation (gave up, boot failure)
        self._exit_reason: str | None = None
        self._override: int | None = None  # exit code asked for by request_stop
        self._culprit: SupervisedChild | None = None  # the child that made the tree stop
        self._actions: dict[str, Callable[[SupervisedChild, float], None]] = {
            "restart": self._due_restart,
            "kill": self._due_kill,
            "boot": self._due_boot,
            "wedge": self._due_wedge,
            "reset": self._due_reset,
        }
        now = clock()
        for child in self._children:
            board.publish(child.snapshot(now), None)

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        """Start every child, supervise until the tree has stopped, and reap every process."""
        wakeup = self._requests.open()
        try:
            self._start_all()
            while not self._done():
                self._step(wakeup)
        except BaseException as exc:
            _log.critical("the supervisor loop failed; killing every worker process", exc_info=True)
            self._exit_code = TREE_EXIT_GAVE_UP
            self._exit_reason = f"the supervisor loop failed: {type(exc).__name__}: {exc}"
            self._kill_all()
        finally:
            self._requests.close()
            code = self._override if self._override is not None else (self._exit_code or TREE_EXIT_OK)
            suffix = f": {self._exit_reason}" if self._exit_reason else ""
            _log.info("supervisor finished with exit code %d%s", code, suffix)
            self._board.finish(code, self._exit_reason)

    def _start_all(self) -> None:
        self._handle_requests()
        for child in self._children:
            if self._stopping:
                self._set_state(child, "stopped")
            else:
                self._spawn(child, restart=False)

    def _step(self, wakeup: socket.socket) -> None:
        self._handle_requests()
        self._run_due(self._clock())
        if self._done():
            return
        handles: dict[Connection | int, SupervisedChild] = {}
        for child in self._children:
            if child.conn is not None:
                handles[child.conn] = child
            if child.sentinel is not None:
                handles[child.sentinel] = child
        ready = wait([*handles, wakeup], self._timeout(self._clock()))
        deaths: list[SupervisedChild] = []
        for handle in ready:
            owner = handles.get(handle)  # type: ignore[arg-type]
            if owner is None:
                continue  # the wake-up socket: requests are handled at the top of the next step
            if isinstance(handle, int):  # a sentinel
                deaths.append(owner)
            elif owner.conn is not None:
                for message in owner.receive():
                    self._on_child_message(owner, message)
        for child in deaths:
            self._on_death(child)

    def _done(self) -> bool:
        return self._stopping and not any(child.alive or child.restart_at is not None for child in self._children)

    # -- deadlines --------------------------------------------------------------------------

    def _deadlines(self, child: SupervisedChild) -> list[tuple[float, str]]:
        settings = self._settings
        due: list[tuple[float, str]] = []
        if child.restart_at is not None:
            due.append((child.restart_at, "restart"))
        if child.kill_at is not None and child.alive:
            due.append((child.kill_at, "kill"))
        if self._stopping or not child.alive:
            return due
        if child.state == "starting" and child.started_at is not None:
            due.append((child.started_at + settings.boot_timeout, "boot"))
        elif child.state == "up" and child.beat_at is not None:
            _, oldest = child.oldest_stage()
            due.append((child.beat_at + settings.heartbeat_timeout - oldest, "wedge"))
            if child.consecutive_crashes and child.up_at is not None:
                due.append((child.up_at + settings.restart_reset_after, "reset"))
        return due

    def _timeout(self, now: float) -> float | None:
        times = [when for child in self._children for when, _ in self._deadlines(child)]
        if self._term_at is not None:
            times.append(self._term_at)
        return max(0.0, min(times) - now) if times else None

    def _run_due(self, now: float) -> None:
        if self._term_at is not None and now >= self._term_at:
            self._term_at = None
            self._terminate_stragglers(now)
        for child in self._children:
            for when, action in sorted(self._deadlines(child)):
                if when > now:
                    break
                self._actions[action](child, now)
                break  # its deadlines changed: the next step looks again

    def _due_restart(self, child: SupervisedChild, now: float) -> None:
        child.restart_at = None
        self._spawn(child, restart=True)

    def _due_kill(self, child: SupervisedChild, now: float) -> None:
        _log.warning("worker %s (pid %s) is still alive: sending SIGKILL", child.key, child.pid)
        child.kill_at = None
        child.signal(kill=True)

    def _due_boot(self, child: SupervisedChild, now: float) -> None:
        self._fail_boot(child, f"it did not become ready within {self._settings.boot_timeout:g} s")

    def _due_wedge(self, child: SupervisedChild, now: float) -> None:
        since = now - child.beat_at if child.beat_at is not None else 0.0
        stage, oldest = child.oldest_stage()
        if stage is None:
            detail = f"no heartbeat for {since:.1f} s"
        elif since >= oldest:  # the heartbeats themselves stopped
            detail = f"no heartbeat for {since:.1f} s; its oldest stage then was {stage!r}"
        else:
            detail = f"stage {stage!r} has not run for {oldest + since:.1f} s"
        _log.warning(
            "worker %s (pid %s) is wedged: %s; sending SIGTERM (SIGKILL in %g s), then restarting it",
            child.key, child.pid, detail, self._settings.kill_timeout,
        )
        child.wedged = detail
        child.kill_at = now + self._settings.kill_timeout
        child.signal(kill=False)
        self._set_state(child, "stopping")

    def _due_reset(self, child: SupervisedChild, now: float) -> None:
        child.consecutive_crashes = 0
        self._board.publish(child.snapshot(now), child.beat_at)

    # -- requests ---------------------------------------------------------------------------

    def _handle_requests(self) -> None:
        for request in self._requests.drain():
            if isinstance(request, StopTree):
                if request.exit_code is not None:
                    self._override = request.exit_code
                _log.info("%s stop requested", "fast" if request.fast else "graceful")
                self._begin_stop(fast=request.fast)
            else:  # Pause or Resume: told to every child that is up (and to later ones on Ready)
                self._paused = isinstance(request, Pause)
                for child in self._children:
                    if child.state == "up":
                        child.send(request)

    def _begin_stop(self, *, fast: bool) -> None:
        """Stop the tree: graceful (Stop(grace, flush), SIGTERM at the deadline) or fast."""
        settings, now = self._settings, self._clock()
        if not self._stopping:
            self._stopping = True
            for child in self._children:
                if child.restart_at is not None:
                    child.restart_at = None
                    self._set_state(child, "stopped")
            if not fast:
                self._term_at = now + settings.shutdown_deadlines().sigterm_after
                for child in self._children:
                    if not child.alive or child.wedged is not None:
                        continue
                    if child.state == "starting":  # polls nothing yet: SIGTERM is its graceful stop
                        child.signal(kill=False)
                        child.kill_at = now + settings.kill_timeout
                    else:
                        child.send(Stop(settings.shutdown_grace, settings.shutdown_flush))
                    self._set_state(child, "stopping")
        if fast and not self._fast:
            self._fast = True
            self._term_at = None
            deadline = now + settings.fast_shutdown_timeout
            for child in self._children:
                if child.alive:
                    child.send(Stop(0.0, FAST_FLUSH))
                    child.kill_at = deadline if child.kill_at is None else min(child.kill_at, deadline)
                    self._set_state(child, "stopping")

    def _terminate_stragglers(self, now: float) -> None:
        for child in self._children:
            if child.alive and child.kill_at is None:
                _log.warning(
                    "worker %s (pid %s) did not stop within the grace period: sending SIGTERM (SIGKILL in %g s)",
                    child.key, child.pid, self._settings.kill_timeout,
                )
                child.signal(kill=False)
                child.kill_at = now + self._settings.kill_timeout

    def _escalate(self, code: int, reason: str) -> None:
        if self._exit_code is None:
            self._exit_code, self._exit_reason = code, reason
        self._begin_stop(fast=False)

    # -- children ---------------------------------------------------------------------------

    def _spawn(self, child: SupervisedChild, *, restart: bool) -> None:
        try:
            child.spawn(self._context, self._target, self._clock())
        except Exception as exc:
            reason = f"worker {child.key!r} could not be started: {type(exc).__name__}: {exc}"
            self._fail(child, TREE_EXIT_BOOT_FAILURE, reason)
            return
        if restart:
            child.restarts += 1
        suffix = f", restart {child.restarts}" if restart else ""
        _log.info("worker %s started (pid %s)%s", child.key, child.pid, suffix)
        self._set_state(child, "starting", force=True)

    def _on_child_message(self, child: SupervisedChild, message: object) -> None:
        now = self._clock()
        if isinstance(message, Heartbeat):
            child.beat_at, child.in_flight = now, message.in_flight
            child.stage_ages = _clean_stage_ages(child, message.stage_ages)
            child.note_polling(getattr(message, "polling", None), now)
            self._board.publish(child.snapshot(now), child.beat_at)
        elif isinstance(message, (EventBatch, UndeliveredResult)):
            status = child.snapshot(now)
            try:
                self._on_message(status, message)
            except Exception:
                _log.exception("on_message failed for a %s from worker %s", type(message).__name__, child.key)
        elif isinstance(message, Ready):
            if child.state != "starting":
                return  # already told to stop
            child.up_at = child.beat_at = now
            _log.info(
                "worker %s (pid %s) is ready (%s, worker id %s)",
                child.key, child.pid, message.flavour, message.worker_id,
            )
            self._set_state(child, "up")
            if self._paused:
                child.send(Pause())
        elif isinstance(message, Exiting):
            child.exiting_reason = message.reason
        else:
            _log.warning(
                "worker %s (pid %s) sent an unexpected %s; ignored", child.key, child.pid, type(message).__name__
            )

    def _on_death(self, child: SupervisedChild) -> None:
        for message in child.receive(limit=None):  # what it sent last (results, Exiting) counts
            self._on_child_message(child, message)
        pid, code = child.pid, child.reap()
        how = _how_it_ended(child, code)
        _log.info("worker %s (pid %s) exited: %s", child.key, pid, how)
        if self._stopping:
            self._set_state(child, "failed" if child is self._culprit else "stopped")
        elif child.state == "starting":
            self._fail_boot(child, how)
        elif code == EXIT_RECYCLE and not child.wedged:
            self._recycled(child, how)
        else:
            self._crashed(child, how)

    def _recycled(self, child: SupervisedChild, how: str) -> None:
        """A child that stopped itself at its memory or task limit: a fresh process now, no crash counted."""
        _log.info("worker %s recycled itself (%s); starting a fresh process", child.key, how)
        child.restart_at = self._clock()
        self._set_state(child, "restarting")

    def _fail_boot(self, child: SupervisedChild, cause: str) -> None:
        """A child that never became ready: no restart, the tree stops with exit code 3."""
        self._fail(child, TREE_EXIT_BOOT_FAILURE, f"worker {child.key!r} failed to start: {cause}")

    def _fail(self, child: SupervisedChild, code: int, reason: str) -> None:
        """``child`` makes the tree stop with ``code``: it is the culprit (failed once it is gone)."""
        self._culprit = child
        if not child.alive:
            self._set_state(child, "failed")
        _log.error("%s; stopping every worker", reason)
        self._escalate(code, reason)

    def _crashed(self, child: SupervisedChild, how: str) -> None:
        settings, now = self._settings, self._clock()
        if child.up_at is not None and now - child.up_at >= settings.restart_reset_after:
            child.consecutive_crashes = 0
        child.consecutive_crashes += 1
        what = f"was wedged ({child.wedged}) and ended with {how}" if child.wedged else f"exited unexpectedly: {how}"
        if not self._intensity.record():
            self._fail(child, TREE_EXIT_GAVE_UP, (
                f"worker {child.key!r} {what}; giving up after more than {settings.max_restarts} restarts "
                f"within {settings.restart_window:g} s (this worker was restarted {child.restarts} times)"
            ))
            return
        delay = restart_backoff(
            child.consecutive_crashes,
            base=settings.restart_backoff_base,
            cap=settings.restart_backoff_cap,
            jitter=settings.restart_jitter,
            rng=self._rng,
        )
        child.restart_at = now + delay
        _log.warning(
            "worker %s %s; restarting in %.3f s (consecutive crash %d)",
            child.key, what, delay, child.consecutive_crashes,
        )
        self._set_state(child, "restarting")

    def _set_state(self, child: SupervisedChild, state: ChildState, *, force: bool = False) -> None:
        changed = force or child.state != state
        child.state = state
        status = child.snapshot(self._clock())
        self._board.publish(status, child.beat_at)
        if changed and self._on_state is not None:
            try:
                self._on_state(status)
            except Exception:
                _log.exception("on_state failed for worker %s", child.key)

    def _kill_all(self) -> None:
        """Last resort after a loop failure: SIGKILL and reap every process still there."""
        for child in self._children:
            child.restart_at = None
            if child.alive:
                child.signal(kill=True)
                try:
                    child.reap()
                except Exception:
                    _log.exception("could not reap worker %s (pid %s)", child.key, child.pid)


def _how_it_ended(child: SupervisedChild, code: int) -> str:
    """The phrase for a reaped child's end: its own reason when it sent one, else the exit code
    (read as the unguarded-main cause when the process died that way before it was ready)."""
    if child.exiting_reason:
        return f"{child.exiting_reason} ({describe_exit(code)})"
    if child.state == "starting" and code == EXIT_UNGUARDED_MAIN:
        return f"{UNGUARDED_MAIN_CAUSE} ({describe_exit(code)})"
    return describe_exit(code)


def _clean_stage_ages(child: SupervisedChild, raw: object) -> tuple[tuple[str, float], ...]:
    """``Heartbeat.stage_ages`` as ``(str, float)`` pairs; garbage is logged and read as no stages."""
    try:
        return tuple((str(stage), float(age)) for stage, age in raw)  # type: ignore[attr-defined]
    except (TypeError, ValueError) as exc:
        _log.warning("worker %s (pid %s) sent unreadable stage ages %r (%s); ignored", child.key, child.pid, raw, exc)
        return ()
