"""The parent's metrics state and exposition, without processes.

Deltas come from real ``MetricsAccumulator``s (what each worker process drains every relay
interval); the state's families are rendered by prometheus-client exactly as a scrape would and
parsed back. The quantile window runs on an injected clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType

import pytest
from _support.clock import FakeClock
from _support.metrics_apps.harness import Scrape, buckets
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric

from conductor_actors.metrics._catalog import (
    TIME_BUCKETS,
    MetricsAccumulator,
    MetricsDelta,
    MetricsState,
    SeriesKey,
    health_report,
)
from conductor_actors.supervision import ChildStatus

EXECUTE = "task_execute_time_seconds"
JOURNAL_PENDING: SeriesKey = ("recovery_journal_entries", ("pending",))


class _Families:
    """A registry collector over a ``families()`` call (the shape the MetricsActor registers)."""

    def __init__(self, produce: Callable[[], Iterable[Metric]]) -> None:
        self._produce = produce

    def collect(self) -> Iterable[Metric]:
        return self._produce()


def render(state: MetricsState, children: Sequence[ChildStatus] = (), *, quantiles: bool = False) -> Scrape:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(lambda: state.families(children, quantiles=quantiles)))
    return Scrape(generate_latest(registry).decode("utf-8"))


def delta(*, counters: Mapping[str, float] = MappingProxyType({}), observations: Sequence[float] = (),
          gauges: Mapping[SeriesKey, float] = MappingProxyType({}), samples: bool = False) -> MetricsDelta:
    """One process's drained delta: counters of task type "t", its execute times, gauges."""
    accumulator = MetricsAccumulator(keep_samples=samples)
    for name, amount in counters.items():
        accumulator.inc(name, ("t",), amount)
    for value in observations:
        accumulator.observe(EXECUTE, ("t", "SUCCESS"), value)
    for (name, labels), value in gauges.items():
        accumulator.set_gauge(name, labels, value)
    return accumulator.drain()


def status(key: str, state: str, *, restarts: int = 0, last_exit: int | str | None = None,
           in_flight: int = 0, beat_age: float | None = 0.1) -> ChildStatus:
    return ChildStatus(
        key=key, task_type="t", pid=4242 if state in ("up", "starting") else None, state=state,
        alive=state in ("up", "starting"), restarts=restarts, consecutive_crashes=restarts,
        last_heartbeat_age=beat_age if state == "up" else None, in_flight=in_flight, stage_ages=(),
        last_exit=last_exit,
    )


# -- merging ------------------------------------------------------------------------------------


def test_counters_and_histograms_of_two_processes_are_summed_without_a_pid() -> None:
    state = MetricsState()
    state.merge("t#1", delta(counters={"task_poll_total": 3, "task_execution_started_total": 2},
                             observations=[0.002, 0.3]))
    state.merge("t#2", delta(counters={"task_poll_total": 5}, observations=[0.02]))
    state.merge("t#1", delta(counters={"task_poll_total": 1}, observations=[7.0]))

    s = render(state)

    assert s.one("task_poll_total", taskType="t") == 9
    assert s.one("task_execution_started_total", taskType="t") == 2
    assert s.one(EXECUTE + "_count", taskType="t", status="SUCCESS") == 4
    assert s.one(EXECUTE + "_sum", taskType="t", status="SUCCESS") == pytest.approx(7.322)
    assert [sample for sample in s.samples if "pid" in sample.labels or "source" in sample.labels] == []


def test_gauges_are_kept_per_process_and_summed_when_exposed() -> None:
    state = MetricsState()
    state.merge("t#1", delta(gauges={JOURNAL_PENDING: 3}))
    state.merge("t#2", delta(gauges={JOURNAL_PENDING: 4}))
    assert render(state).one("recovery_journal_entries", state="pending") == 7

    state.merge("t#1", delta(gauges={JOURNAL_PENDING: 1}))  # replaces t#1's value, is not added to it
    state.merge("t#2", delta(counters={"task_poll_total": 1}))  # a delta without the gauge keeps t#2's
    assert render(state).one("recovery_journal_entries", state="pending") == 5

    state.set_gauge("recovery_journal_entries", ("pending",), 10.0)  # the parent's own source
    assert render(state).one("recovery_journal_entries", state="pending") == 15


def test_the_supervisor_series_come_from_the_children() -> None:
    state = MetricsState()
    state.declare_task_types(["t", "idle"])
    children = [status("t#1", "up", in_flight=2, restarts=1), status("t#2", "restarting", restarts=2, in_flight=9)]

    s = render(state, children)

    assert s.one("worker_restart_total", taskType="t") == 3
    assert s.one("worker_restart_total", taskType="idle") == 0
    assert s.one("active_workers", taskType="t") == 1
    assert s.one("task_in_flight", taskType="t") == 2, "only processes that are up count"
    assert s.one("worker_processes", taskType="t", state="up") == 1
    assert s.one("worker_processes", taskType="t", state="restarting") == 1
    assert s.one("worker_processes", taskType="idle", state="up") == 0


# -- exposition of a histogram ------------------------------------------------------------------


def test_a_histogram_is_exposed_with_cumulative_buckets_and_inf_equal_to_count() -> None:
    values = [0.0005, 0.001, 0.003, 0.005, 0.2, 0.2, 9.0, 20.0, 100.0]
    state = MetricsState()
    state.merge("t", delta(observations=values))

    s = render(state)

    assert s.families[EXECUTE].type == "histogram"
    expected = [(bound, float(sum(1 for v in values if v <= bound))) for bound in TIME_BUCKETS]
    expected.append((math.inf, float(len(values))))
    assert buckets(s, EXECUTE, taskType="t", status="SUCCESS") == expected
    assert s.one(EXECUTE + "_count", taskType="t", status="SUCCESS") == len(values)
    assert s.one(EXECUTE + "_sum", taskType="t", status="SUCCESS") == pytest.approx(sum(values))
    bucket_lines = [line for line in s.text.splitlines() if line.startswith(EXECUTE + "_bucket")]
    assert bucket_lines[0].startswith(EXECUTE + '_bucket{le="0.001"') and 'le="+Inf"' in bucket_lines[-1]


def test_with_quantiles_off_there_are_no_quantile_samples() -> None:
    clock = FakeClock()
    state = MetricsState(quantile_window=60.0, clock=clock)
    state.merge("t", delta(observations=[0.1, 0.2], samples=True))

    plain = render(state, quantiles=False)
    assert [x for x in plain.samples if "quantile" in x.labels] == []
    assert plain.families[EXECUTE].type == "histogram"
    assert render(state, quantiles=True).one(EXECUTE, taskType="t", status="SUCCESS", quantile="0.5") == 0.1


# -- the quantile window ------------------------------------------------------------------------


def quantiles(s: Scrape) -> dict[str, float]:
    return {x.labels["quantile"]: x.value for x in s.find(EXECUTE, taskType="t", status="SUCCESS")}


def test_the_quantile_window_drops_samples_older_than_the_window() -> None:
    clock = FakeClock()
    state = MetricsState(quantile_window=10.0, clock=clock)
    state.merge("t#1", delta(observations=[5.0] * 100, samples=True))  # slow, at t=1000
    clock.advance(6)
    state.merge("t#2", delta(observations=[0.01 * i for i in range(1, 101)], samples=True))  # at t=1006

    both = quantiles(render(state, quantiles=True))
    assert list(both) == ["0.5", "0.75", "0.9", "0.95", "0.99"]
    # nearest rank over 200 samples, the upper 100 of them slow: the median is the 100th value
    assert both["0.5"] == pytest.approx(1.0) and both["0.75"] == 5.0 and both["0.99"] == 5.0

    clock.advance(5)  # t=1011: the slow ones are 11 s old
    recent = quantiles(render(state, quantiles=True))
    assert recent == pytest.approx({"0.5": 0.5, "0.75": 0.75, "0.9": 0.9, "0.95": 0.95, "0.99": 0.99})

    clock.advance(10)  # t=1021: nothing left in the window
    empty = render(state, quantiles=True)
    assert all(math.isnan(v) for v in quantiles(empty).values()) and len(quantiles(empty)) == 5
    # the histogram part is cumulative for ever: the window only bounds the quantiles
    assert empty.one(EXECUTE + "_count", taskType="t", status="SUCCESS") == 200
    assert buckets(empty, EXECUTE, taskType="t", status="SUCCESS")[-1] == (math.inf, 200.0)


# -- /health ------------------------------------------------------------------------------------


def test_health_is_200_when_every_process_is_up_and_heartbeating() -> None:
    code, body = health_report(True, [status("t#1", "up", in_flight=2), status("t#2", "up")])

    assert code == 200
    assert body["status"] == "ok" and "problems" not in body
    assert [c["key"] for c in body["children"]] == ["t#1", "t#2"]
    first = body["children"][0]
    assert first == {"key": "t#1", "taskType": "t", "pid": 4242, "state": "up", "alive": True, "restarts": 0,
                     "inFlight": 2, "lastHeartbeatAgeSeconds": 0.1}


@pytest.mark.parametrize(("child", "problem"), [
    (status("t#2", "starting"), "t#2: starting"),
    (status("t#2", "restarting", restarts=1, last_exit="SIGKILL"), "t#2: restarting (last exit SIGKILL)"),
    (status("t#2", "failed", last_exit=3), "t#2: failed (last exit 3)"),
])
def test_health_is_503_naming_a_process_that_is_not_up(child: ChildStatus, problem: str) -> None:
    code, body = health_report(False, [status("t#1", "up"), child])

    assert code == 503
    assert body["status"] == "unhealthy"
    assert body["problems"] == [problem]
    assert [c["state"] for c in body["children"]] == ["up", child.state]


def test_health_is_503_when_a_process_stopped_heartbeating_or_none_runs() -> None:
    code, body = health_report(False, [status("t#1", "up", beat_age=9.0)])
    assert code == 503 and body["problems"] == ["a worker process has stopped heartbeating"]
    assert body["children"][0]["lastHeartbeatAgeSeconds"] == 9.0

    code, body = health_report(False, [])
    assert code == 503 and body["problems"] == ["no worker process is running"]
