"""The per-process metrics accumulator: pre-aggregated deltas and bounded samples."""

from __future__ import annotations

import pickle

import pytest

from conductor_actors.metrics import MetricsAccumulator
from conductor_actors.metrics._catalog import TIME_BUCKETS


def test_accumulator_pre_aggregates_histograms_counters_and_gauges() -> None:
    acc = MetricsAccumulator()
    acc.inc("task_poll_total", ("echo",))
    acc.inc("task_poll_total", ("echo",), 2)
    for value in (0.0005, 0.003, 0.003, 20.0):
        acc.observe("task_execute_time_seconds", ("echo", "SUCCESS"), value)
    acc.set_gauge("task_in_flight", ("echo",), 4)
    delta = acc.drain()
    assert delta.counters == {("task_poll_total", ("echo",)): 3.0}
    row = delta.histograms[("task_execute_time_seconds", ("echo", "SUCCESS"))]
    assert len(row) == len(TIME_BUCKETS) + 3
    assert row[0] == 1 and row[1] == 2 and row[len(TIME_BUCKETS)] == 1  # le=0.001, le=0.005, +Inf
    assert row[-1] == 4 and row[-2] == pytest.approx(20.0065)
    assert delta.gauges == {("task_in_flight", ("echo",)): 4.0}
    assert not delta.samples
    assert not acc.drain()  # drained
    pickle.loads(pickle.dumps(delta))


def test_accumulator_keeps_bounded_samples_for_quantiles_only_when_asked() -> None:
    acc = MetricsAccumulator(keep_samples=True, max_samples=3)
    for value in (1.0, 2.0, 3.0, 4.0):
        acc.observe("task_poll_time_seconds", ("echo", "SUCCESS"), value)
    acc.observe("task_result_size_bytes", ("echo",), 10.0)  # not a quantile metric
    samples = acc.drain().samples
    assert samples == {("task_poll_time_seconds", ("echo", "SUCCESS")): [2.0, 3.0, 4.0]}
    with pytest.raises(ValueError, match="task_poll_total is a counter"):
        acc.observe("task_poll_total", ("echo",), 1.0)
