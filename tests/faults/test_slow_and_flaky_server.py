"""A slow server and a server that resets connections: the worker processes neither crash nor
grow without bound, and the work completes once the server behaves again (nothing is left in the
outbox)."""

from __future__ import annotations

import functools
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
RUN_SIZE = 300


def watch_until_done(server: Any, tree: Any, started: dict[str, int], timeout: float = WAIT) -> float:
    """Wait until every workflow in ``started`` has ended, sampling the resident memory of every
    worker process meanwhile; returns the largest sample (MiB). Fails if a worker process was
    restarted (a crash) at any point."""
    deadline = time.monotonic() + timeout
    peak = 0.0
    while True:
        statuses = tree.status()
        assert all(s.restarts == 0 and s.alive for s in statuses), statuses
        peak = max([peak] + [rss_mib(s.pid) for s in statuses if s.pid is not None])
        try:
            server.wait_for_workflows(list(started), 0.2)
        except TimeoutError:
            assert time.monotonic() < deadline, f"workflows unfinished after {timeout:g} s"
            continue
        return peak


@pytest.mark.slow
def test_a_slow_server_slows_the_workers_down_without_breaking_them(start_tree, dev_server, state_dir, flavour):
    """Every call to the server takes 2 s longer for a while: no worker process crashes or is
    restarted, their memory stays bounded, and every workflow completes with the worker's results."""
    workflow = compute_workflow(dev_server, COMPUTE_TASK)
    tree = start_tree([compute_worker(flavour)])
    started = start_computations(dev_server, workflow, range(RUN_SIZE // 2))
    slow = dev_server.faults.add("*", delay_ms=2000, seconds=3)
    started.update(start_computations(dev_server, workflow, range(RUN_SIZE // 2, RUN_SIZE)))
    peak = watch_until_done(dev_server, tree, started)
    assert slow.hits > 0
    check_results(dev_server, started, COMPUTE_TASK)
    assert outbox_settled(state_dir)["dead"] == 0
    assert peak < RSS_BOUND_MIB, f"a worker process reached {peak:.0f} MiB"
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
    during a run: no worker process crashes or is restarted, memory stays bounded, and every
    workflow completes with the worker's results (failed updates are retried or delivered from the
    outbox)."""
    workflow = compute_workflow(dev_server, COMPUTE_TASK)
    tree = start_tree([compute_worker(flavour)])
    started = start_computations(dev_server, workflow, range(RUN_SIZE), pause=0.05)  # about 2 s of work
    assert reset_every_other_burst(dev_server, bursts=10, size=5) == 50
    peak = watch_until_done(dev_server, tree, started)
    stats = dev_server.stats()
    assert stats["update_v1"] + stats["update_v2"] > RUN_SIZE  # some updates were reset and sent again
    check_results(dev_server, started, COMPUTE_TASK)
    assert peak < RSS_BOUND_MIB, f"a worker process reached {peak:.0f} MiB"
    assert [(s.state, s.restarts) for s in tree.status()] == [("up", 0)]
