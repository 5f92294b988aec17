"""The benchmark workloads: what each worker does and how it is configured (shared by both runtimes)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

__all__ = ["WORKLOADS", "Workload", "burn", "selected"]


@dataclass(frozen=True)
class Workload:
    name: str
    flavour: str  # "sync" or "async"
    thread_count: int
    tasks: int  # tasks per run at scale 1
    sleep: float = 0.0  # seconds each task sleeps (I/O-bound workloads)
    cpu: float = 0.0  # seconds of pure-Python CPU work per task
    processes: int = 1  # worker processes (ours only; the official SDK has no such option)
    interval: float = 0.0  # idle-latency runs: seconds between tasks, enqueued one by one
    metrics_variant: bool = False  # also run ours with Prometheus metrics on, to measure their cost

    @property
    def task_type(self) -> str:
        return f"bench_{self.name}"

    @property
    def littles_limit(self) -> float | None:
        """Most tasks/s the concurrency allows when each task takes ``sleep`` seconds."""
        return self.thread_count / self.sleep if self.sleep else None


WORKLOADS = {
    w.name: w
    for w in (
        Workload("noop_sync", "sync", 10, 6000, metrics_variant=True),
        Workload("noop_async", "async", 10, 6000, metrics_variant=True),
        Workload("sleep_async_100", "async", 100, 8000, sleep=0.05),
        Workload("sleep_async_1000", "async", 1000, 20000, sleep=0.05),
        Workload("sleep_sync_10", "sync", 10, 1500, sleep=0.05),
        Workload("cpu_sync", "sync", 4, 2000, cpu=0.002, processes=2),
        Workload("idle_latency", "sync", 1, 60, interval=0.2),
    )
}


def selected() -> Workload:
    """The workload named by ``BENCH_WORKLOAD`` (set by the driver for the whole process tree)."""
    return WORKLOADS[os.environ["BENCH_WORKLOAD"]]


def burn(seconds: float) -> int:
    """Pure-Python CPU work for about ``seconds`` (calibrated per process on first use)."""
    global _LOOPS
    if _LOOPS is None:
        start, loops = time.perf_counter(), 0
        while time.perf_counter() - start < 0.05:
            loops += _spin(1000)
        _LOOPS = int(loops / 0.05)
    return _spin(max(1, int(_LOOPS * seconds)))


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return n


_LOOPS: int | None = None
