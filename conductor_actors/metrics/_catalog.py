"""Every metric the runtime exposes: name, type, labels, buckets and meaning.

Names follow the official SDK's canonical set, so existing dashboards and alerts keep working.
Worker processes accumulate observations under these names (``_accumulator``); the parent's
MetricsActor turns the merged state into Prometheus families. Label values are bounded: task types,
HTTP methods, path templates, status words and exception class names, never messages or ids.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["CATALOG", "SIZE_BUCKETS", "TIME_BUCKETS", "MetricKind", "MetricSpec", "spec"]

#: Seconds; the official SDK's canonical buckets.
TIME_BUCKETS: tuple[float, ...] = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Bytes of serialised task output.
SIZE_BUCKETS: tuple[float, ...] = (100.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0, 10_000_000.0)


class MetricKind(enum.Enum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: MetricKind
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = ()
    #: Served as a summary with quantiles too when ``MetricsSettings(quantiles=True)``.
    quantiles: bool = False


_H, _C, _G = MetricKind.HISTOGRAM, MetricKind.COUNTER, MetricKind.GAUGE

CATALOG: tuple[MetricSpec, ...] = (
    MetricSpec("task_poll_time_seconds", _H, ("taskType", "status"),
               "Time of one batch poll, by outcome (SUCCESS or FAILURE).", TIME_BUCKETS, quantiles=True),
    MetricSpec("task_execute_time_seconds", _H, ("taskType", "status"),
               "Time the worker function ran, by outcome (SUCCESS or FAILURE).", TIME_BUCKETS, quantiles=True),
    MetricSpec("task_update_time_seconds", _H, ("taskType", "status"),
               "Time of one result update call, by outcome (SUCCESS or FAILURE).", TIME_BUCKETS, quantiles=True),
    MetricSpec("http_api_client_request_seconds", _H, ("method", "uri", "status"),
               "Conductor API calls by method, path template and HTTP status (0 = no response).", TIME_BUCKETS),
    MetricSpec("task_result_size_bytes", _H, ("taskType",),
               "Size of the serialised task output in bytes.", SIZE_BUCKETS),
    MetricSpec("task_poll_total", _C, ("taskType",), "Batch polls sent."),
    MetricSpec("task_poll_error_total", _C, ("taskType", "exception"), "Batch polls that failed, by error class."),
    MetricSpec("task_execution_started_total", _C, ("taskType",), "Tasks whose worker function started."),
    MetricSpec("task_execute_error_total", _C, ("taskType", "exception"),
               "Tasks whose worker function raised or broke the input/output contract, by error class."),
    MetricSpec("task_update_error_total", _C, ("taskType", "exception"),
               "Result update calls that failed (each attempt), by error class."),
    MetricSpec("task_update_failed_total", _C, ("taskType",),
               "Results that could not be delivered after every attempt (handed to recovery)."),
    MetricSpec("task_handback_total", _C, ("taskType",),
               "Received-but-unstarted tasks returned to the server (shutdown)."),
    MetricSpec("task_lease_extend_total", _C, ("taskType", "status"), "Lease extensions sent, by outcome."),
    MetricSpec("task_in_flight", _G, ("taskType",),
               "Tasks accepted and not yet settled, across the worker's processes."),
    MetricSpec("worker_restart_total", _C, ("taskType",), "Worker processes restarted by the supervisor."),
    MetricSpec("active_workers", _G, ("taskType",), "Worker processes up and polling."),
    MetricSpec("worker_processes", _G, ("taskType", "state"),
               "Worker processes by supervisor state (starting, up, restarting, stopped)."),
    MetricSpec("recovery_journal_entries", _G, ("state",),
               "Results in the outbox journal: pending delivery, or dead (older than the maximum age)."),
    MetricSpec("recovery_deliveries_total", _C, ("outcome",),
               "Outbox delivery attempts by outcome: delivered, finished (already), unknown (task), retry, dead."),
)

_BY_NAME = {s.name: s for s in CATALOG}


def spec(name: str) -> MetricSpec:
    """The spec of metric ``name``; KeyError names an unknown metric."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}") from None
