"""The metrics path is cheap: a worker process ships its metrics in batches, one per relay
interval at most, never one message per task.

Not a timing test: it counts the ``EventBatch`` messages that reach the parent's metrics sink
(the sink's ``on_batch`` is wrapped to record them, then passes them on) while many tasks run,
and checks the bound the relay interval sets and what the batches carry.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import pytest
from _support.metrics_apps import make_worker
from _support.metrics_apps.harness import FAST_RUNTIME, TASK, WAIT, HandlerFactory, run_tasks, scrape_until

from conductor_actors.devserver import DevServer
from conductor_actors.metrics._catalog import TIME_BUCKETS, MetricsDelta
from conductor_actors.runtime import EventBatch

N = 300
RELAY_INTERVAL = 0.1


class BatchLog:
    """The metrics deltas that reached the sink, in order. Appended on the supervisor thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deltas: list[MetricsDelta] = []

    def add(self, delta: MetricsDelta) -> None:
        with self._lock:
            self._deltas.append(delta)

    def deltas(self) -> list[MetricsDelta]:
        with self._lock:
            return list(self._deltas)


def test_metrics_travel_in_batches_bounded_by_the_relay_interval(
    flavour: str, dev_server: DevServer, handler_factory: HandlerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = dataclasses.replace(FAST_RUNTIME, relay_interval=RELAY_INTERVAL)
    handler = handler_factory([make_worker(flavour, TASK, thread_count=32)], runtime_settings=runtime, start=False)
    sink = handler.metrics
    assert sink is not None
    log = BatchLog()
    forward = sink.on_batch

    def record(status: Any, batch: EventBatch) -> None:
        if batch.metrics:
            log.add(batch.metrics)
        forward(status, batch)

    monkeypatch.setattr(sink, "on_batch", record)
    started = time.monotonic()
    handler.start_processes()
    assert handler.wait_ready(WAIT)

    statuses = run_tasks(dev_server, [{"size": 1}] * N)
    assert set(statuses.values()) == {"COMPLETED"}
    scrape_until(handler, lambda s: s.total("task_update_time_seconds_count", taskType=TASK) >= N,
                 f"{N} updates counted")
    elapsed = time.monotonic() - started
    batches = log.deltas()

    # the relay sends at most one batch per interval, from the moment the process exists
    assert len(batches) <= elapsed / RELAY_INTERVAL + 2, (len(batches), elapsed)
    assert len(batches) < N / 3, f"{len(batches)} batches for {N} tasks: metrics are not batched"
    started_per_batch = [d.counters.get(("task_execution_started_total", (TASK,)), 0.0) for d in batches]
    assert sum(started_per_batch) == N
    assert max(started_per_batch) > 1, "no batch carried more than one task"
    # a delta is pre-aggregated: one row per series, whatever the number of observations
    row_size = len(TIME_BUCKETS) + 3  # buckets, +Inf, sum, count
    for delta in batches:
        rows = [row for (name, _), row in delta.histograms.items() if name == "task_execute_time_seconds"]
        assert all(len(row) == row_size for row in rows)
