"""``AsyncPipeline``: one ``async def`` worker running on an event loop in the current process.

``start``/``stop`` are coroutines and must run on the loop the pipeline lives on; ``pause``/
``resume`` may be called from any thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..client._config import Configuration
from ..worker import register_task_definition_async
from ._async_stages import AsyncExecutor, AsyncLeaseKeeper, AsyncPoller, AsyncUpdater
from ._ledger import TaskState
from ._messages import CancelRunning, Flush, Pause, Resume, StopPolling
from ._pipeline_parts import PipelineParts
from ._shutdown import StopReport, claim_unfinished, journal_unsent
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
        self._started = False
        self._stopped: StopReport | None = None

    async def start(self) -> None:
        """Build the client on this loop, register the task definition if asked, start the stages."""
        if self._started:
            return
        self._started = True
        config = self.parts.config
        if self.client is None:
            from ..client._async import AsyncConductorClient

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
        w.poller = AsyncPoller.start(w, name=f"{name}-poller", owner=guardian)
        _log.info("Created AsyncTaskRunner for async worker: %s (up to %d concurrent tasks)", name, config.thread_count)

    def pause(self) -> None:
        if self.w is not None:
            tell_quietly(self.w.poller, Pause())

    def resume(self) -> None:
        if self.w is not None:
            tell_quietly(self.w.poller, Resume())

    async def _wait_ledger(self, *states: TaskState, timeout: float) -> bool:
        """Wait (without blocking the loop) until no task is in ``states``; False on timeout."""
        assert self.w is not None and self._changed is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.w.ledger.count(*states):
            remaining = deadline - loop.time()
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
        settings = self.parts.settings
        grace = settings.shutdown_grace if grace is None else grace
        flush = settings.shutdown_flush if flush is None else flush
        began = time.monotonic()
        w.shutting_down.set()
        w.updater_logic.draining = True
        tell_quietly(w.poller, StopPolling())
        try:  # a poll in flight finishes first (never cancelled: the server may be sending tasks)
            await w.poller.stop_async(  # type: ignore[union-attr]
                timeout=self.parts.config.poll_timeout_seconds + self.configuration.read_timeout + 1
            )
        except TimeoutError:
            _log.warning("the %s poller did not stop in time", w.task_type)
        remaining_grace = max(0.0, began + grace - time.monotonic())
        await self._wait_ledger(TaskState.RECEIVED, TaskState.RUNNING, timeout=remaining_grace)
        reports, running = claim_unfinished(w)
        tell_quietly(w.executor, CancelRunning())
        for report in reports:
            tell_quietly(w.updater, report)
        tell_quietly(w.updater, Flush())
        clean = await self._wait_ledger(timeout=flush) and not running
        undelivered = journal_unsent(w)
        for ref in (w.leases, w.executor, w.updater, self._guardian):
            if ref is not None:
                ref.stop(block=False)
        await self.client.aclose()
        self._stopped = StopReport(
            handed_back=len(reports), abandoned=len(running), undelivered=undelivered,
            clean=clean and not undelivered, seconds=time.monotonic() - began,
        )
        _log.info("worker %s stopped: %s", w.task_type, self._stopped)
        return self._stopped
