"""``PipelineParts``: what either flavour's pipeline is built from (a worker, its configuration,
the runtime settings and where events, metrics and undeliverable results go)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..actors import TimerService
from ..client import TaskResult
from ..events import TaskRunnerEvent
from ..metrics import MetricsAccumulator
from ..settings import RuntimeSettings
from ..worker import BoundWorker, WorkerConfig, WorkerInterface
from ._telemetry import Telemetry
from ._wiring import UndeliverableSink, Wiring

__all__ = ["PipelineParts"]

_log = logging.getLogger("conductor_actors.runtime")


def _log_undeliverable(task_type: str, result: TaskResult, cause: BaseException, attempts: int) -> None:
    _log.error(
        "the result of %s task %s (workflow %s) could not be delivered (%s) and no recovery is configured; "
        "the server will time the task out and retry it",
        task_type, result.task_id, result.workflow_instance_id, cause,
    )


@dataclass
class PipelineParts:
    """Inputs of one worker's pipeline in this process.

    Attributes:
        worker: the worker (function ``Worker`` or a ``WorkerInterface``).
        config: its resolved configuration.
        settings: runtime knobs.
        listeners: in-process event listeners.
        forward / forward_types: where events parent-side actors subscribed to go.
        metrics: the process's metrics accumulator (None = no metrics).
        undeliverable: receives results whose update failed finally with a transient error
            (default: an ERROR log line).
        client: an already built client (the transport seam for tests); default: built from the
            configuration by the pipeline.
        on_stage_failure: called (on the guardian's thread) with the stage name and the exception when
            a stage actor fails; default: logged at CRITICAL.
        on_task_limit: called once (on an executor thread or the loop) when ``settings.max_tasks``
            tasks have run or the memory is over ``settings.max_rss_mb`` after a task, with the reason.
        on_ready: called with the wiring once every stage but the poller runs, just before the
            poller starts (no task can have run yet); it may block briefly.
        poll_timers: the poller's timer service, whose clock its schedule is measured on (tests
            pass a ``ManualTimerService`` to check the poll spacing without waiting); default: the
            flavour's own timers and ``time.monotonic``.
    """

    worker: WorkerInterface
    config: WorkerConfig
    settings: RuntimeSettings = field(default_factory=RuntimeSettings)
    listeners: Sequence[object] = ()
    forward: Callable[[TaskRunnerEvent], None] | None = None
    forward_types: Sequence[type[TaskRunnerEvent]] = ()
    metrics: MetricsAccumulator | None = None
    undeliverable: UndeliverableSink | None = None
    client: Any = None
    on_stage_failure: Callable[[str, BaseException], None] | None = None
    on_task_limit: Callable[[str], None] | None = None
    on_ready: Callable[[Wiring], None] | None = None
    poll_timers: TimerService | None = None

    def start_guardian(self) -> Any:
        """The owner of the stage actors (see ``_guardian``)."""
        from ._guardian import StageGuardian

        callback = self.on_stage_failure or (lambda stage, exc: None)
        return StageGuardian.start(callback, name=f"{self.config.task_definition_name}-guardian")

    def request_observer(self) -> Callable[[str, str, int, float], None] | None:
        """The client's ``on_request`` hook feeding ``http_api_client_request_seconds`` (None without metrics)."""
        metrics = self.metrics
        if metrics is None:
            return None

        def observe(method: str, uri: str, status: int, seconds: float) -> None:
            metrics.observe("http_api_client_request_seconds", (method, uri, str(status)), seconds)

        return observe

    def wiring(self, client: Any) -> Wiring:
        """Bind the worker for this process and build the shared wiring around ``client``."""
        worker_id = self.config.effective_worker_id()
        bound = BoundWorker(self.worker, worker_id)
        telemetry = Telemetry(
            self.config.task_definition_name, worker_id,
            listeners=self.listeners, forward=self.forward, forward_types=self.forward_types,
            metrics=self.metrics,
        )
        _log.info("%s", self.config.oneline(os.getpid()))
        wiring = Wiring(
            bound=bound, config=self.config, settings=self.settings, client=client,
            telemetry=telemetry, undeliverable=self.undeliverable or _log_undeliverable,
            poll_timers=self.poll_timers,
        )
        wiring.on_task_limit = self.on_task_limit
        return wiring
