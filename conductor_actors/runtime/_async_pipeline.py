"""``AsyncPipeline``: one ``async def`` worker running on an event loop in the current process.

``start``/``stop`` are coroutines and must run on the loop the pipeline lives on; ``pause``/
``resume`` may be called from any thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..client import Configuration
from ..worker import register_task_definition_async
from ._async_stages import AsyncExecutor, AsyncLeaseKeeper, AsyncPoller, AsyncUpdater
from ._ledger import TaskState
from ._messages import CancelRunning, CancelSends, Pause, Resume
from ._pipeline_parts import PipelineParts
from ._shutdown import GracefulStop, StopReport, journal_unsent
from ._wiring import Wiring, tell_quietly

__all__ = ["AsyncPipeline"]

_log = logging.getLogger("conductor_actors.runtime")


class AsyncPipeline:
    """A running async worker: ``await start()``, then ``pause()``/``resume()``, then ``await stop()``."""

    flavour = "async"

    def __init__(self, parts: PipelineParts, configuration: Configuration) -> None:
        self.parts = parts
        self.configuration = configuration
        self.client = parts.client
        self.w: Wiring | None = None
        self._changed: asyncio.Event | None = None
        self._guardian: Any = None
        self._stop = GracefulStop()
        self._started = False
        self._stopped: StopReport | None = None

    async def start(self) -> None:
        """Build the client on this loop, register the task definition if asked, start the stages."""
        if self._started:
            return
        self._started = True
        config = self.parts.config
        if self.client is None:
            from ..client import AsyncConductorClient

            self.client = AsyncConductorClient(
                self.configuration, pool_size=config.thread_count * 2 + 2, on_request=self.parts.request_observer()
            )
        w = self.w = self.parts.wiring(self.client)
        self._changed = asyncio.Event()
        w.ledger.on_change = self._changed.set  # every ledger change happens on this loop
        if config.register_task_def:
            await register_task_definition_async(self.client, self.parts.worker, config)
        name = w.task_type
        self._guardian = guardian = self.parts.start_guardian()
        w.updater = AsyncUpdater.start(w, {}, name=f"{name}-updater", owner=guardian)
        w.executor = AsyncExecutor.start(w, name=f"{name}-executor", owner=guardian)
        if config.lease_extend_enabled:
            w.leases = AsyncLeaseKeeper.start(w, name=f"{name}-leases", owner=guardian)
        if self.parts.on_ready is not None:
            self.parts.on_ready(w)
        w.poller = AsyncPoller.start(w, name=f"{name}-poller", owner=guardian, timers=w.poll_timers)
        _log.info("Created AsyncTaskRunner for async worker: %s (up to %d concurrent tasks)", name, config.thread_count)

    def pause(self) -> None:
        if self.w is not None:
            tell_quietly(self.w.poller, Pause())
            tell_quietly(self.w.updater, Pause())

    def resume(self) -> None:
        if self.w is not None:
            tell_quietly(self.w.poller, Resume())
            tell_quietly(self.w.updater, Resume())

    def hurry(self, grace: float, flush: float) -> None:
        """Shorten a stop in progress (a second signal); runs on the loop (``call_soon_threadsafe``)."""
        self._stop.hurry(grace, flush)
        if self._changed is not None:
            self._changed.set()

    async def _wait_ledger(self, *states: TaskState, deadline: Any) -> bool:
        """Wait (without blocking the loop) until no task is in ``states``; False once ``deadline()``
        (monotonic, re-read on every wake so that ``hurry`` shortens it) has passed."""
        assert self.w is not None and self._changed is not None
        while self.w.ledger.count(*states):
            remaining = deadline() - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        return True

    async def stop(self, grace: float | None = None, flush: float | None = None) -> StopReport:
        """Stop gracefully (see ``_shutdown``); idempotent."""
        if self._stopped is not None:
            return self._stopped
        w = self.w
        if w is None:  # never started
            self._stopped = StopReport(0, 0, 0, True, 0.0)
            return self._stopped
        stop = self._stop
        stop.begin(w, grace, flush)
        try:  # a poll in flight finishes first (never cancelled: the server may be sending tasks)
            await w.poller.stop_async(  # type: ignore[union-attr]
                timeout=self.parts.config.poll_timeout_seconds + self.configuration.read_timeout + 1
            )
        except TimeoutError:
            _log.warning("the %s poller did not stop in time", w.task_type)
        await self._wait_ledger(TaskState.RECEIVED, TaskState.RUNNING, deadline=stop.grace_deadline)
        running = stop.hand_back_unfinished(w)
        tell_quietly(w.executor, CancelRunning())
        clean = await self._wait_ledger(deadline=stop.flush_deadline)
        journal_unsent(w)
        for ref in (w.updater, w.leases):  # no send may outlive the stop
            if ref is not None:
                try:
                    pending = await ref.ask_async(CancelSends(), timeout=5)
                except Exception as exc:  # a stage that already failed has nothing in flight
                    _log.debug("could not cancel the sends of %s: %s", ref.name, exc)
                    continue
                await asyncio.gather(*pending, return_exceptions=True)
        for ref in (w.leases, w.executor, w.updater, self._guardian):
            if ref is not None:
                ref.stop(block=False)
        await self.client.aclose()
        self._stopped = stop.report(w, running, clean)
        return self._stopped
