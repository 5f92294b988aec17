"""The async flavour's stages: asyncio actors on one event loop, HTTP via ``httpx.AsyncClient``.

- ``AsyncPoller`` awaits batch polls for exactly the free slots.
- ``AsyncExecutor`` starts one coroutine per task (at most ``thread_count`` at once, by the slots)
  and never touches the network; a task that outlives its response timeout without lease extension
  is cancelled and reported FAILED.
- ``AsyncUpdater`` sends results concurrently (one coroutine each); a retry is a timer message.
- ``AsyncLeaseKeeper`` extends leases on timers.

Everything runs on the pipeline's event loop. Each class only awaits its I/O; the rest is the
shared behaviour in ``_stages``. Coroutines are held in sets so none is garbage-collected mid-flight.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from ..actors import AsyncioActor
from ..client import Task
from ..worker import ExecutionOutcome, execute_async, failed_outcome
from ._core import overdue_result
from ._messages import CancelRunning, CancelSends, Execute, Report
from ._stages import ExecutorBehaviour, LeaseBehaviour, PollerBehaviour, UpdaterBehaviour
from ._wiring import Wiring

__all__ = ["AsyncExecutor", "AsyncLeaseKeeper", "AsyncPoller", "AsyncUpdater"]

_log = logging.getLogger("conductor_actors.runtime")


class AsyncPoller(PollerBehaviour, AsyncioActor):
    """Awaits one poll at a time; other messages wait until it answers."""

    async def on_receive(self, message: Any) -> None:
        count = self.handle(message)
        if not count:
            return
        w = self.w
        self.poll_started(count)
        started = time.perf_counter()
        try:
            tasks = await w.client.batch_poll(
                w.task_type, count=count, timeout_ms=w.config.poll_timeout,
                worker_id=w.worker_id, domain=w.config.domain,
            )
        except Exception as exc:
            self.poll_failed(exc, time.perf_counter() - started)
        else:
            self.polled(tasks, time.perf_counter() - started)


class AsyncExecutor(ExecutorBehaviour, AsyncioActor):
    """Starts a coroutine per task; the slots bound how many run at once."""

    def __init__(self, w: Wiring) -> None:
        super().__init__(w)
        self.running: dict[str, asyncio.Task[None]] = {}
        self.overdue: set[str] = set()
        rto_cancel = w.settings.cancel_overdue_async_tasks and not w.config.lease_extend_enabled
        self._cancel_overdue = rto_cancel

    def on_receive(self, message: Any) -> None:
        if isinstance(message, Execute):
            task = message.task
            if self.begin(task):
                task_id: str = task.task_id  # type: ignore[assignment]
                coroutine = asyncio.get_running_loop().create_task(self._run(task))
                self.running[task_id] = coroutine
                coroutine.add_done_callback(lambda _: self.running.pop(task_id, None))
        elif isinstance(message, CancelRunning):
            for coroutine in list(self.running.values()):
                coroutine.cancel()

    async def _run(self, task: Task) -> None:
        w = self.w
        timeout = float(task.response_timeout_seconds or 0) if self._cancel_overdue else 0.0
        # One loop timer cancels an overdue task's coroutine (asyncio.wait_for would wrap every
        # execution in an extra task, a cost paid by every task for the rare overdue one).
        timer = None
        if timeout > 0:
            task_id: str = task.task_id  # type: ignore[assignment]  # checked when the task arrived
            timer = asyncio.get_running_loop().call_later(timeout, self._expire, task_id, asyncio.current_task())
        try:
            outcome = await execute_async(w.bound, task, w.shutting_down.is_set)
        except asyncio.CancelledError as exc:
            if task.task_id in self.overdue:
                self.overdue.discard(task.task_id)
                outcome = self._overdue(task, timeout)
            elif w.shutting_down.is_set():
                return  # the shutdown deadline: the task was handed back before it was cancelled
            else:  # not the runtime's: raised by the task's code (Python 3.10 cannot tell it apart)
                outcome = failed_outcome(w.bound, task, exc, w.shutting_down.is_set)
        finally:
            if timer is not None:
                timer.cancel()
        self.finish(task, outcome)

    def _expire(self, task_id: str, coroutine: asyncio.Task[Any] | None) -> None:
        """On the loop, when a task has run for its response timeout: cancel it (reported overdue)."""
        if coroutine is not None and not coroutine.done():
            self.overdue.add(task_id)
            coroutine.cancel()

    def _overdue(self, task: Task, timeout: float) -> ExecutionOutcome:
        w = self.w
        _log.warning(
            "%s ran longer than its responseTimeoutSeconds (%g s) without lease extension and was cancelled; "
            "the server gives it to another worker",
            w.describe(task), timeout,
        )
        result = overdue_result(task, w.worker_id, timeout)
        cause = TimeoutError(result.reason_for_incompletion)
        return ExecutionOutcome(result, True, cause, len(json.dumps(result.output_data)), timeout)


class AsyncUpdater(UpdaterBehaviour, AsyncioActor):
    """Sends each result in its own coroutine, so updates run concurrently."""

    def __init__(self, w: Wiring, retries: dict[int, Any]) -> None:
        super().__init__(w, retries)
        self.sending: set[asyncio.Task[None]] = set()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, CancelSends):
            return _cancel_all(self.sending)
        report = self.handle(message)
        if report is not None:
            coroutine = asyncio.get_running_loop().create_task(self._send(report))
            self.sending.add(coroutine)
            coroutine.add_done_callback(self.sending.discard)
        return None

    async def _send(self, report: Report | None) -> None:
        client = self.w.client
        while report is not None:
            use_v2 = self.uses_v2(report)
            started = time.perf_counter()
            try:
                if use_v2:
                    next_task = await client.update_task_v2(report.result)
                else:
                    await client.update_task(report.result)
                    next_task = None
            except Exception as exc:
                report = self.send_failed(report, exc, time.perf_counter() - started, sent_v2=use_v2)
            else:
                self.sent(report, next_task, time.perf_counter() - started)
                report = None


class AsyncLeaseKeeper(LeaseBehaviour, AsyncioActor):
    """Sends each lease extension in its own coroutine."""

    def __init__(self, w: Wiring) -> None:
        super().__init__(w)
        self.sending: set[asyncio.Task[None]] = set()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, CancelSends):
            return _cancel_all(self.sending)
        due = self.handle(message)
        if due is not None:
            coroutine = asyncio.get_running_loop().create_task(self._extend(*due))
            self.sending.add(coroutine)
            coroutine.add_done_callback(self.sending.discard)
        return None

    async def _extend(self, task: Task, extension: Any) -> None:
        try:
            await self.w.client.update_task(extension)
        except Exception as exc:
            self.extended(task, exc)
        else:
            self.extended(task, None)


def _cancel_all(coroutines: set[asyncio.Task[None]]) -> list[asyncio.Task[None]]:
    """Cancel every coroutine in ``coroutines``; the caller awaits the returned ones."""
    pending = list(coroutines)
    for coroutine in pending:
        coroutine.cancel()
    return pending
