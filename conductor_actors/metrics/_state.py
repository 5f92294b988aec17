"""``MetricsState``: the merged metrics of every worker process plus the supervisor's own.

Owned by the MetricsActor (one thread): deltas from children are merged in, child status changes
update the supervisor series, and ``families()`` turns everything into Prometheus metric families
for a scrape or the metrics file. Counters and histograms are summed over processes (no pid label);
per-process gauges are kept per process and summed when exposed. Quantile samples live in a sliding
window (bounded in time and count).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Protocol, TypeVar

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from ._accumulator import MetricsDelta, SeriesKey
from ._catalog import CATALOG, MetricKind, MetricSpec

__all__ = ["QUANTILES", "ChildView", "MetricsState"]

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
    family = HistogramMetricFamily(spec.name, spec.help, labels=spec.labels)
    for labels, row in sorted(series.items()):
        family.add_metric(list(labels), list(_cumulative(spec.buckets, row)), sum_value=row[-2])
    return family
