"""``TaskHandler``: run workers from code, the facade over the supervisor and the parent's actors.

Keyword names follow the official SDK so that moving over is an import change. Differences on
purpose: the context manager starts the workers (``start_processes()`` inside the block is a no-op
then), starting with zero workers is an error, ``join_processes()`` before a start is an error, a
worker whose function a worker process cannot re-create (a lambda, a nested function) is refused
when started (not when built, so ``Worker(...).execute(task)`` still works in-process), starting
one while multiprocessing re-imports the main script for a worker process (a script
without the ``if __name__ == "__main__":`` guard) is an error that names the fix, and the restart
knobs of the official SDK map onto the supervisor's policy (see ``_official_supervision_changes``).

Threads: a ``TaskHandler`` is built and started on the caller's thread; ``start_processes`` starts
the parent actors' threads and the supervisor thread, which from then on does the work (routing
what the children send to the parent actors on the supervisor thread). ``run()`` belongs on the main
thread, since it installs signal handlers; ``status``, ``is_healthy``, ``pause``, ``resume`` and
``stop_processes`` may be called from any thread. The exceptions each method raises are in its
docstring; what fails inside the tree (a crash, a boot failure) ends as the exit code, not as an
exception.
"""

from __future__ import annotations

import inspect
import logging
import multiprocessing
import os
import pickle
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from ._logging import LOG_FORMATS
from ._parent import ParentActors, ParentSink, start_server_check
from .client import Configuration
from .metrics import MetricsSink
from .recovery import RecoverySink
from .runtime import WorkerSettings
from .settings import (
    PARENT_STOP_TIMEOUT,
    MetricsSettings,
    RecoverySettings,
    RuntimeSettings,
    SupervisionSettings,
    TreeSettings,
    build_tree_settings,
)
from .supervision import (
    EXIT_UNGUARDED_MAIN,
    ChildStatus,
    ProcessSupervisor,
    install_signal_handlers,
)
from .worker import (
    WorkerConfig,
    WorkerInterface,
    WorkerLoader,
    get_registered_workers,
    merge_workers,
    resolve_worker_config,
)

__all__ = ["TaskHandler", "TaskHandlerError", "UnguardedMainError"]

_log = logging.getLogger("conductor_actors.handler")


class TaskHandlerError(RuntimeError):
    """``TaskHandler`` used in a way that cannot work (no workers, join before start...)."""


class UnguardedMainError(TaskHandlerError, SystemExit):
    """A ``TaskHandler`` was started while multiprocessing re-imported the main script to start
    one of its worker processes: the script starts it at import time, without the
    ``if __name__ == "__main__":`` guard.

    It is also a ``SystemExit`` with code ``EXIT_UNGUARDED_MAIN``: left alone, it ends that
    process without a traceback (the message was printed to its stderr) and the supervisor, seeing
    that exit code before the process said Ready, reports a boot failure with this cause.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = EXIT_UNGUARDED_MAIN


class TaskHandler:
    """Runs every worker in its own supervised process (or ``processes`` of them).

    Args:
        workers: workers passed explicitly (``Worker``/``WorkerInterface`` instances).
        configuration: the Conductor client configuration (default: from the environment).
        metrics_settings: expose merged metrics over HTTP or to a file (default: no metrics).
        scan_for_annotated_workers: also run every ``@worker_task`` function imported so far.
        import_modules: modules (packages are scanned recursively) to import first.
        event_listeners: in-process listeners, copied into every worker process.
        actors: parent-side actors (``ThreadActor`` subclasses with ``subscriptions``) that receive
            the events of every worker process in one place.
        recovery: the durable outbox for results whose update failed finally: ``RecoverySettings``,
            ``False`` to switch it off (handle ``TaskUpdateFailure`` yourself), or None/``True`` for
            the defaults (journal in ``$CONDUCTOR_ACTORS_STATE_DIR`` or the per-user state dir).
        runtime_settings: pipeline knobs (update retries, backoffs); default: ``CONDUCTOR_ACTORS_*``
            environment variables, then the defaults.
        supervision: restart policy, liveness and shutdown deadlines (these shutdown times apply to
            the whole tree); default: ``CONDUCTOR_ACTORS_*`` environment variables, then the defaults.
        sinks: built-in parent consumers (metrics, recovery); normally built from the other args.
        log_level: logging level inside the worker processes (default: the level the parent's
            ``conductor_actors`` logger has, INFO when logging is not configured).
        log_format: ``"text"`` (default) or ``"json"`` (one JSON object per line) for the worker
            processes' log lines.
        log_tasks: the worker processes log one line per completed task (default False; failed
            tasks are always logged).
        env: environment to resolve worker configuration and the settings not given from (default
            ``os.environ``).
        monitor_processes, restart_on_failure, monitor_interval_seconds, restart_backoff_seconds,
        restart_backoff_max_seconds, restart_max_attempts: the official SDK's parameters, in its
            positional order (7th to 12th, before ``actors``), mapped onto ``supervision`` when given
            (None: not given).

    Raises ``WorkerConfigError`` (bad environment values), ``WorkerRegistrationError`` (two
    different workers for one task name and domain, or a scanned ``@worker_task`` function that
    cannot run in a child process), ``WorkerDiscoveryError`` (a module that fails to import) and
    ``TypeError``/``ValueError`` for bad arguments, at construction. A worker passed in
    ``workers`` that cannot run in a child process is refused by ``start_processes``.
    """

    def __init__(
        self,
        workers: Iterable[WorkerInterface] | None = None,
        configuration: Configuration | None = None,
        metrics_settings: MetricsSettings | None = None,
        scan_for_annotated_workers: bool = True,
        import_modules: Iterable[str] | None = None,
        event_listeners: Iterable[object] | None = None,
        monitor_processes: bool | None = None,
        restart_on_failure: bool | None = None,
        monitor_interval_seconds: float | None = None,
        restart_backoff_seconds: float | None = None,
        restart_backoff_max_seconds: float | None = None,
        restart_max_attempts: int | None = None,
        actors: Iterable[Any] | None = None,
        *,
        recovery: RecoverySettings | bool | None = None,
        runtime_settings: RuntimeSettings | None = None,
        supervision: SupervisionSettings | None = None,
        sinks: Sequence[ParentSink] | None = None,
        log_level: int | str | None = None,
        log_format: str = "text",
        log_tasks: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        # Modules first, as before settings were merged in one place: a module that fails to import
        # is reported even when a setting is bad too.
        loader = WorkerLoader()
        if import_modules:
            loader.scan_packages(list(import_modules), recursive=True)
        # The official SDK's restart parameters, positional in its order; None = not given.
        given = {
            "monitor_processes": monitor_processes,
            "restart_on_failure": restart_on_failure,
            "monitor_interval_seconds": monitor_interval_seconds,
            "restart_backoff_seconds": restart_backoff_seconds,
            "restart_backoff_max_seconds": restart_backoff_max_seconds,
            "restart_max_attempts": restart_max_attempts,
        }
        official_options = {name: value for name, value in given.items() if value is not None}
        if log_format not in LOG_FORMATS:
            raise ValueError(f"log_format={log_format!r}: expected one of {', '.join(LOG_FORMATS)}")
        self._configuration = configuration if configuration is not None else Configuration()
        env = os.environ if env is None else env
        self._env = env
        settings = build_tree_settings(
            supervision=supervision, runtime=runtime_settings, metrics=metrics_settings, recovery=recovery,
            supervision_changes=_official_supervision_changes(official_options),
            log_level=log_level, log_format=log_format, log_tasks=log_tasks, env=env,
        )
        self.settings: TreeSettings = settings  # code and environment merged once
        self.supervision = settings.supervision
        self.runtime_settings = settings.runtime
        self.metrics_settings = settings.metrics
        self.recovery_settings: RecoverySettings | None = settings.recovery
        scanned = get_registered_workers() if scan_for_annotated_workers else []
        # Checked at start, not here: a handler holding a lambda worker can still be built.
        self.workers: list[WorkerInterface] = merge_workers(list(workers or ()), scanned, check=False)
        self.configs: dict[int, WorkerConfig] = {id(w): resolve_worker_config(w, env) for w in self.workers}
        self._listeners = list(event_listeners or ())
        self._listeners_payload = pickle.dumps(self._listeners) if self._listeners else b""
        self.metrics: MetricsSink | None = None
        self.recovery: RecoverySink | None = None
        parent_sinks = list(sinks) if sinks is not None else self._default_sinks()
        self._parent = ParentActors(list(actors or ()), sinks=parent_sinks)
        self._supervisor: ProcessSupervisor | None = None
        self._started = False
        self._finished = threading.Event()
        self._exit_code: int | None = None
        self._lock = threading.Lock()

    @property
    def configuration(self) -> Configuration:
        """Where the worker processes and the outbox send their requests."""
        return self._configuration

    @configuration.setter
    def configuration(self, value: Configuration) -> None:
        """Before the start only (raises ``TaskHandlerError`` after it): every part that talks to
        the server, the outbox included, uses the new configuration."""
        if self._started:
            raise TaskHandlerError("the configuration cannot change once the worker processes started")
        self._configuration = value
        if self.recovery is not None:
            self.recovery.configuration = value

    def _default_sinks(self) -> list[ParentSink]:
        sinks: list[ParentSink] = []
        if self.metrics_settings is not None:
            task_types = {self.configs[id(w)].task_definition_name for w in self.workers}
            self.metrics = MetricsSink(self.metrics_settings, self._health, task_types)
            sinks.append(self.metrics)
        if self.recovery_settings is not None:
            record = self.metrics.record if self.metrics is not None else None
            self.recovery = RecoverySink(self.recovery_settings, self.configuration, record, self._env)
            sinks.append(self.recovery)
        return sinks

    def _health(self) -> tuple[bool, list[ChildStatus]]:
        supervisor = self._supervisor
        if supervisor is None:
            return False, []
        return supervisor.is_healthy(), supervisor.status()

    # ----------------------------------------------------------------------------------------------

    def worker_settings(self) -> list[WorkerSettings]:
        """One ``WorkerSettings`` per worker process (a worker with ``processes=N`` gets N).

        Raises ``WorkerRegistrationError``, naming the fix, for a worker a child process cannot
        re-create (a lambda or nested function: define it at module level).
        """
        settings: list[WorkerSettings] = []
        forward = self._parent.forward_event_types()
        for worker in self.workers:
            config = self.configs[id(worker)]
            worker.check_spawnable()  # a clear message instead of a PicklingError
            payload = pickle.dumps(worker)
            base = config.task_definition_name + (f"[domain={config.domain}]" if config.domain else "")
            for index in range(config.processes):
                key = base if config.processes == 1 else f"{base}#{index + 1}"
                settings.append(WorkerSettings(
                    key=key, task_type=config.task_definition_name, worker_payload=payload,
                    worker_config=config, configuration=self.configuration, runtime=self.runtime_settings,
                    process_index=index, listeners_payload=self._listeners_payload,
                    forward_event_types=forward, metrics=self.metrics_settings is not None,
                    metric_samples=bool(self.metrics_settings and self.metrics_settings.quantiles),
                    log_level=self.settings.log_level, log_format=self.settings.log_format,
                    log_tasks=self.settings.log_tasks,
                ))
        return settings

    def start_processes(self) -> None:
        """Start the parent's actors, then one process per worker process. Idempotent.

        Raises ``TaskHandlerError`` when there is no worker to run, ``WorkerRegistrationError``
        (naming the fix) for a worker whose function a worker process cannot re-create, before
        anything starts, and ``UnguardedMainError`` when called while multiprocessing re-imports
        the main script to start a worker process.
        """
        _refuse_during_process_bootstrap()
        with self._lock:
            if self._started:
                return
            if not self.workers:
                raise TaskHandlerError(
                    "no workers to run: decorate functions with @worker_task and import their modules "
                    "(import_modules=[...]) or pass workers=[...]"
                )
            worker_settings = self.worker_settings()
            self._parent.start(on_give_up=_log_gave_up)
            self._supervisor = ProcessSupervisor(
                worker_settings, settings=self.supervision, on_message=self._parent.route,
                on_state=self._parent.child_state,
            )
            self._started = True
            described = ", ".join(
                f"{c.task_definition_name} ({'async' if w.is_async else 'sync'}"
                + (f" x{c.processes}" if c.processes > 1 else "") + ")"
                for w in self.workers for c in [self.configs[id(w)]]
            )
            _log.info("starting %d worker process(es): %s", len(worker_settings), described)
            self._supervisor.start()
            first = self.configs[id(self.workers[0])]
            # One request, on its own thread: a wrong URL or refused credentials get one clear line.
            start_server_check(self.configuration, first.task_definition_name, first.domain)

    def join_processes(self, timeout: float | None = None) -> int | None:
        """Wait until every worker process has ended; returns the exit code (None on timeout).

        0 = clean stop, 1 = the supervisor gave up (restart intensity), 3 = a worker failed to boot,
        128+N = stopped by a second signal N. Raises ``TaskHandlerError`` before ``start_processes``.
        """
        if self._supervisor is None:
            raise TaskHandlerError("join_processes() before start_processes(): nothing is running")
        code = self._supervisor.join(timeout)
        if code is None:
            return None
        with self._lock:
            if not self._finished.is_set():
                self._parent.stop(PARENT_STOP_TIMEOUT)
                self._exit_code = code
                self._finished.set()
        return self._exit_code

    def stop_processes(self, timeout: float | None = None) -> int | None:
        """Stop every worker gracefully and wait (``timeout`` bounds the wait); returns the exit code."""
        if self._supervisor is None:
            return 0
        self._supervisor.request_stop()
        return self.join_processes(timeout)

    def pause(self) -> None:
        """Every worker stops polling (running tasks continue)."""
        if self._supervisor is not None:
            self._supervisor.pause()

    def resume(self) -> None:
        if self._supervisor is not None:
            self._supervisor.resume()

    def run(self) -> int:
        """Start, stop on SIGTERM/SIGINT (a second signal = fast stop), wait; returns the exit code.

        Installs signal handlers, so call it from the main thread of a program you own.
        """
        self.start_processes()
        assert self._supervisor is not None
        restore = install_signal_handlers(self._supervisor)
        try:
            code = None
            while code is None:  # short waits keep the main thread responsive to signals
                code = self.join_processes(timeout=0.5)
            return code
        finally:
            restore()

    def wait_ready(self, timeout: float) -> bool:
        """True once every worker process has said Ready."""
        return self._supervisor is not None and self._supervisor.wait_ready(timeout)

    @property
    def exit_reason(self) -> str | None:
        return None if self._supervisor is None else self._supervisor.exit_reason

    def status(self) -> list[ChildStatus]:
        """Per worker process: pid, state, alive, restarts, last heartbeat age, tasks in flight."""
        return [] if self._supervisor is None else self._supervisor.status()

    def get_worker_process_status(self) -> list[dict[str, Any]]:
        """The official SDK's name: status as dicts (worker, pid, alive, exitcode, restart_count, ...)."""
        return [
            {"worker": s.task_type, "key": s.key, "pid": s.pid, "alive": s.alive, "state": s.state,
             "exitcode": s.last_exit, "restart_count": s.restarts,
             "last_heartbeat_age": s.last_heartbeat_age, "in_flight": s.in_flight}
            for s in self.status()
        ]

    def is_healthy(self) -> bool:
        """Every worker process is up and heartbeating."""
        return self._supervisor is not None and self._supervisor.is_healthy()

    def __enter__(self) -> TaskHandler:
        self.start_processes()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._supervisor is not None and not self._finished.is_set():
            self.stop_processes()


def _refuse_during_process_bootstrap() -> None:
    """Raise ``UnguardedMainError`` (after printing it) when this process is a worker process
    still in multiprocessing's bootstrap, i.e. re-importing the main script. Runs on the caller's
    thread.

    The bootstrap runs the main script's module-level code under the name ``__mp_main__``, a name
    the main module has only in a process multiprocessing started; so such a frame on the stack
    means the script is being re-imported (``multiprocessing.parent_process()`` cannot tell: it is
    set only after the bootstrap). The process already carries the worker's name then.
    """
    where = _main_script_line()
    if where is None:
        return
    name = multiprocessing.current_process().name
    message = (
        f"worker process {name!r}: a TaskHandler was started while multiprocessing re-imported the "
        f"main script to start this worker process ({where}): the script starts the TaskHandler when it is "
        "imported, so every worker process would start its own. Put the code that builds and starts the "
        'TaskHandler under `if __name__ == "__main__":`'
    )
    # Straight to stderr: the worker process's logging starts only after the bootstrap.
    print(f"conductor_actors: error: {message}", file=sys.stderr, flush=True)
    raise UnguardedMainError(message)


def _main_script_line() -> str | None:
    """``file, line N`` of the re-imported main script's module-level line that led here; None when
    no module-level code of ``__mp_main__`` is running (not a re-import: a worker function of the
    main script may build a TaskHandler)."""
    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_globals.get("__name__") == "__mp_main__" and frame.f_code.co_name == "<module>":
            return f"{frame.f_code.co_filename}, line {frame.f_lineno}"
        frame = frame.f_back
    return None


def _log_gave_up(ref: Any, exc: BaseException) -> None:
    _log.error("parent actor %s failed too often and was given up: %r", getattr(ref, "name", ref), exc)


#: The official SDK's restart keywords TaskHandler takes (docs/configuration.md lists the same).
_OFFICIAL_OPTIONS = {
    "monitor_processes", "restart_on_failure", "restart_backoff_seconds", "restart_backoff_max_seconds",
    "restart_max_attempts", "monitor_interval_seconds",
}


def _official_supervision_changes(options: dict[str, Any]) -> dict[str, Any]:
    """The supervision fields the official SDK's restart keywords set.

    ``restart_on_failure=False`` or ``monitor_processes=False``: never restart (a crash stops the
    tree); ``restart_backoff_seconds``/``restart_backoff_max_seconds``: backoff base and cap;
    ``restart_max_attempts`` > 0: at most that many restarts in the intensity window;
    ``monitor_interval_seconds``: accepted and unused (deaths are seen at once).
    """
    changes: dict[str, Any] = {}
    if options.get("restart_on_failure") is False or options.get("monitor_processes") is False:
        changes["max_restarts"] = 0
    if "restart_backoff_seconds" in options:
        changes["restart_backoff_base"] = float(options["restart_backoff_seconds"])
    if "restart_backoff_max_seconds" in options:
        changes["restart_backoff_cap"] = float(options["restart_backoff_max_seconds"])
    attempts = options.get("restart_max_attempts")
    if attempts:
        changes["max_restarts"] = int(attempts)
    return changes
