"""``SyncPipeline``: one ``def`` worker running in the current process on threads.

Builds the stages (poller, executor pool of ``thread_count``, updater pool, lease keeper), starts
them, and stops them gracefully. Every public method is called from one controlling thread (the
child's main thread, or a test); the stages run on their own threads.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..actors import ActorPool
from ..client import Configuration
from ..worker import register_task_definition
from ._ledger import TaskState
from ._messages import Pause, Resume
from ._pipeline_parts import PipelineParts
from ._shutdown import GracefulStop, StopReport, journal_unsent
from ._sync_stages import SyncExecutor, SyncLeaseKeeper, SyncPoller, SyncUpdater
from ._wiring import tell_quietly

__all__ = ["SyncPipeline"]

_log = logging.getLogger("conductor_actors.runtime")


class SyncPipeline:
    """A running sync worker. ``start()``, then ``pause()``/``resume()``, then ``stop()`` once."""

    flavour = "sync"

    def __init__(self, parts: PipelineParts, configuration: Configuration) -> None:
        from ..client import ConductorClient

        self.parts = parts
        config = parts.config
        updaters = parts.settings.updater_pool_size(config.thread_count)
        self._updater_count = updaters
        self.client = parts.client or ConductorClient(
            configuration, pool_size=config.thread_count + updaters + 2, on_request=parts.request_observer()
        )
        self.w = parts.wiring(self.client)
        self._started = False
        self._guardian: Any = None
        self._stopped: StopReport | None = None
        self._stop = GracefulStop()

    def start(self) -> None:
        """Register the task definition if asked, start every stage; the poller last."""
        if self._started:
            return
        self._started = True
        w = self.w
        config = self.parts.config
        if config.register_task_def:
            register_task_definition(self.client, self.parts.worker, config)
        name = w.task_type
        retries: dict = {}  # shared by the updater pool members, so a flush finds every pending retry
        self._guardian = guardian = self.parts.start_guardian()
        w.updater = ActorPool.start(
            lambda: SyncUpdater(w, retries), self._updater_count, name=f"{name}-updater", owner=guardian
        )
        w.executor = ActorPool.start(
            lambda: SyncExecutor(w), config.thread_count, name=f"{name}-executor", owner=guardian
        )
        if config.lease_extend_enabled:
            w.leases = SyncLeaseKeeper.start(w, name=f"{name}-leases", owner=guardian)
        if self.parts.on_ready is not None:
            self.parts.on_ready(w)
        w.poller = SyncPoller.start(w, name=f"{name}-poller", owner=guardian, timers=w.poll_timers)
        _log.info(
            "Created TaskRunner for sync worker: %s (%d executor threads, %d updater threads)",
            name, config.thread_count, self._updater_count,
        )

    def pause(self) -> None:
        tell_quietly(self.w.poller, Pause())
        tell_quietly(self.w.updater, Pause())

    def resume(self) -> None:
        tell_quietly(self.w.poller, Resume())
        tell_quietly(self.w.updater, Resume())

    def hurry(self, grace: float, flush: float) -> None:
        """Shorten a stop in progress (a second signal): running tasks get at most ``grace`` more
        seconds, results at most ``flush``. Any thread."""
        self._stop.hurry(grace, flush)
        self.w.ledger.interrupt()

    def _wait(self, deadline: Any, *states: TaskState) -> bool:
        """Until no task is in ``states`` or ``deadline()`` (re-read when hurried) passes."""
        while True:
            outcome = self.w.ledger.wait_until_none(*states, timeout=max(0.0, deadline() - time.monotonic()))
            if outcome is not None:
                return outcome

    def stop(self, grace: float | None = None, flush: float | None = None) -> StopReport:
        """Stop gracefully (see ``_shutdown``); blocks for at most about ``grace + flush`` seconds plus
        the time a poll in flight needs to finish. Idempotent: a second call returns the first report."""
        if self._stopped is not None:
            return self._stopped
        w = self.w
        stop = self._stop
        stop.begin(w, grace, flush)
        if w.poller is not None:
            longest_poll = self.parts.config.poll_timeout_seconds + self.client.configuration.read_timeout
            try:  # a poll in flight finishes first: its long-poll plus the read timeout at most
                w.poller.stop(timeout=longest_poll + 1)
            except TimeoutError:
                _log.warning("the %s poller did not stop in time", w.task_type)
        self._wait(stop.grace_deadline, TaskState.RECEIVED, TaskState.RUNNING)
        running = stop.hand_back_unfinished(w)
        clean = self._wait(stop.flush_deadline)
        journal_unsent(w)
        self.client.close()  # the lean transport aborts calls still in flight: no send outlives the stop
        for ref in (w.poller, w.leases, w.executor, w.updater, self._guardian):
            if ref is not None:
                ref.stop(block=False)
        for ref in (w.updater, w.leases):
            if ref is not None and not ref.join(timeout=2):
                _log.warning("%s did not finish its last send in time", ref.name)
        self._stopped = stop.report(w, running, clean)
        return self._stopped
