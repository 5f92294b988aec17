"""What a worker process needs to boot: one picklable ``WorkerSettings`` per process.

The parent builds it (worker resolved, configuration validated) and passes it PICKLED, as bytes, to
the child's entry point, so that an import error while unpickling the worker happens inside the
child's own code, is caught, and is reported to the parent as a boot failure (exit code 3) instead
of a traceback from multiprocessing's bootstrap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..client import Configuration
from ..settings import RuntimeSettings

__all__ = [
    "EXIT_BOOT_FAILURE",
    "EXIT_CRASH",
    "EXIT_OK",
    "EXIT_RECYCLE",
    "WorkerSettings",
]

#: Child exit codes (the parent reads them through the process sentinel).
EXIT_OK = 0
EXIT_CRASH = 1  # an unexpected error after Ready (or a second SIGTERM)
EXIT_BOOT_FAILURE = 3  # could not import/build the worker: the parent must not restart it
EXIT_RECYCLE = 4  # stopped itself on purpose (memory or task limit): replace it now, it did not crash


@dataclass(frozen=True)
class WorkerSettings:
    """Everything one worker process needs.

    Attributes:
        key: unique name of this process in the tree, e.g. ``charge_payment`` or
            ``charge_payment[domain=eu]#2``; used in logs and status.
        task_type: the worker's task definition name.
        process_index: 0-based index when a worker runs in several processes.
        worker_payload: the pickled ``Worker`` / ``WorkerInterface`` (re-imports the function by
            module and qualified name when unpickled).
        worker_config: the resolved ``WorkerConfig`` (resolved once, in the parent).
        configuration: the client ``Configuration``.
        runtime: the ``RuntimeSettings``.
        listeners_payload: pickled list of in-process event listeners (``b""`` = none).
        forward_event_types: names of the event classes parent-side actors subscribed to; the
            child forwards exactly those.
        metrics: accumulate metrics and ship them to the parent.
        metric_samples: also ship raw samples for quantile summaries.
        log_level: the logging level for the child's root handler.
        log_format: ``"text"`` or ``"json"`` (one JSON object per line).
        log_tasks: log one line per completed task (``conductor_actors.tasks`` at INFO).
    """

    key: str
    task_type: str
    worker_payload: bytes
    worker_config: object  # conductor_actors.worker.WorkerConfig (kept loose to avoid an import cycle)
    configuration: Configuration
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    process_index: int = 0
    listeners_payload: bytes = b""
    forward_event_types: tuple[str, ...] = ()
    metrics: bool = False
    metric_samples: bool = False
    log_level: int = logging.INFO
    log_format: str = "text"
    log_tasks: bool = False
