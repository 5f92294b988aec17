"""The async flavour: one ``async def`` worker on one event loop, ``AsyncPipeline`` and its stage
shells.

- ``AsyncPoller`` awaits batch polls for exactly the free slots.
- ``AsyncExecutor`` starts a coroutine per task a poll brings (at most ``thread_count`` at once, by
  the slots); that coroutine sends the result's first attempt and runs the task update-v2 chains to
  it, as a sync executor thread does. A task that outlives its response timeout without lease
  extension is cancelled and reported FAILED.
- ``AsyncUpdater`` sends retries, hand-backs and the failures of undecodable tasks concurrently (one
  coroutine each); a retry is a timer message.
- ``AsyncLeaseKeeper`` extends leases on timers.

Why the task's coroutine sends: handing the result to the updater cost a message and a new
coroutine for the send, and the chained task came back the same way, as a message and a new
coroutine. Sending in place and going on with the chained task made noop tasks about 25% faster
and 50 ms sleeps at 1,000 coroutines about 10% (measured on a 2-core Linux machine). Each task
still sees what a coroutine of its own would: the executor's context (a task whose code left a
context variable set hands its chained task to a new coroutine) and no cancellation the runtime
requested for the task before it. A stop cancels only what runs a task (``running``), never a
send; the sends left after the flush deadline are cancelled with ``CancelSends``.

Everything runs on the pipeline's event loop. Each stage class only awaits its I/O; every decision
is in the behaviour it inherits (``_poll``, ``_execute``, ``_update``). Coroutines are held in sets
so none is garbage-collected mid-flight. ``AsyncPipeline.start``/``stop`` are coroutines and must
run on the loop the pipeline lives on; ``pause``/``resume`` may be called from any thread. An
exception a stage raises is a runtime bug: its actor fails and the stage guardian reports it.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from ..actors import AsyncioActor, LoopDeadlines
from ..client import AsyncConductorClient
from ..worker import ExecutionOutcome, execute_async, failed_outcome, register_task_definition_async
from ._execute import ExecutorBehaviour, LeaseBehaviour, overdue_result
from ._messages import CancelRunning, CancelSends, Execute, Report, Retry, ValidTask
from ._pipeline import PipelineState, TaskState, tell_quietly
from ._poll import PollerBehaviour
from ._stop import GracefulStop, StopReport
from ._update import ResultSender, UpdaterBehaviour, UpdaterLogic

__all__ = ["AsyncExecutor", "AsyncLeaseKeeper", "AsyncPipeline", "AsyncPoller", "AsyncUpdater"]

_log = logging.getLogger("conductor_actors.runtime")


class AsyncPoller(PollerBehaviour, AsyncioActor):
    """Awaits one poll at a time; other messages wait until it answers."""

    async def on_receive(self, message: Any) -> None:
        count = self.handle(message)
        if not count:
            return
        started = time.perf_counter()
        try:
            tasks = await self.pipeline.client.batch_poll(self.pipeline.task_type, count=count, **self.poll_options)
        except Exception as exc:
            self.poll_failed(exc, started)
        else:
            self.polled(tasks, started)


async def _send(
    sender: ResultSender, client: AsyncConductorClient, report: Report
) -> tuple[ValidTask | None, Retry | None]:
    """Send ``report`` on the loop (again at once over v1 when the server says so) until it is
    accepted, given up, or must wait for a retry; as the sync flavour's ``_send``. Returns the task
    update-v2 chained (recorded as received) and the ``Retry`` to schedule, at most one of them."""
    while True:
        use_v2, started = sender.begin_send(report)
        try:
            if use_v2:
                next_task = await client.update_task_v2(report.result)
            else:
                await client.update_task(report.result)
                next_task = None
        except Exception as exc:
            outcome = sender.failed(report, exc, started, sent_v2=use_v2)
            if isinstance(outcome, Report):
                report = outcome
                continue
            return None, outcome
        return sender.accepted(report, next_task, started), None


def _uncancel() -> None:
    """Withdraw one cancellation request of the current coroutine, once it was handled (Python 3.11+;
    3.10 keeps no count)."""
    current = asyncio.current_task()
    uncancel = getattr(current, "uncancel", None)
    if uncancel is not None:
        uncancel()


class _Sending:
    """What the async executor, updater and lease keeper share: each send (for the executor, each
    task with its sends) runs in its own coroutine, kept until it ends; ``CancelSends`` cancels them
    and answers with them (the pipeline awaits them)."""

    def _init_sending(self) -> None:
        self.sending: set[asyncio.Task[Any]] = set()

    def _spawn(self, send: Any) -> asyncio.Task[Any]:
        """Run ``send`` in its own coroutine; the coroutine calls ``_sent()`` as it ends."""
        coroutine = asyncio.get_running_loop().create_task(send)
        self.sending.add(coroutine)
        return coroutine

    def _sent(self) -> None:
        """Called by each coroutine of ``_spawn`` as it ends (no done callback: that would cost one
        more loop callback per send)."""
        try:
            current = asyncio.current_task()
        except RuntimeError:  # the loop is gone (the coroutine is being collected): nothing to do
            return
        if current is not None:
            self.sending.discard(current)

    def _cancel_all(self) -> list[asyncio.Task[Any]]:
        pending = list(self.sending)
        # Cleared here too: a send cancelled before it ever ran never reaches its own ``_sent``.
        self.sending.clear()
        for coroutine in pending:
            coroutine.cancel()
        return pending


class AsyncExecutor(_Sending, ExecutorBehaviour, AsyncioActor):
    """Starts a coroutine per task; the slots bound how many run at once. That coroutine sends the
    result's first attempt and runs the task update-v2 chains to it (the module says why)."""

    def __init__(self, pipeline: PipelineState, logic: UpdaterLogic) -> None:
        super().__init__(pipeline)
        self._init_sending()
        self._sender = ResultSender(pipeline, logic)
        self.running: dict[str, asyncio.Task[Any]] = {}  # the coroutines running a task (not sending)
        self.overdue: set[str] = set()
        self._cancel_overdue = pipeline.runtime.cancel_overdue_async_tasks and not pipeline.config.lease_extend_enabled
        self._deadlines: LoopDeadlines[str] | None = None  # made on the loop, on the first task with a timeout
        self._context: contextvars.Context | None = None  # the executor's own, taken on the loop by on_start

    def on_start(self) -> None:
        self._context = contextvars.copy_context()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Execute):
            self._start(message.task)
        elif isinstance(message, CancelRunning):
            for coroutine in list(self.running.values()):
                coroutine.cancel()
        elif isinstance(message, CancelSends):
            # Only the sends: a coroutine still running a task after CancelRunning is code that holds
            # off cancellation, which the stop must not wait for (its task was handed back).
            running = set(self.running.values())
            return [coroutine for coroutine in self._cancel_all() if coroutine not in running]
        return None

    def _start(self, task: ValidTask) -> None:
        """On the loop, in the executor's own context: claim ``task`` and start a coroutine for it."""
        if self.begin(task):
            # Running from now: a CancelRunning must reach it even before its first step.
            self.running[task.task_id] = self._spawn(self._run(task))

    async def _run(self, task: ValidTask) -> None:
        """Run ``task`` (claimed by ``begin``), send its result's first attempt, and go on with the
        task update-v2 chains to it, if any."""
        current = asyncio.current_task()
        assert current is not None  # a coroutine of this loop
        fresh = contextvars.copy_context()  # this coroutine's context before any task ran
        try:
            # One task at a time in ``_step``'s frame: a result (and its output) is freed once sent,
            # not held while the next task runs.
            chained = await self._step(task, current)
            while chained is not None:
                if contextvars.copy_context() != fresh:
                    # The task's code left context variables set: the chained task gets a coroutine
                    # and a fresh context of its own, as a task a poll brought does. (Comparing is
                    # cheap: a context is an immutable map, unchanged in the usual case.)
                    asyncio.get_running_loop().call_soon(self._start, chained, context=self._context)
                    return
                if not self.begin(chained):
                    return
                chained = await self._step(chained, current)
        finally:
            self._sent()

    async def _step(self, task: ValidTask, current: asyncio.Task[Any]) -> ValidTask | None:
        """Run ``task`` (claimed by ``begin``) on ``current`` and send its result's first attempt; the
        task update-v2 chained to it (recorded as received), or None."""
        self.running[task.task_id] = current
        report = await self._execute(task)
        if report is None:
            return None
        chained, retry = await _send(self._sender, self.pipeline.client, report)
        if retry is not None:
            tell_quietly(self.pipeline.updater, retry)  # the updater keeps every pending retry
        return chained

    async def _execute(self, task: ValidTask) -> Report | None:
        """Run ``task`` (claimed by ``begin``); the report to send, or None when there is none (handed
        back at the shutdown deadline)."""
        pipeline = self.pipeline
        task_id = task.task_id
        timeout = float(task.response_timeout_seconds or 0) if self._cancel_overdue else 0.0
        # An overdue task's coroutine is cancelled by a deadline behind one loop timer for all
        # tasks (asyncio.wait_for would wrap every execution in an extra task, and a call_later
        # each costs a timer per task, for the rare overdue one).
        deadlines = None
        if timeout > 0:
            deadlines = self._deadlines
            if deadlines is None:
                deadlines = self._deadlines = LoopDeadlines(asyncio.get_running_loop(), self._expire)
            deadlines.add(task_id, timeout)
        try:
            outcome = await execute_async(pipeline.bound, task, pipeline.shutting_down.is_set)
        except asyncio.CancelledError as exc:
            if task_id in self.overdue:
                outcome = self._overdue(task, timeout)
            elif pipeline.shutting_down.is_set():
                return None  # the shutdown deadline: the task was handed back before it was cancelled
            else:  # not the runtime's: raised by the task's code (Python 3.10 cannot tell it apart)
                outcome = failed_outcome(pipeline.bound, task, exc, pipeline.shutting_down.is_set)
        finally:
            if deadlines is not None:
                deadlines.discard(task_id)
            self.running.pop(task_id, None)
            if task_id in self.overdue:
                # The runtime's cancel is handled (or was swallowed by the task's code): withdrawn, so
                # that the send and the tasks this coroutine runs next do not see it.
                self.overdue.discard(task_id)
                _uncancel()
        return self.finish(task, outcome)

    def on_stop(self) -> None:
        if self._deadlines is not None:
            self._deadlines.close()  # its timer would keep this stage alive until the last deadline

    def _expire(self, task_id: str) -> None:
        """On the loop, when a task has run for its response timeout: cancel it (reported overdue)."""
        coroutine = self.running.get(task_id)
        if coroutine is not None and not coroutine.done():
            self.overdue.add(task_id)
            coroutine.cancel()

    def _overdue(self, task: ValidTask, timeout: float) -> ExecutionOutcome:
        pipeline = self.pipeline
        _log.warning(
            "%s ran longer than its responseTimeoutSeconds (%g s) without lease extension and was cancelled; "
            "the server gives it to another worker",
            pipeline.describe(task), timeout,
        )
        result = overdue_result(task, pipeline.worker_id, timeout)
        cause = TimeoutError(result.reason_for_incompletion)
        return ExecutionOutcome(result, True, cause, len(json.dumps(result.output_data)), timeout)


class AsyncUpdater(_Sending, UpdaterBehaviour, AsyncioActor):
    """Sends each retry, hand-back and failure in its own coroutine, so they run concurrently."""

    def __init__(self, pipeline: PipelineState, logic: UpdaterLogic, retries: dict[int, Any]) -> None:
        super().__init__(pipeline, logic, retries)
        self._init_sending()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, CancelSends):
            return self._cancel_all()
        report = self.handle(message)
        if report is not None:
            self._spawn(self._send_retry(report))
        return None

    async def _send_retry(self, report: Report) -> None:
        """Send ``report`` and do what its outcome leaves (see ``after_send``)."""
        try:
            self.after_send(*await _send(self, self.pipeline.client, report))
        finally:
            self._sent()


class AsyncLeaseKeeper(_Sending, LeaseBehaviour, AsyncioActor):
    """Sends each lease extension in its own coroutine."""

    def __init__(self, pipeline: PipelineState) -> None:
        super().__init__(pipeline)
        self._init_sending()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, CancelSends):
            return self._cancel_all()
        due = self.handle(message)
        if due is not None:
            self._spawn(self._extend(*due))
        return None

    async def _extend(self, task: ValidTask, extension: Any) -> None:
        try:
            await self.pipeline.client.update_task(extension)
        except Exception as exc:
            self.extended(task, exc)
        else:
            self.extended(task, None)
        finally:
            self._sent()


class AsyncPipeline:
    """A running async worker over ``pipeline``: ``await start()``, then ``await stop()`` once. As
    ``SyncPipeline``, except that a client not given is built on the loop by ``start``."""

    def __init__(self, pipeline: PipelineState, updater_logic: UpdaterLogic, stop_plan: GracefulStop) -> None:
        self.pipeline = pipeline
        self._updater_logic = updater_logic
        self._changed: asyncio.Event | None = None
        self._stop = stop_plan
        self._started = False
        self._stopped: StopReport | None = None

    async def start(self) -> None:
        """Build the client on this loop, register the task definition if asked, start the stages."""
        if self._started:
            return
        self._started = True
        pipeline = self.pipeline
        config = pipeline.config
        if pipeline.client is None:
            pipeline.client = AsyncConductorClient(
                pipeline.worker_settings.configuration, pool_size=config.thread_count * 2 + 2,
                on_request=pipeline.telemetry.request_observer(),
            )
        self._changed = asyncio.Event()
        pipeline.ledger.on_change = self._changed.set  # every ledger change happens on this loop
        if config.register_task_def:
            await register_task_definition_async(pipeline.client, pipeline.bound.worker, config)
        name = pipeline.task_type
        guardian = pipeline.start_guardian()
        pipeline.updater = AsyncUpdater.start(pipeline, self._updater_logic, {}, name=f"{name}-updater", owner=guardian)
        pipeline.executor = AsyncExecutor.start(pipeline, self._updater_logic, name=f"{name}-executor", owner=guardian)
        if config.lease_extend_enabled:
            pipeline.leases = AsyncLeaseKeeper.start(pipeline, name=f"{name}-leases", owner=guardian)
        if pipeline.on_ready is not None:
            pipeline.on_ready(pipeline)
        pipeline.poller = AsyncPoller.start(
            pipeline, name=f"{name}-poller", owner=guardian, timers=pipeline.poll_timers
        )
        _log.info("Created AsyncTaskRunner for async worker: %s (up to %d concurrent tasks)", name, config.thread_count)

    def hurry(self, grace: float, flush: float) -> None:
        """Shorten a stop in progress (a second signal); runs on the loop (``call_soon_threadsafe``)."""
        self._stop.hurry(grace, flush)
        if self._changed is not None:
            self._changed.set()

    async def _wait_ledger(self, *states: TaskState, deadline: Callable[[], float]) -> bool:
        """Wait (without blocking the loop) until no task is in ``states``; False once ``deadline()``
        (monotonic, re-read on every wake so that ``hurry`` shortens it) has passed."""
        changed = self._changed
        assert changed is not None  # set by start(), before any stop
        while self.pipeline.ledger.count(*states):
            remaining = deadline() - time.monotonic()
            if remaining <= 0:
                return False
            changed.clear()
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        return True

    async def stop(self, grace: float | None = None, flush: float | None = None) -> StopReport:
        """Stop gracefully (see ``GracefulStop``); idempotent."""
        if self._stopped is not None:
            return self._stopped
        pipeline = self.pipeline
        stop = self._stop
        if self._changed is None:  # never started
            self._stopped = stop.nothing_to_stop()
            return self._stopped
        stop.begin(pipeline, grace, flush)
        if pipeline.poller is not None:
            try:
                await pipeline.poller.stop_async(timeout=stop.poller_stop_timeout(pipeline))
            except TimeoutError:
                _log.warning("the %s poller did not stop in time", pipeline.task_type)
        await self._wait_ledger(TaskState.RECEIVED, TaskState.RUNNING, deadline=stop.grace_deadline)
        running = stop.hand_back_unfinished(pipeline)
        tell_quietly(pipeline.executor, CancelRunning())
        clean = await self._wait_ledger(deadline=stop.flush_deadline)
        stop.journal_unsent(pipeline)
        for ref in (pipeline.executor, pipeline.updater, pipeline.leases):  # no send may outlive the stop
            if ref is not None:
                try:
                    pending = await ref.ask_async(CancelSends(), timeout=5)
                except Exception as exc:  # a stage that already failed has nothing in flight
                    _log.debug("could not cancel the sends of %s: %s", ref.name, exc)
                    continue
                await asyncio.gather(*pending, return_exceptions=True)
        for ref in (pipeline.leases, pipeline.executor, pipeline.updater, pipeline.guardian):
            if ref is not None:
                ref.stop(block=False)
        await pipeline.client.aclose()
        self._stopped = stop.report(pipeline, running, clean)
        return self._stopped
