"""Run one worker in the current process until told to stop: ``WorkerRunner`` and ``run_worker``.

The flavour follows the worker: a ``def`` worker runs on threads (``SyncPipeline``); an
``async def`` worker runs on an event loop (``AsyncPipeline``) that the runner keeps in a thread of
its own, so the calling thread controls both flavours the same way. Worker processes use this; so
can tests and embedding applications.

The runner builds what the pipeline's parts share before they start: the ``PipelineState`` (with
its ``RecycleCheck``), the updater's protocol state (``UpdaterLogic``), which it hands to the
updater stage through the pipeline and to the graceful stop (``GracefulStop``, in ``_stop``), and
that stop plan itself, which exists from ``__init__`` on because ``hurry`` may come before
``start``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from ..actors import TimerService
from ..client import Configuration
from ..events import TaskRunnerEvent
from ..metrics import MetricsAccumulator
from ..settings import RuntimeSettings
from ..worker import BoundWorker, WorkerConfig, WorkerInterface, resolve_worker_config
from ._messages import Pause, Resume
from ._pipeline import (
    Liveness,
    PipelineState,
    RecycleCheck,
    TaskLedger,
    UndeliverableSink,
    WorkerSettings,
    log_undeliverable,
)
from ._stop import GracefulStop, StopReport
from ._sync import SyncPipeline
from ._telemetry import Telemetry
from ._update import UpdaterLogic

__all__ = ["WorkerRunner", "run_worker"]

_log = logging.getLogger("conductor_actors.runtime")


class WorkerRunner:
    """One worker's pipeline in this process.

    Args:
        worker: a ``Worker`` (e.g. from ``@worker_task``) or a ``WorkerInterface``.
        configuration: the client configuration (default: from the environment).
        config: the resolved worker configuration (default: ``resolve_worker_config(worker)``,
            which reads the environment and raises ``WorkerConfigError`` for bad values).
        settings: runtime knobs (retry delays, shutdown times...).
        listeners: in-process event listeners.
        undeliverable: receives results whose update failed finally (default: logged).
        metrics, forward, forward_types: metric accumulator and event forwarding (worker processes).
        client: a ready client for the transport seam (a ``ConductorClient`` for sync workers, an
            ``AsyncConductorClient`` for async ones).
        on_stage_failure: called when a pipeline stage fails (a bug of the runtime: what a worker
            function raises fails its task); default: remembered in ``failure`` (the pipeline no
            longer works).
        on_task_limit: called once when ``settings.max_tasks`` tasks have run or, after a task,
            the resident memory is over ``settings.max_rss_mb`` (worker processes recycle
            themselves then).
        on_ready: called with the pipeline's state just before the poller starts (worker processes
            announce Ready there, so no task can run before the parent knows the process is up).
        poll_timers: the poller's timer service and clock (tests pass a ``ManualTimerService`` to
            check the poll schedule without waiting); default: the flavour's own timers and
            ``time.monotonic``.
        worker_settings: the worker-scope settings whole (a worker process passes the parent's, so
            its pipeline carries the process's key, index and log options); then
            ``configuration``, ``config`` and ``settings`` are not passed (``TypeError``).

    Without ``worker_settings`` the worker-scope arguments become one ``WorkerSettings``
    (``worker_settings``); the rest are the live ends the pipeline is connected to. ``start()``
    returns once the pipeline is polling; ``stop()`` blocks for the graceful stop. Both are called
    from one controlling thread. Also a context manager (exit = ``stop()``).
    """

    def __init__(
        self,
        worker: WorkerInterface,
        configuration: Configuration | None = None,
        *,
        config: WorkerConfig | None = None,
        settings: RuntimeSettings | None = None,
        listeners: Sequence[object] = (),
        undeliverable: UndeliverableSink | None = None,
        metrics: MetricsAccumulator | None = None,
        forward: Callable[[TaskRunnerEvent], None] | None = None,
        forward_types: Sequence[type[TaskRunnerEvent]] = (),
        client: Any = None,
        on_stage_failure: Callable[[str, BaseException], None] | None = None,
        on_task_limit: Callable[[str], None] | None = None,
        on_ready: Callable[[PipelineState], None] | None = None,
        poll_timers: TimerService | None = None,
        worker_settings: WorkerSettings | None = None,
    ) -> None:
        if worker_settings is None:
            configuration = configuration if configuration is not None else Configuration()
            config = config if config is not None else resolve_worker_config(worker)
            worker_settings = WorkerSettings(
                key=config.task_definition_name,
                task_type=config.task_definition_name,
                worker_payload=b"",
                worker_config=config,
                configuration=configuration,
                runtime=settings if settings is not None else RuntimeSettings(),
                metrics=metrics is not None,
                forward_event_types=tuple(cls.__name__ for cls in forward_types),
            )
        elif configuration is not None or config is not None or settings is not None:
            # Two sources for the same settings would leave one of them silently unused.
            raise TypeError("pass either worker_settings or configuration/config/settings, not both")
        self.worker_settings = worker_settings
        self.configuration = worker_settings.configuration
        self.failure: tuple[str, BaseException] | None = None
        self.flavour = "async" if worker.is_async else "sync"
        self._worker = worker
        self._listeners = listeners
        self._undeliverable = undeliverable or log_undeliverable
        self._metrics = metrics
        self._forward = forward
        self._forward_types = forward_types
        self._client = client
        self._on_stage_failure = on_stage_failure or self._stage_failed
        self._on_task_limit = on_task_limit
        self._on_ready = on_ready
        self._poll_timers = poll_timers
        self._state: PipelineState | None = None
        # Both exist before start(): hurry() may come first, and the stop sets the updater draining.
        self._updater_logic = UpdaterLogic(self.worker_settings.runtime)
        self._stop_plan = GracefulStop(self._updater_logic)
        self._sync: SyncPipeline | None = None
        self._async: Any = None  # the AsyncPipeline of an async worker
        self._loop: Any = None  # the async worker's event loop
        self._loop_thread: threading.Thread | None = None
        self._loop_stop_asked = False  # set by stop() before it stops the loop
        self._report: StopReport | None = None

    def _stage_failed(self, stage: str, exc: BaseException) -> None:
        self.failure = (stage, exc)

    @property
    def executed(self) -> int:
        """Tasks whose worker function ran in this runner."""
        return self._pipeline().executed.value

    @property
    def task_type(self) -> str:
        return self.worker_settings.task_type

    @property
    def worker_id(self) -> str:
        return self._pipeline().worker_id

    @property
    def ledger(self) -> TaskLedger:
        """Tasks accepted and not yet settled (for health checks and tests)."""
        return self._pipeline().ledger

    @property
    def liveness(self) -> Liveness:
        return self._pipeline().liveness

    def _pipeline(self) -> PipelineState:
        if self._state is None:
            raise RuntimeError("the worker runner has not been started")
        return self._state

    def _build_state(self) -> PipelineState:
        """Bind the worker for this process and build the state its stages share."""
        worker_settings = self.worker_settings
        config = worker_settings.worker_config
        worker_id = config.effective_worker_id()
        bound = BoundWorker(self._worker, worker_id)
        telemetry = Telemetry(
            worker_settings.task_type, worker_id, listeners=self._listeners, forward=self._forward,
            forward_types=self._forward_types, metrics=self._metrics,
        )
        _log.info("%s", config.oneline(os.getpid()))
        return PipelineState(
            worker_settings, bound, telemetry, undeliverable=self._undeliverable,
            recycling=RecycleCheck(worker_settings.runtime), on_stage_failure=self._on_stage_failure,
            on_task_limit=self._on_task_limit, on_ready=self._on_ready, poll_timers=self._poll_timers,
            client=self._client,
        )

    def start(self) -> None:
        """Start the pipeline (idempotent). Raises what building it raises (e.g. a bad worker)."""
        if self._sync is not None or self._async is not None:
            return
        if self.flavour == "sync":
            self._state = self._build_state()
            self._sync = SyncPipeline(self._state, self._updater_logic, self._stop_plan)
            self._sync.start()
            return
        import asyncio  # sync worker processes never load asyncio

        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run_loop() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            while True:
                try:
                    loop.run_forever()
                    if self._loop_stop_asked:
                        return
                    # Only stop() may end the loop: a task's code called loop.stop().
                    _log.error("a task of %s stopped the worker's event loop; it runs on", self.task_type)
                except (KeyboardInterrupt, SystemExit) as exc:
                    # asyncio lets these two out of the loop from the step of any asyncio task that
                    # raises them, besides handing them to whoever awaits that task. The runtime
                    # never raises them here (a worker process ignores SIGINT; its SIGTERM handler
                    # raises nothing), so this is a task's own code, in a task of its own making:
                    # the awaiting coroutine fails with it, and the loop carries on where it was.
                    _log.error(
                        "%s raised in an asyncio task started by a task of %s reached the event loop; "
                        "the loop goes on (the task waiting for it fails with it)",
                        type(exc).__name__, self.task_type,
                    )
                except BaseException as exc:  # nothing else escapes the loop; if it does, the pipeline is dead
                    self._on_stage_failure("event loop", exc)
                    return

        self._loop = loop
        self._loop_thread = threading.Thread(target=run_loop, name=f"{self.task_type}-loop", daemon=True)
        self._loop_thread.start()
        ready.wait()
        # The async pipeline's module is imported only here, when an async pipeline is built: it
        # loads asyncio, which a sync worker process never needs (memory and start-up time).
        from ._async import AsyncPipeline

        self._state = self._build_state()
        self._async = AsyncPipeline(self._state, self._updater_logic, self._stop_plan)
        asyncio.run_coroutine_threadsafe(self._async.start(), loop).result()

    def pause(self) -> None:
        """Stop polling and taking tasks update-v2 chains (running tasks continue); thread-safe."""
        if self._state is not None:
            # Set here rather than told: executors send results too, and one that a message had
            # not reached yet would take a chained task while paused.
            self._updater_logic.paused = True
            self._state.tell_polling(Pause())

    def resume(self) -> None:
        """Poll again after ``pause``; thread-safe."""
        if self._state is not None:
            self._updater_logic.paused = False
            self._state.tell_polling(Resume())

    def hurry(self, grace: float, flush: float) -> None:
        """Shorten a stop in progress (another thread is inside ``stop``): running tasks get at most
        ``grace`` more seconds, then results ``flush``. Thread-safe; called before ``stop`` (the
        stop was asked for, the controlling thread has not begun it yet), it shortens that stop;
        before ``start`` too (a second signal while the pipeline is being built), and the started
        pipeline keeps the shortened deadlines."""
        if self._sync is not None:
            self._sync.hurry(grace, flush)
        elif self._async is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._async.hurry, grace, flush)
        else:  # no pipeline waits on the deadlines yet: the stop plan keeps them for it
            self._stop_plan.hurry(grace, flush)

    def stop(self, grace: float | None = None, flush: float | None = None) -> StopReport:
        """Graceful stop; blocks until done. Idempotent (a second call returns the first report)."""
        if self._report is not None:
            return self._report
        if self._sync is not None:
            self._report = self._sync.stop(grace, flush)
        elif self._async is not None and self._loop is not None:
            import asyncio

            future = asyncio.run_coroutine_threadsafe(self._async.stop(grace, flush), self._loop)
            try:
                self._report = future.result()
            finally:
                try:  # nothing may be left pending on a loop that is about to close
                    asyncio.run_coroutine_threadsafe(_cancel_leftovers(), self._loop).result(timeout=5)
                except Exception as exc:
                    _log.debug("leftover coroutines did not end cleanly: %r", exc)
                self._loop_stop_asked = True
                self._loop.call_soon_threadsafe(self._loop.stop)
                if self._loop_thread is not None:
                    self._loop_thread.join(timeout=5)
                if not self._loop.is_running():
                    self._loop.close()
        else:
            self._report = GracefulStop.nothing_to_stop()
        return self._report

    def __enter__(self) -> WorkerRunner:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


async def _cancel_leftovers() -> None:
    """On the worker's loop, after its pipeline stopped: cancel and await every other coroutine."""
    import asyncio

    current = asyncio.current_task()
    leftovers = [task for task in asyncio.all_tasks() if task is not current]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


def run_worker(
    worker: WorkerInterface,
    configuration: Configuration | None = None,
    *,
    stop_event: threading.Event,
    grace: float | None = None,
    flush: float | None = None,
    **options: Any,
) -> StopReport:
    """Run ``worker`` in this process until ``stop_event`` is set, then stop gracefully.

    ``options`` are ``WorkerRunner``'s keyword arguments. Blocks the calling thread.
    """
    runner = WorkerRunner(worker, configuration, **options)
    runner.start()
    try:
        stop_event.wait()
    finally:
        report = runner.stop(grace, flush)
    return report
