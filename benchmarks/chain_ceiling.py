"""The ceiling of a sleep workload on this machine: bare update-v2 chains, no runtime.

``--concurrency`` coroutines on one event loop each take a task, ``asyncio.sleep`` for the task
time, then send its result with ``POST /api/tasks/update-v2`` and go on with the task that the
answer carries, until the backlog is empty. That is the least any async runtime must do per task
against this server (one request per task, the sleep itself), so its tasks/s is what a runtime
can reach at best here, to set beside the "% of Little's law" of the sleep workloads.

    python benchmarks/chain_ceiling.py --concurrency 100 --sleep 0.05 --tasks 8000

It also prints how long ``asyncio.sleep`` really took and the update round trip, the two parts of
each task's cycle beyond the task time. A measurement, not a test: it exits 1 only if a task was
left undone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import DevServerProcess, percentile

from conductor_actors import AsyncConductorClient, Configuration, Task, TaskResult, TaskResultStatus

TASK_TYPE = "ceiling_task"


@dataclass(frozen=True)
class Ceiling:
    """One measurement: tasks done in ``seconds``, with each sleep's and round trip's duration (s)."""

    concurrency: int
    sleep: float
    tasks: int
    done: int
    seconds: float
    slept: list[float]
    round_trips: list[float]

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def littles_limit(self) -> float:
        """Most tasks/s ``concurrency`` chains allow when each task takes ``sleep`` seconds."""
        return self.concurrency / self.sleep

    @property
    def littles_percent(self) -> float:
        return 100 * self.rate / self.littles_limit


async def _drive(url: str, concurrency: int, sleep: float) -> tuple[int, float, list[float], list[float]]:
    """Run the chains until the backlog is empty; returns tasks done, seconds, sleeps, round trips."""
    client = AsyncConductorClient(Configuration(server_api_url=url, env={}), pool_size=concurrency + 2)
    slept: list[float] = []
    round_trips: list[float] = []
    done = 0

    async def chain(task: Task | None) -> None:
        nonlocal done
        while task is not None:
            started = time.perf_counter()
            await asyncio.sleep(sleep)
            sent = time.perf_counter()
            slept.append(sent - started)
            result = TaskResult(task_id=task.task_id, workflow_instance_id=task.workflow_instance_id,
                                status=TaskResultStatus.COMPLETED, worker_id="ceiling")
            task = await client.update_task_v2(result)
            round_trips.append(time.perf_counter() - sent)
            done += 1

    try:
        first = await client.batch_poll(TASK_TYPE, count=concurrency, timeout_ms=1000, worker_id="ceiling")
        began = time.perf_counter()
        await asyncio.gather(*(chain(task) for task in first))
        return done, time.perf_counter() - began, slept, round_trips
    finally:
        await client.aclose()


def measure(concurrency: int, sleep: float, tasks: int) -> Ceiling:
    """Start a dev server, preload ``tasks`` one-task workflows and run the chains on them."""
    server = DevServerProcess()
    try:
        server.preload("ceiling", TASK_TYPE, tasks)
        done, seconds, slept, round_trips = asyncio.run(_drive(server.url, concurrency, sleep))
    finally:
        server.stop()
    return Ceiling(concurrency, sleep, tasks, done, seconds, slept, round_trips)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=100, help="chains at once (default 100)")
    parser.add_argument("--sleep", type=float, default=0.05, help="task time in seconds (default 0.05)")
    parser.add_argument("--tasks", type=int, default=8000, help="backlog size (default 8000)")
    options = parser.parse_args(argv)
    ceiling = measure(options.concurrency, options.sleep, options.tasks)
    print(f"tasks done: {ceiling.done} of {ceiling.tasks} in {ceiling.seconds:.2f} s -> {ceiling.rate:,.0f} tasks/s, "
          f"{ceiling.littles_percent:.0f}% of Little's law ({ceiling.littles_limit:,.0f} tasks/s)")
    print(f"asyncio.sleep({options.sleep:g}) took: p50 {1000 * statistics.median(ceiling.slept):.2f} ms, "
          f"p90 {1000 * percentile(ceiling.slept, 0.9):.2f} ms")
    print(f"update-v2 round trip: p50 {1000 * statistics.median(ceiling.round_trips):.2f} ms, "
          f"p90 {1000 * percentile(ceiling.round_trips, 0.9):.2f} ms")
    return 0 if ceiling.done == ceiling.tasks else 1


if __name__ == "__main__":
    sys.exit(main())
