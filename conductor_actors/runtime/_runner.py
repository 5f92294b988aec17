"""Run one worker in the current process until told to stop: ``WorkerRunner`` and ``run_worker``,
and the graceful stop (``GracefulStop``, ``StopReport``).

The flavour follows the worker: a ``def`` worker runs on threads (``SyncPipeline``); an
``async def`` worker runs on an event loop (``AsyncPipeline``) that the runner keeps in a thread of
its own, so the calling thread controls both flavours the same way. Worker processes use this; so
can tests and embedding applications.

The graceful stop (DESIGN section 5): stop polling at once (a poll in flight finishes; what it
brings is handed back); tasks received but not started are handed back; running tasks get
``grace`` seconds; at the deadline whatever has not finished is handed back (async tasks are also
cancelled; a sync thread cannot be killed, its late result is dropped); then every result still
waiting is sent within ``flush`` seconds; results that still could not be sent go to recovery.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from ..actors import TimerService
from ..client import Configuration
from ..events import TaskRunnerEvent
from ..metrics import MetricsAccumulator
from ..settings import RuntimeSettings
from ..worker import BoundWorker, WorkerConfig, WorkerInterface, resolve_worker_config
from ._execute import handback_result
from ._messages import Flush, Pause, Purpose, Report, Resume, Stop, ValidTask
from ._pipeline import (
    Liveness,
    PipelineState,
    RecycleCheck,
    TaskLedger,
    TaskState,
    UndeliverableSink,
    WorkerSettings,
    log_undeliverable,
    tell_quietly,
)
from ._sync import SyncPipeline
from ._telemetry import Telemetry
from ._update import UpdaterLogic

__all__ = [
    "GracefulStop",
    "StopReport",
    "WorkerRunner",
    "run_worker",
]

_log = logging.getLogger("conductor_actors.runtime")


# -- the graceful stop ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StopReport:
    """What a graceful stop did.

    ``handed_back``: unstarted or unfinished tasks the server took back during the stop (another
    worker may take them now); ``abandoned``: tasks still running at the grace deadline (handed
    back, their late results dropped); ``undelivered``: results passed to recovery during the stop;
    ``clean``: every accepted task was settled before the deadlines and nothing went to recovery.
    """

    handed_back: int
    abandoned: int
    undelivered: int
    clean: bool
    seconds: float


class GracefulStop:
    """The steps of a graceful stop that both flavours share, and its deadlines.

    The runner makes one per pipeline; the pipeline's ``stop`` calls ``begin``, waits (its own
    way) until ``grace_deadline()`` for running tasks, calls ``hand_back_unfinished``, waits until
    ``flush_deadline()`` for the results, then ``journal_unsent`` and ``report``. Both deadlines
    are re-read on every wake: ``hurry`` (a second signal, any thread) shortens them, also when it
    comes before the stop began. The other steps run on the pipeline's controlling thread or loop.
    """

    def __init__(self) -> None:
        self._grace_until = float("inf")  # monotonic
        self._flush_limit = float("inf")  # seconds from hand_back_unfinished
        self._flush_from = float("inf")
        self._began = 0.0
        self._before = (0, 0)  # (handed_back, handed_to_recovery) when the stop began

    def hurry(self, grace: float, flush: float) -> None:
        """Running tasks get at most ``grace`` more seconds, results at most ``flush``."""
        self._grace_until = min(self._grace_until, time.monotonic() + grace)
        self._flush_limit = min(self._flush_limit, flush)

    def begin(self, pipeline: PipelineState, grace: float | None, flush: float | None) -> None:
        """Take no more work: polling stops, results go over v1 (no chained task), whatever still
        arrives is handed back. ``grace``/``flush`` default to the runtime settings."""
        settings = pipeline.runtime
        self._began = time.monotonic()
        grace = settings.shutdown_grace if grace is None else grace
        flush = settings.shutdown_flush if flush is None else flush
        self.hurry(grace, flush)
        self._before = (pipeline.handed_back.value, pipeline.handed_to_recovery.value)
        pipeline.shutting_down.set()
        pipeline.updater_logic.draining = True
        tell_quietly(pipeline.poller, Stop(grace, flush))

    def grace_deadline(self) -> float:
        return self._grace_until

    def hand_back_unfinished(self, pipeline: PipelineState) -> list[ValidTask]:
        """At the grace deadline: hand back every task not started or still running (see
        ``_claim_unfinished``), send every result waiting for a retry now, and start the flush
        deadline. Returns the tasks that were still running (abandoned)."""
        reports, running = _claim_unfinished(pipeline)
        for report in reports:
            tell_quietly(pipeline.updater, report)
        tell_quietly(pipeline.updater, Flush())
        self._flush_from = time.monotonic()
        return running

    def flush_deadline(self) -> float:
        return self._flush_from + self._flush_limit

    def journal_unsent(self, pipeline: PipelineState) -> int:
        """At the flush deadline: pass every result not yet accepted to recovery and give up
        hand-backs not yet answered (the server offers those tasks again after their response
        timeout); the ledger is empty afterwards. Returns how many results went to recovery."""
        ledger, task_type = pipeline.ledger, pipeline.task_type
        pending = ledger.pending_results()
        for task, result in pending:
            if ledger.settled(task.task_id):
                pipeline.hand_to_recovery(result, TimeoutError("not delivered before the shutdown deadline"), 0)
        if pending:
            _log.warning("%d %s result(s) not delivered before the shutdown deadline were handed to recovery",
                         len(pending), task_type)
        unanswered = [t for t in ledger.unsettled() if ledger.settled(t.task_id)]
        if unanswered:
            _log.warning("%d %s hand-back(s) were not answered before the shutdown deadline; the server offers "
                         "those tasks again after their response timeout", len(unanswered), task_type)
        return len(pending)

    def report(self, pipeline: PipelineState, running: list[ValidTask], clean: bool) -> StopReport:
        """What this stop did (logged); ``clean``: the flush wait saw every task settled."""
        handed_back_before, recovered_before = self._before
        undelivered = pipeline.handed_to_recovery.value - recovered_before
        report = StopReport(
            handed_back=pipeline.handed_back.value - handed_back_before, abandoned=len(running),
            undelivered=undelivered, seconds=time.monotonic() - self._began,
            clean=clean and not running and undelivered == 0,
        )
        pipeline.task_log.flush(final=True)  # failures counted but not yet summarised would go unmentioned
        _log.info(
            "worker %s stopped in %.2f s: %d task(s) handed back, %d abandoned at the deadline, %d result(s) "
            "to recovery", pipeline.task_type, report.seconds, report.handed_back, report.abandoned,
            report.undelivered,
        )
        return report

    @staticmethod
    def nothing_to_stop() -> StopReport:
        """The report of a pipeline that never started."""
        return StopReport(0, 0, 0, True, 0.0)


def _claim_unfinished(pipeline: PipelineState) -> tuple[list[Report], list[ValidTask]]:
    """At the grace deadline: claim every task not started or still running for a hand-back.

    Returns the hand-back reports to send and the tasks that were running (abandoned). Claims are
    compare-and-set, so a task that finishes at the same moment is either reported or handed back,
    never both.
    """
    reports: list[Report] = []
    running: list[ValidTask] = []
    ledger = pipeline.ledger
    for state in (TaskState.RECEIVED, TaskState.RUNNING):
        for task in ledger.unsettled(state):
            if ledger.transition(task.task_id, state, TaskState.REPORTING):
                reports.append(Report(task, handback_result(task, pipeline.worker_id), Purpose.HANDBACK))
                if state is TaskState.RUNNING:
                    running.append(task)
    if running:
        _log.warning(
            "%d %s task(s) still running at the shutdown deadline were handed back: %s",
            len(running), pipeline.task_type, ", ".join(str(t.task_id) for t in running[:10]),
        )
    return reports, running


# -- the runner -----------------------------------------------------------------------------------


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

    The worker-scope settings become one ``WorkerSettings`` (``worker_settings``); the rest are
    the live ends the pipeline is connected to. ``start()`` returns once the pipeline is polling;
    ``stop()`` blocks for the graceful stop. Both are called from one controlling thread. Also a
    context manager (exit = ``stop()``).
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
    ) -> None:
        configuration = configuration if configuration is not None else Configuration()
        config = config if config is not None else resolve_worker_config(worker)
        self.worker_settings = WorkerSettings(
            key=config.task_definition_name,
            task_type=config.task_definition_name,
            worker_payload=b"",
            worker_config=config,
            configuration=configuration,
            runtime=settings if settings is not None else RuntimeSettings(),
            metrics=metrics is not None,
            forward_event_types=tuple(cls.__name__ for cls in forward_types),
        )
        self.configuration = configuration
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
        self._stop_plan = GracefulStop()
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
        settings = self.worker_settings
        config = settings.worker_config
        worker_id = config.effective_worker_id()
        bound = BoundWorker(self._worker, worker_id)
        telemetry = Telemetry(
            settings.task_type, worker_id, listeners=self._listeners, forward=self._forward,
            forward_types=self._forward_types, metrics=self._metrics,
        )
        _log.info("%s", config.oneline(os.getpid()))
        return PipelineState(
            settings, bound, telemetry, undeliverable=self._undeliverable,
            updater_logic=UpdaterLogic(settings.runtime), recycling=RecycleCheck(settings.runtime),
            on_stage_failure=self._on_stage_failure, on_task_limit=self._on_task_limit, on_ready=self._on_ready,
            poll_timers=self._poll_timers, client=self._client,
        )

    def start(self) -> None:
        """Start the pipeline (idempotent). Raises what building it raises (e.g. a bad worker)."""
        if self._sync is not None or self._async is not None:
            return
        if self.flavour == "sync":
            self._state = self._build_state()
            self._sync = SyncPipeline(self._state, self._stop_plan)
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
        self._async = AsyncPipeline(self._state, self._stop_plan)
        asyncio.run_coroutine_threadsafe(self._async.start(), loop).result()

    def pause(self) -> None:
        """Stop polling (running tasks continue); thread-safe."""
        if self._state is not None:
            self._state.tell_polling(Pause())

    def resume(self) -> None:
        """Poll again after ``pause``; thread-safe."""
        if self._state is not None:
            self._state.tell_polling(Resume())

    def hurry(self, grace: float, flush: float) -> None:
        """Shorten a stop in progress (another thread is inside ``stop``): running tasks get at most
        ``grace`` more seconds, then results ``flush``. Thread-safe; called before ``stop`` (the
        stop was asked for, the controlling thread has not begun it yet), it shortens that stop."""
        if self._sync is not None:
            self._sync.hurry(grace, flush)
        elif self._async is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._async.hurry, grace, flush)

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
