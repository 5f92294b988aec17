"""The sync flavour: one ``def`` worker on threads, ``SyncPipeline`` and its stage shells.

- ``SyncPoller`` (one thread) polls for exactly the free slots.
- ``SyncExecutor`` (a pool of ``thread_count`` threads sharing one mailbox) runs the worker
  function and sends the result's first attempt from the same thread; when update-v2 chains the
  next task, that thread runs it next.
- ``SyncUpdater`` (a small pool) sends hand-backs, the failures of undecodable tasks and every
  retry; a retry is a timer message, never a sleeping thread.
- ``SyncLeaseKeeper`` (one thread) extends the lease of long-running tasks on timers.

Why the executor sends: handing a result to another thread costs a thread switch (about 20 µs of
CPU, measured on a 2-core Linux machine), and a chained task came back the same way, so two per
task: on a no-op worker that was more than the rest of the pipeline together. A send is bounded by
the client's timeouts, and only the first attempt (with its resend over v1, when the server needs
one) happens on the executor thread, so a server that is down holds each executor thread for a
timeout or two, never for the retry schedule.

Each stage class only performs its blocking calls (a poll, the worker function, a send); every
decision is in the behaviour it inherits or uses (``_poll``, ``_execute``, ``_update``).
``SyncPipeline``'s public methods are called from one controlling thread (the child's main
thread, or a test); the stages run on their own threads.
An exception a stage raises is a runtime bug: its actor fails and the stage guardian reports it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..actors import ActorPool, ThreadActor
from ..client import ConductorClient
from ..worker import execute_sync, register_task_definition
from ._execute import ExecutorBehaviour, LeaseBehaviour
from ._messages import Execute, Report, Retry, ValidTask
from ._pipeline import PipelineState, TaskState, tell_quietly
from ._poll import PollerBehaviour
from ._stop import GracefulStop, StopReport
from ._update import ResultSender, UpdaterBehaviour, UpdaterLogic

__all__ = ["SyncExecutor", "SyncLeaseKeeper", "SyncPipeline", "SyncPoller", "SyncUpdater"]

_log = logging.getLogger("conductor_actors.runtime")


class SyncPoller(PollerBehaviour, ThreadActor):
    """Runs on its own thread; a poll blocks it for at most the long-poll time plus the read timeout."""

    use_daemon_thread = True

    def on_receive(self, message: Any) -> None:
        count = self.handle(message)
        if not count:
            return
        started = time.perf_counter()
        try:
            tasks = self.pipeline.client.batch_poll(self.pipeline.task_type, count=count, **self.poll_options)
        except Exception as exc:
            self.poll_failed(exc, started)
        else:
            self.polled(tasks, started)


class _Sends:
    """How many results are being sent on the threads of one pipeline (executors and updaters),
    from the result to what its answer brought, so that its stop returns only once the last one
    ended: any thread."""

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._count = 0

    def __enter__(self) -> None:
        with self._changed:
            self._count += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._changed:
            self._count -= 1
            if not self._count:
                self._changed.notify_all()

    def wait_none(self, timeout: float) -> bool:
        """Block the calling thread until no send is in flight; False when ``timeout`` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._count, timeout)


def _send(sender: ResultSender, client: ConductorClient, report: Report) -> tuple[ValidTask | None, Retry | None]:
    """Send ``report`` on this thread (again at once over v1 when the server says so) until it is
    accepted, given up, or must wait for a retry. Returns the task update-v2 chained (recorded as
    received) and the ``Retry`` to schedule, at most one of them."""
    while True:
        use_v2, started = sender.begin_send(report)
        try:
            if use_v2:
                next_task = client.update_task_v2(report.result)
            else:
                client.update_task(report.result)
                next_task = None
        except Exception as exc:
            outcome = sender.failed(report, exc, started, sent_v2=use_v2)
            if isinstance(outcome, Report):
                report = outcome
                continue
            return None, outcome
        return sender.accepted(report, next_task, started), None


class SyncExecutor(ExecutorBehaviour, ThreadActor):
    """One of ``thread_count`` pool members; runs the worker function on its own thread, sends the
    result's first attempt and runs the task update-v2 chains to it (the module says why)."""

    use_daemon_thread = True  # a worker function that never returns must not keep the process alive

    def __init__(self, pipeline: PipelineState, logic: UpdaterLogic, sends: _Sends) -> None:
        super().__init__(pipeline)
        self._sender = ResultSender(pipeline, logic)
        self._sends = sends

    def on_receive(self, message: Execute) -> None:
        task: ValidTask | None = message.task
        while task is not None and self.begin(task):
            # One task at a time in ``_step``'s frame: a result (and its output) is freed once sent,
            # not held while the next task runs.
            task = self._step(task)

    def _step(self, task: ValidTask) -> ValidTask | None:
        """Run ``task`` (claimed by ``begin``) and send its result's first attempt; the task
        update-v2 chained to it (recorded as received), or None."""
        pipeline = self.pipeline
        outcome = execute_sync(pipeline.bound, task, pipeline.shutting_down.is_set)
        with self._sends:  # from the outcome to what the answer brought: a stop waits for all of it
            report = self.finish(task, outcome)
            if report is None:
                return None
            chained, retry = _send(self._sender, pipeline.client, report)
            if retry is not None:
                tell_quietly(pipeline.updater, retry)  # the updater keeps every pending retry
        return chained


class SyncUpdater(UpdaterBehaviour, ThreadActor):
    """One of a small pool of members sending hand-backs, failures and retries concurrently."""

    use_daemon_thread = True

    def __init__(
        self, pipeline: PipelineState, logic: UpdaterLogic, retries: dict[int, Any], sends: _Sends
    ) -> None:
        super().__init__(pipeline, logic, retries)
        self._sends = sends

    def on_receive(self, message: Any) -> None:
        report = self.handle(message)
        if report is not None:
            with self._sends:
                self.after_send(*_send(self, self.pipeline.client, report))


class SyncLeaseKeeper(LeaseBehaviour, ThreadActor):
    """Extends leases from its own thread."""

    use_daemon_thread = True

    def on_receive(self, message: Any) -> None:
        due = self.handle(message)
        if due is None:
            return
        task, extension = due
        try:
            self.pipeline.client.update_task(extension)
        except Exception as exc:
            self.extended(task, exc)
        else:
            self.extended(task, None)


class SyncPipeline:
    """A running sync worker over ``pipeline`` (built by the runner, with the client of the transport
    seam or none: one is built here). ``start()``, then ``stop()`` once; ``updater_logic`` is the
    updater's protocol state, shared by every updater member and executor thread; ``stop_plan``
    holds the graceful stop's steps and deadlines (``hurry`` may shorten them early). The poller
    takes ``Pause``/``Resume`` through the pipeline."""

    def __init__(self, pipeline: PipelineState, updater_logic: UpdaterLogic, stop_plan: GracefulStop) -> None:
        self.pipeline = pipeline
        self._updater_logic = updater_logic
        config = pipeline.config
        updaters = pipeline.runtime.updater_pool_size(config.thread_count)
        self._updater_count = updaters
        if pipeline.client is None:
            pipeline.client = ConductorClient(
                pipeline.worker_settings.configuration, pool_size=config.thread_count + updaters + 2,
                on_request=pipeline.telemetry.request_observer(),
            )
        self.client = pipeline.client
        self._started = False
        self._stopped: StopReport | None = None
        self._stop = stop_plan
        self._sends = _Sends()

    def start(self) -> None:
        """Register the task definition if asked, start every stage; the poller last."""
        if self._started:
            return
        self._started = True
        pipeline = self.pipeline
        config = pipeline.config
        if config.register_task_def:
            register_task_definition(self.client, pipeline.bound.worker, config)
        name = pipeline.task_type
        retries: dict = {}  # shared by the updater pool members, so a flush finds every pending retry
        logic = self._updater_logic
        guardian = pipeline.start_guardian()
        sends = self._sends
        pipeline.updater = ActorPool.start(
            lambda: SyncUpdater(pipeline, logic, retries, sends), self._updater_count,
            name=f"{name}-updater", owner=guardian,
        )
        pipeline.executor = ActorPool.start(
            lambda: SyncExecutor(pipeline, logic, sends), config.thread_count, name=f"{name}-executor", owner=guardian
        )
        if config.lease_extend_enabled:
            pipeline.leases = SyncLeaseKeeper.start(pipeline, name=f"{name}-leases", owner=guardian)
        if pipeline.on_ready is not None:
            pipeline.on_ready(pipeline)
        pipeline.poller = SyncPoller.start(pipeline, name=f"{name}-poller", owner=guardian, timers=pipeline.poll_timers)
        _log.info(
            "Created TaskRunner for sync worker: %s (%d executor threads, %d updater threads)",
            name, config.thread_count, self._updater_count,
        )

    def hurry(self, grace: float, flush: float) -> None:
        """Shorten a stop in progress (a second signal): running tasks get at most ``grace`` more
        seconds, results at most ``flush``. Any thread."""
        self._stop.hurry(grace, flush)
        self.pipeline.ledger.interrupt()

    def _wait(self, deadline: Callable[[], float], *states: TaskState) -> bool:
        """Until no task is in ``states`` or ``deadline()`` (re-read when hurried) passes."""
        while True:
            outcome = self.pipeline.ledger.wait_until_none(*states, timeout=max(0.0, deadline() - time.monotonic()))
            if outcome is not None:
                return outcome

    def stop(self, grace: float | None = None, flush: float | None = None) -> StopReport:
        """Stop gracefully (see ``GracefulStop``); blocks for at most about ``grace + flush`` seconds
        plus the time a poll in flight needs to finish. Idempotent: a second call returns the first
        report."""
        if self._stopped is not None:
            return self._stopped
        pipeline = self.pipeline
        stop = self._stop
        stop.begin(pipeline, grace, flush)
        if pipeline.poller is not None:
            try:
                pipeline.poller.stop(timeout=stop.poller_stop_timeout(pipeline))
            except TimeoutError:
                _log.warning("the %s poller did not stop in time", pipeline.task_type)
        self._wait(stop.grace_deadline, TaskState.RECEIVED, TaskState.RUNNING)
        running = stop.hand_back_unfinished(pipeline)
        clean = self._wait(stop.flush_deadline)
        stop.journal_unsent(pipeline)
        self.client.close()  # the lean transport aborts calls still in flight: no send outlives the stop
        for ref in (pipeline.poller, pipeline.leases, pipeline.executor, pipeline.updater, pipeline.guardian):
            if ref is not None:
                ref.stop(block=False)
        # Executor threads are not joined (one may run a task past its hand-back); their sends are
        # waited for instead.
        if not self._sends.wait_none(timeout=2):
            _log.warning(
                "stopping %s while a result is still being sent, 2 s after its connections were closed",
                pipeline.task_type,
            )
        for ref in (pipeline.updater, pipeline.leases):
            if ref is not None and not ref.join(timeout=2):
                _log.warning("%s did not finish its last send in time", ref.name)
        self._stopped = stop.report(pipeline, running, clean)
        return self._stopped
