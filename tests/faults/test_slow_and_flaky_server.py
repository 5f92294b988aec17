"""A slow server and a server that resets connections: the worker processes neither crash nor
grow without bound (nor does the parent), a slow server never holds more of the worker's tasks
IN_PROGRESS than it has slots, and the work completes once the server behaves again (nothing is
left in the outbox)."""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from typing import Any

import pytest
from _support.fault_apps.compute import COMPUTE_TASK, compute_worker
from _support.fault_apps.harness import (
    WAIT,
    check_results,
    compute_workflow,
    outbox_settled,
    rss_mib,
    start_computations,
    wait_until,
)

#: Generous bound (MiB) for a worker process's resident memory (they start at a few tens of MiB).
RSS_BOUND_MIB = 250.0
#: Generous bound (MiB) for the growth of the parent (this test process, which also runs the dev
#: server) during a run.
PARENT_GROWTH_BOUND_MIB = 100.0
RUN_SIZE = 300
#: Slots of the compute worker (its default ``thread_count``).
SLOTS = 8


@dataclasses.dataclass
class Watch:
    """The largest samples taken while a run went on."""

    worker_rss_mib: float = 0.0
    parent_growth_mib: float = 0.0
    in_progress: int = 0


def watch_until_done(server: Any, tree: Any, started: dict[str, int], timeout: float = WAIT) -> Watch:
    """Wait until every workflow in ``started`` has ended, sampling meanwhile the resident memory of
    every worker process and of the parent, and how many compute tasks the server holds
    IN_PROGRESS; returns the largest samples. Fails if a worker process was restarted (a crash) at
    any point."""
    deadline = time.monotonic() + timeout
    parent_start = rss_mib(os.getpid())
    watch = Watch()
    while True:
        statuses = tree.status()
        assert all(s.restarts == 0 and s.alive for s in statuses), statuses
        watch.worker_rss_mib = max([watch.worker_rss_mib] + [rss_mib(s.pid) for s in statuses if s.pid is not None])
        watch.parent_growth_mib = max(watch.parent_growth_mib, rss_mib(os.getpid()) - parent_start)
        in_progress = len(server.tasks(status="IN_PROGRESS", task_type=COMPUTE_TASK))
        watch.in_progress = max(watch.in_progress, in_progress)
        try:
            server.wait_for_workflows(list(started), 0.2)
        except TimeoutError:
            assert time.monotonic() < deadline, f"workflows unfinished after {timeout:g} s"
            continue
        return watch


def assert_bounded_memory(watch: Watch) -> None:
    assert watch.worker_rss_mib < RSS_BOUND_MIB, f"a worker process reached {watch.worker_rss_mib:.0f} MiB"
    assert watch.parent_growth_mib < PARENT_GROWTH_BOUND_MIB, (
        f"the parent grew by {watch.parent_growth_mib:.0f} MiB during the run")


@pytest.mark.slow
def test_a_slow_server_slows_the_workers_down_without_breaking_them(start_tree, dev_server, state_dir, flavour):
    """Every call to the server takes 2 s longer for a while: no worker process crashes or is
    restarted, the memory of the workers and of the parent stays bounded, the server never holds
    more of the worker's tasks IN_PROGRESS than its ``thread_count`` (the slots bound what is in
    flight even while updates crawl), and every workflow completes with the worker's results."""
    workflow = compute_workflow(dev_server, COMPUTE_TASK)
    tree = start_tree([compute_worker(flavour, thread_count=SLOTS)])
    started = start_computations(dev_server, workflow, range(RUN_SIZE // 2))
    slow = dev_server.faults.add("*", delay_ms=2000, seconds=3)
    started.update(start_computations(dev_server, workflow, range(RUN_SIZE // 2, RUN_SIZE)))
    watch = watch_until_done(dev_server, tree, started)
    assert slow.hits > 0
    assert 0 < watch.in_progress <= SLOTS, f"{watch.in_progress} tasks IN_PROGRESS at once for {SLOTS} slots"
    check_results(dev_server, started, COMPUTE_TASK)
    assert outbox_settled(state_dir)["dead"] == 0
    assert_bounded_memory(watch)
    assert [(s.state, s.restarts) for s in tree.status()] == [("up", 0)]


def reset_every_other_burst(server: Any, bursts: int, size: int) -> int:
    """Reset the connection of ``size`` calls in a row, let the next ``size`` calls through, and so
    on ``bursts`` times (half of the calls in that period fail); returns the calls reset."""
    reset = 0
    for _ in range(bursts):
        fault = server.faults.add("*", drop=True, times=size)
        wait_until(functools.partial(used_up, fault), "a burst of resets to be used up", timeout=10)
        reset += fault.hits
        wait_until(functools.partial(calls_reached, server, server.stats()["total"] + size),
                   "calls to get through", timeout=10)
    return reset


def used_up(fault: Any) -> bool:
    return not fault.active


def calls_reached(server: Any, total: int) -> bool:
    return bool(server.stats()["total"] >= total)


def test_connection_resets_on_half_of_the_calls_lose_no_work(start_tree, dev_server, state_dir, flavour):
    """The server resets the connection of every other burst of calls (polls and updates alike)
    during a run: no worker process crashes or is restarted, memory (workers and parent) stays
    bounded, and every
    workflow completes with the worker's results (failed updates are retried or delivered from the
    outbox)."""
    workflow = compute_workflow(dev_server, COMPUTE_TASK)
    tree = start_tree([compute_worker(flavour)])
    started = start_computations(dev_server, workflow, range(RUN_SIZE), pause=0.05)  # about 2 s of work
    assert reset_every_other_burst(dev_server, bursts=10, size=5) == 50
    watch = watch_until_done(dev_server, tree, started)
    stats = dev_server.stats()
    assert stats["update_v1"] + stats["update_v2"] > RUN_SIZE  # some updates were reset and sent again
    check_results(dev_server, started, COMPUTE_TASK)
    assert_bounded_memory(watch)
    assert [(s.state, s.restarts) for s in tree.status()] == [("up", 0)]
