"""The worker process: ``child_main`` is the target of every process the supervisor starts.

Boot: signals first (SIGINT ignored: a terminal's Ctrl-C reaches the whole process group and the
parent coordinates; SIGTERM = graceful stop, a second SIGTERM = exit 1 at once), then the worker
settings, the worker and the pipeline. Anything that fails before the pipeline polls is a boot failure: the
child says why in an ``Exiting`` message and exits 3, and the parent does not restart it.

Running: the relay ships events, metrics and heartbeats; a reader thread takes ``Stop``, ``Pause``
and ``Resume`` from the parent. The end of the pipe (the parent is gone) is a stop too, with a
short grace, so an orphaned worker never keeps polling.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from .._logging import configure_logging
from ..client import TaskResult
from ..events import LISTENER_METHODS
from ..metrics import MetricsAccumulator
from ..settings import RuntimeSettings
from ._messages import Exiting, Pause, Ready, Resume, SendNow, SetProbe, ShipNow, Stop, UndeliveredResult
from ._pipeline import PipelineState, WorkerSettings, memory_over_limit, rss_mib
from ._runner import WorkerRunner
from ._telemetry import Relay

__all__ = ["EXIT_BOOT_FAILURE", "EXIT_CRASH", "EXIT_OK", "EXIT_RECYCLE", "child_main"]

_log = logging.getLogger("conductor_actors.runtime")

#: Child exit codes (the parent reads them through the process sentinel).
EXIT_OK = 0
EXIT_CRASH = 1  # an unexpected error after Ready (or a second SIGTERM)
EXIT_BOOT_FAILURE = 3  # could not import/build the worker: the parent must not restart it
EXIT_RECYCLE = 4  # stopped itself on purpose (memory or task limit): replace it now, it did not crash

#: Grace for running tasks when the parent disappeared (nobody will wait for a long drain).
ORPHAN_GRACE = 5.0


class _StopLatch:
    """The child's record that a stop was asked: set once, by the parent's ``Stop`` on the pipe,
    SIGTERM or the pipe's end (from the control reader thread or the signal handler); the main
    thread waits on it."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.grace: float | None = None
        self.flush: float | None = None
        self.reason = ""
        self.signals = 0
        # Set once the runner exists: shortens a stop already asked for.
        self.hurry: Callable[[float, float], None] | None = None

    def request(self, reason: str, grace: float | None = None, flush: float | None = None) -> None:
        """Ask for a stop; a later request with a shorter grace (the parent's fast path after a
        second signal) shortens the stop already under way."""
        if not self.event.is_set():
            self.reason, self.grace, self.flush = reason, grace, flush
            self.event.set()
        elif grace is not None and self.hurry is not None:
            self.hurry(grace, flush if flush is not None else 0.0)


def _install_signals(stop: _StopLatch) -> None:
    def on_sigterm(signum: int, frame: Any) -> None:
        stop.signals += 1
        if stop.signals > 1:
            os._exit(EXIT_CRASH)  # a second SIGTERM: leave now
        stop.request("SIGTERM")

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, on_sigterm)
    # The supervisor spawns with these blocked so that no signal lands before the handlers exist.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def _configure_logging(worker_settings: WorkerSettings) -> None:
    configure_logging(
        worker_settings.log_level, worker_settings.log_format,
        log_tasks=worker_settings.log_tasks, worker=worker_settings.key,
    )


def _read_control(conn: Connection, stop: _StopLatch, runner_box: list[Any], runtime: RuntimeSettings) -> None:
    """Reader thread: parent -> child messages until the pipe closes."""
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            grace = min(ORPHAN_GRACE, runtime.shutdown_grace)
            stop.request("the parent process is gone", grace, min(2.0, runtime.shutdown_flush))
            return
        if isinstance(message, Stop):
            stop.request("asked by the parent", message.grace, message.flush)
        elif isinstance(message, (Pause, Resume)):
            runner = runner_box[0] if runner_box else None
            if runner is not None:
                runner.pause() if isinstance(message, Pause) else runner.resume()
            else:
                _log.debug("%s before the pipeline runs; ignored", type(message).__name__)


def _boot_failure(conn: Connection, reason: str, exc: BaseException | None = None) -> None:
    """Log the whole story here, tell the parent one line, exit 3."""
    if exc is not None:
        _log.error("%s", reason, exc_info=exc)
    else:
        _log.error("%s", reason)
    try:
        conn.send(Exiting(reason, EXIT_BOOT_FAILURE))
    except (OSError, EOFError, ValueError):
        pass
    sys.exit(EXIT_BOOT_FAILURE)


def child_main(settings_bytes: bytes, conn: Connection) -> None:
    """Run one worker process until told to stop, on the process's main thread; exits 0 (stopped),
    1 (crash), 3 (boot failure) or 4 (recycled: memory or task limit)."""
    stop = _StopLatch()
    _install_signals(stop)
    try:
        worker_settings: WorkerSettings = pickle.loads(settings_bytes)
    except Exception as exc:
        _boot_failure(conn, f"could not read the worker settings: {exc!r}")
        return
    _configure_logging(worker_settings)
    try:
        worker = pickle.loads(worker_settings.worker_payload)
        listeners = pickle.loads(worker_settings.listeners_payload) if worker_settings.listeners_payload else []
    except BaseException as exc:  # an import error, SyntaxError, SystemExit at import time...
        _boot_failure(conn, f"worker {worker_settings.key}: could not import the worker: {_where(exc)}", exc)
        return
    sys.exit(_run(worker_settings, worker, listeners, conn, stop))


def _run(
    worker_settings: WorkerSettings, worker: Any, listeners: list[Any], conn: Connection, stop: _StopLatch
) -> int:
    metrics = MetricsAccumulator(keep_samples=worker_settings.metric_samples) if worker_settings.metrics else None
    relay = Relay.start(
        conn, relay_interval=worker_settings.runtime.relay_interval,
        heartbeat_interval=worker_settings.runtime.heartbeat_interval, metrics=metrics,
        name=f"{worker_settings.task_type}-relay",
    )
    runner_box: list[Any] = []
    threading.Thread(
        target=_read_control, args=(conn, stop, runner_box, worker_settings.runtime), name="control-reader", daemon=True
    ).start()
    wanted = set(worker_settings.forward_event_types)
    forward_types = [cls for cls in LISTENER_METHODS if cls.__name__ in wanted]

    def undeliverable(task_type: str, result: TaskResult, cause: BaseException, attempts: int) -> None:
        relay.tell(UndeliveredResult(task_type, result, cause, attempts))

    def stage_failed(stage: str, exc: BaseException) -> None:
        """A pipeline stage died: this process can no longer work; the supervisor replaces it."""
        try:
            relay.tell(SendNow(Exiting(f"pipeline stage {stage} failed: {exc!r}", EXIT_CRASH)))
            relay.ask(ShipNow(), timeout=2)
        finally:
            os._exit(EXIT_CRASH)

    recycle = threading.Event()

    def task_limit(reason: str) -> None:
        recycle.set()
        stop.request(f"recycling: {reason}")

    def ready(pipeline: PipelineState) -> None:
        """Announce Ready (and wait until it is written) before the poller can fetch a task."""
        liveness, ledger = pipeline.liveness, pipeline.ledger
        relay.tell(SetProbe(lambda: (liveness.ages(), len(ledger)), pipeline.polling.report))
        relay.tell(SendNow(Ready(os.getpid(), worker_settings.task_type, flavour, pipeline.worker_id)))
        relay.ask(ShipNow(), timeout=10)

    flavour = "async" if getattr(worker, "is_async", False) else "sync"
    try:
        runner = WorkerRunner(
            worker, worker_settings=worker_settings, listeners=listeners, undeliverable=undeliverable,
            metrics=metrics, forward=relay.tell, forward_types=forward_types, on_stage_failure=stage_failed,
            on_task_limit=task_limit, on_ready=ready,
        )
        stop.hurry = runner.hurry  # a second stop request while the pipeline starts shortens the stop too
        runner.start()
    except Exception as exc:
        relay.ask(ShipNow(), timeout=5)
        relay.stop(timeout=5)
        _boot_failure(conn, f"worker {worker_settings.key}: could not start: {_where(exc)}", exc)
        return EXIT_BOOT_FAILURE
    runner_box.append(runner)
    while not stop.event.wait(worker_settings.runtime.heartbeat_interval):
        over = memory_over_limit(worker_settings.runtime, rss_mib())
        if over is not None:
            recycle.set()
            stop.request(f"recycling: {over}")
    _log.info("worker %s stopping (%s)", worker_settings.key, stop.reason)
    code = EXIT_RECYCLE if recycle.is_set() else EXIT_OK
    try:
        report = runner.stop(stop.grace, stop.flush)
        reason = f"stopped ({stop.reason}): {report.handed_back} handed back, {report.undelivered} to recovery"
    except Exception as exc:
        _log.exception("worker %s failed while stopping", worker_settings.key)
        reason, code = f"failed while stopping: {exc!r}", EXIT_CRASH
    try:
        relay.tell(SendNow(Exiting(reason, code)))
        relay.ask(ShipNow(), timeout=5)
        relay.stop(timeout=5)
    except Exception:  # the relay is best effort at this point
        _log.debug("relay did not stop cleanly", exc_info=True)
    return code


def _where(exc: BaseException) -> str:
    """``ErrorType: message (file.py:line)`` for the innermost frame, on one line."""
    frames = traceback.extract_tb(exc.__traceback__)
    location = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}{location}"
