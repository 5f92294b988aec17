"""Every metric and what carries it: the catalog, the per-process accumulator and its deltas, the
parent's merged state, and the health and readiness reports.

- The catalog (``CATALOG``): every metric the runtime exposes, with its name, type, labels,
  buckets and meaning. Names follow the official SDK's canonical set, so existing dashboards and
  alerts keep working. Label values are bounded: task types, HTTP methods, path templates, status
  words and exception class names, never messages or ids. Constant data; any thread.
- ``MetricsAccumulator``: a worker process records observations on whatever thread sees them
  (poller, executor threads, updater, or the event loop); the relay drains a ``MetricsDelta``
  every relay interval and ships it over the pipe. Deltas are plain data (tuples, dicts, floats)
  so they pickle cheaply. Thread-safe: one uncontended lock per operation (~0.1 us).
- ``MetricsState``: the merged metrics of every worker process plus the supervisor's own, owned
  by the MetricsActor (one thread). Deltas from children are merged in, and ``families()`` turns
  everything into Prometheus metric families for a scrape or the metrics file. Counters and
  histograms are summed over processes (no pid label); per-process gauges are kept per process and
  summed when exposed. Quantile samples live in a sliding window (bounded in time and count).
- ``health_report`` (``/health``, liveness: the worker processes are alive and beating) and
  ``ready_report`` (``/ready``: they can do their job, every one is up and its polls reach the
  server). Pure functions of ``ChildStatus`` snapshots; any thread. A process is ready when its
  polling is paused on purpose (it is not failing), or a poll of its current process succeeded
  and its polls have not been failing for longer than ``READY_WINDOW`` seconds since the last one
  that succeeded. A worker whose slots are all busy does not poll, and stays ready while its last
  poll succeeded. A wrong server URL or refused credentials keep it not ready from the start (no
  poll ever succeeds); a server that goes away makes it not ready ``READY_WINDOW`` seconds after
  the last good poll. What a worker process reports arrives with its heartbeats
  (``heartbeat_interval``), so ``/ready`` follows a change within about one heartbeat.

Worker processes import this module for the accumulator, so it never loads ``prometheus_client``
at import: only ``MetricsState.families()``, in a parent with metrics on, does.
"""

from __future__ import annotations

import bisect
import enum
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from prometheus_client.core import HistogramMetricFamily, Metric

__all__ = [
    "CATALOG",
    "QUANTILES",
    "READY_WINDOW",
    "SIZE_BUCKETS",
    "TIME_BUCKETS",
    "ChildView",
    "MetricKind",
    "MetricSpec",
    "MetricsAccumulator",
    "MetricsDelta",
    "MetricsState",
    "SeriesKey",
    "health_report",
    "ready_report",
    "spec",
]

# -- the catalog ----------------------------------------------------------------------------------

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


# -- one worker process: the accumulator ----------------------------------------------------------

#: (metric name, label values in the catalog's label order)
SeriesKey = tuple[str, tuple[str, ...]]


@dataclass
class MetricsDelta:
    """What changed since the last drain.

    ``histograms`` values are ``[count per bucket (non-cumulative, +Inf last)..., sum, count]``;
    ``samples`` holds raw observations for quantile summaries (only when enabled, bounded).
    ``gauges`` are absolute values (last write wins).
    """

    counters: dict[SeriesKey, float] = field(default_factory=dict)
    histograms: dict[SeriesKey, list[float]] = field(default_factory=dict)
    gauges: dict[SeriesKey, float] = field(default_factory=dict)
    samples: dict[SeriesKey, list[float]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.counters or self.histograms or self.gauges or self.samples)


class MetricsAccumulator:
    """Collects observations; ``drain()`` hands them over and starts afresh.

    Args:
        keep_samples: also keep raw values of quantile-enabled histograms (for summaries).
        max_samples: most raw values kept per series between two drains (the newest win).
    """

    def __init__(self, *, keep_samples: bool = False, max_samples: int = 2000) -> None:
        self._lock = threading.Lock()
        self._keep_samples = keep_samples
        self._max_samples = max_samples
        self._delta = MetricsDelta()
        #: Histogram name -> (bucket bounds, keep raw samples?); one entry, set in one step, so a
        #: thread never sees half of it while another thread records the first observation.
        self._histograms: dict[str, tuple[tuple[float, ...], bool]] = {}

    def inc(self, name: str, labels: tuple[str, ...], amount: float = 1.0) -> None:
        key = (name, labels)
        with self._lock:
            counters = self._delta.counters
            counters[key] = counters.get(key, 0.0) + amount

    def set_gauge(self, name: str, labels: tuple[str, ...], value: float) -> None:
        with self._lock:
            self._delta.gauges[(name, labels)] = float(value)

    def observe(self, name: str, labels: tuple[str, ...], value: float) -> None:
        known = self._histograms.get(name)
        if known is None:
            metric = spec(name)
            if metric.kind is not MetricKind.HISTOGRAM:
                raise ValueError(f"{name} is a {metric.kind.value}, not a histogram")
            known = self._histograms[name] = (metric.buckets, self._keep_samples and metric.quantiles)
        bounds, sampled = known
        index = bisect.bisect_left(bounds, value)
        key = (name, labels)
        with self._lock:
            row = self._delta.histograms.get(key)
            if row is None:
                row = self._delta.histograms[key] = [0.0] * (len(bounds) + 3)
            row[index] += 1.0
            row[-2] += value
            row[-1] += 1.0
            if sampled:
                samples = self._delta.samples.setdefault(key, [])
                samples.append(value)
                if len(samples) > self._max_samples:
                    del samples[: len(samples) - self._max_samples]

    def drain(self) -> MetricsDelta:
        """Everything recorded since the last drain (possibly empty)."""
        with self._lock:
            delta, self._delta = self._delta, MetricsDelta()
        return delta


# -- the parent: the merged state -----------------------------------------------------------------

#: The quantiles served when ``MetricsSettings(quantiles=True)`` (the feature document's).
QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.99)
#: Most samples kept per series in the quantile window.
MAX_WINDOW_SAMPLES = 20_000
V = TypeVar("V")
_STATES = ("starting", "up", "stopping", "restarting", "stopped", "failed")


class ChildView(Protocol):
    """What the metrics need from a worker process's status (``supervision.ChildStatus`` fits)."""

    task_type: str
    state: str
    restarts: int
    in_flight: int


class MetricsState:
    """Everything to expose. Not thread-safe: one owner (the MetricsActor) reads and writes it."""

    def __init__(
        self,
        *,
        quantile_window: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._window = quantile_window
        self.counters: dict[SeriesKey, float] = {}
        self.histograms: dict[SeriesKey, list[float]] = {}
        self.gauges: dict[tuple[str, SeriesKey], float] = {}  # (source, series) -> value
        self.samples: dict[SeriesKey, deque[tuple[float, float]]] = {}
        self.task_types: set[str] = set()

    # ---- input ---------------------------------------------------------------------------------

    def merge(self, source: str, delta: MetricsDelta) -> None:
        """Add one child's delta (``source`` = the child's key)."""
        for key, value in delta.counters.items():
            self.counters[key] = self.counters.get(key, 0.0) + value
        for key, row in delta.histograms.items():
            total = self.histograms.get(key)
            if total is None:
                self.histograms[key] = list(row)
            else:
                for i, value in enumerate(row):
                    total[i] += value
        for key, value in delta.gauges.items():
            self.gauges[(source, key)] = value
        if self._window is not None and delta.samples:
            now = self._clock()
            for key, values in delta.samples.items():
                window = self.samples.get(key)
                if window is None:
                    window = self.samples[key] = deque(maxlen=MAX_WINDOW_SAMPLES)
                window.extend((now, v) for v in values)

    def set_gauge(self, name: str, labels: tuple[str, ...], value: float, source: str = "parent") -> None:
        """A gauge owned by the parent (e.g. the recovery journal's size)."""
        self.gauges[(source, (name, labels))] = value

    def inc(self, name: str, labels: tuple[str, ...], amount: float = 1.0) -> None:
        """A counter owned by the parent (e.g. deliveries from the recovery journal)."""
        key = (name, labels)
        self.counters[key] = self.counters.get(key, 0.0) + amount

    def declare_task_types(self, task_types: Iterable[str]) -> None:
        """Task types to show with zero values before any child reported."""
        self.task_types.update(task_types)

    # ---- output --------------------------------------------------------------------------------

    def families(self, children: Iterable[ChildView] = (), *, quantiles: bool = False) -> Iterator[Metric]:
        """Prometheus families for every metric that has data, plus the supervisor's series computed
        from ``children`` (the supervisor's current view: task type, state, restarts, in flight)."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily  # see the module docstring

        self._trim_window()
        children = list(children)
        self.task_types.update(c.task_type for c in children)
        counters = _group(self.counters)
        restarts = counters.setdefault("worker_restart_total", {})
        for type_ in self.task_types:  # restarts show as 0 before the first one
            restarts[(type_,)] = float(sum(c.restarts for c in children if c.task_type == type_))
        histograms = _group(self.histograms)
        gauges: dict[str, dict[tuple[str, ...], float]] = {}
        for (_, (name, labels)), value in self.gauges.items():
            series = gauges.setdefault(name, {})
            series[labels] = series.get(labels, 0.0) + value
        self._child_gauges(gauges, children)
        for spec in CATALOG:
            name = spec.name
            if spec.kind is MetricKind.COUNTER and name in counters:
                family = CounterMetricFamily(name, spec.help, labels=spec.labels)
                for labels, value in sorted(counters[name].items()):
                    family.add_metric(labels, value)
                yield family
            elif spec.kind is MetricKind.GAUGE and name in gauges:
                gauge = GaugeMetricFamily(name, spec.help, labels=spec.labels)
                for labels, value in sorted(gauges[name].items()):
                    gauge.add_metric(labels, value)
                yield gauge
            elif spec.kind is MetricKind.HISTOGRAM and name in histograms:
                if quantiles and spec.quantiles:
                    yield self._histogram_with_quantiles(spec, histograms[name])
                else:
                    yield _histogram(spec, histograms[name])

    def _child_gauges(self, gauges: dict[str, dict[tuple[str, ...], float]], children: list[ChildView]) -> None:
        active = dict.fromkeys(self.task_types, 0.0)
        in_flight = dict.fromkeys(self.task_types, 0.0)
        processes: dict[tuple[str, ...], float] = {(t, s): 0.0 for t in self.task_types for s in _STATES}
        for child in children:
            processes[(child.task_type, child.state)] = processes.get((child.task_type, child.state), 0.0) + 1
            if child.state == "up":
                active[child.task_type] += 1
                in_flight[child.task_type] += child.in_flight
        gauges["active_workers"] = {(t,): v for t, v in active.items()}
        gauges["task_in_flight"] = {(t,): v for t, v in in_flight.items()}
        gauges["worker_processes"] = processes

    def _trim_window(self) -> None:
        if self._window is None:
            return
        horizon = self._clock() - self._window
        for window in self.samples.values():
            while window and window[0][0] < horizon:
                window.popleft()

    def _histogram_with_quantiles(self, spec: MetricSpec, series: dict[tuple[str, ...], list[float]]) -> Metric:
        """One family with bucket, sum, count AND quantile samples under the metric's own name.

        A histogram family may not carry quantile samples and a summary may not carry buckets, so
        the family is exposed untyped: every canonical query (``histogram_quantile`` over
        ``_bucket``, rates of ``_sum``/``_count``) and every query of the feature document
        (``{quantile="0.95"}``) works on the same names.
        """
        from prometheus_client.core import Metric

        family = Metric(spec.name, spec.help + " (with quantiles over a sliding window)", "unknown")
        for labels, row in sorted(series.items()):
            base = dict(zip(spec.labels, labels))
            for bound, cumulative in _cumulative(spec.buckets, row):
                family.add_sample(spec.name + "_bucket", {**base, "le": bound}, cumulative)
            family.add_sample(spec.name + "_sum", base, row[-2])
            family.add_sample(spec.name + "_count", base, row[-1])
            window = self.samples.get((spec.name, labels))
            values = sorted(v for _, v in window) if window else []
            for q in QUANTILES:
                value = values[max(0, math.ceil(q * len(values)) - 1)] if values else math.nan
                family.add_sample(spec.name, {**base, "quantile": repr(q)}, value)
        return family


def _group(series: Mapping[SeriesKey, V]) -> dict[str, dict[tuple[str, ...], V]]:
    grouped: dict[str, dict[tuple[str, ...], V]] = {}
    for (name, labels), value in series.items():
        grouped.setdefault(name, {})[labels] = value
    return grouped


def _cumulative(buckets: tuple[float, ...], row: list[float]) -> Iterator[tuple[str, float]]:
    running = 0.0
    for bound, count in zip((*buckets, math.inf), row):
        running += count
        yield ("+Inf" if bound == math.inf else repr(float(bound))), running


def _histogram(spec: MetricSpec, series: dict[tuple[str, ...], list[float]]) -> HistogramMetricFamily:
    from prometheus_client.core import HistogramMetricFamily

    family = HistogramMetricFamily(spec.name, spec.help, labels=spec.labels)
    for labels, row in sorted(series.items()):
        family.add_metric(list(labels), list(_cumulative(spec.buckets, row)), sum_value=row[-2])
    return family


# -- the health and readiness reports -------------------------------------------------------------


def health_report(healthy: bool, statuses: Sequence[Any]) -> tuple[int, dict[str, Any]]:
    """The ``/health`` answer: 200 when every worker process is up and polling, else 503 naming why."""
    children = [
        {
            "key": s.key, "taskType": s.task_type, "pid": s.pid, "state": s.state, "alive": s.alive,
            "restarts": s.restarts, "inFlight": s.in_flight,
            "lastHeartbeatAgeSeconds": None if s.last_heartbeat_age is None else round(s.last_heartbeat_age, 3),
        }
        for s in statuses
    ]
    problems = [
        f"{s.key}: {s.state}" + (f" (last exit {s.last_exit})" if s.last_exit is not None and s.state != "up" else "")
        for s in statuses
        if s.state != "up"
    ]
    if not statuses:
        problems.append("no worker process is running")
    if not problems and not healthy:
        problems.append("a worker process has stopped heartbeating")
    ok = healthy and not problems
    body: dict[str, Any] = {"status": "ok" if ok else "unhealthy", "children": children}
    if problems:
        body["problems"] = problems
    return (200 if ok else 503), body


#: Seconds a worker process may go on failing its polls after the last good one and still count
#: as ready (one failed poll, a server restart, must not take every worker out of service).
READY_WINDOW = 30.0


def ready_report(statuses: Sequence[Any], window: float = READY_WINDOW) -> tuple[int, dict[str, Any]]:
    """The ``/ready`` answer: 200 when every worker process is ready, else 503. The JSON body
    names each worker process, whether it is ready, why not, and its last poll error."""
    workers = []
    for s in statuses:
        problem = _not_ready_because(s, window)
        age = s.last_poll_success_age
        workers.append({
            "key": s.key, "taskType": s.task_type, "pid": s.pid, "state": s.state, "ready": problem is None,
            "lastPollSuccessAgeSeconds": None if age is None else round(age, 1),
            "lastError": s.last_poll_error, "paused": s.polling_paused,
            **({"reason": problem} if problem is not None else {}),
        })
    ready = bool(statuses) and all(w["ready"] for w in workers)
    body: dict[str, Any] = {"status": "ready" if ready else "not ready", "workers": workers}
    if not statuses:
        body["reason"] = "no worker process is running"
    return (200 if ready else 503), body


def _not_ready_because(s: Any, window: float) -> str | None:
    """Why one worker process is not ready; None when it is."""
    if s.state != "up":
        return f"the worker process is {s.state}"
    if s.polling_paused:
        return None
    age = s.last_poll_success_age
    error = f": {s.last_poll_error}" if s.last_poll_error else ""
    if age is None:
        return "no poll has succeeded yet" + error
    if s.last_poll_error is not None and age > window:
        return f"polls have failed for {age:.0f} s" + error
    return None
