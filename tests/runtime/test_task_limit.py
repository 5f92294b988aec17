"""``max_tasks``: the count of executed tasks is exact when many executor threads finish at once, so
the limit is reported exactly once (both flavours), and the counter under it never loses a count."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from conductor_actors.runtime._pipeline import Tally

if TYPE_CHECKING:
    from runtime.conftest import PipelineHarness

MAX_TASKS = 25


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Switch threads every microsecond instead of every 5 ms, so interleavings happen often."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def test_tally_counts_every_add_once_across_threads(frequent_thread_switches: None) -> None:
    tally = Tally()
    threads, per_thread = 8, 2000
    seen: list[list[int]] = [[] for _ in range(threads)]
    go = threading.Barrier(threads)

    def bump(mine: list[int]) -> None:
        go.wait()
        for _ in range(per_thread):
            mine.append(tally.add())

    workers = [threading.Thread(target=bump, args=(seen[i],)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    totals = sorted(total for mine in seen for total in mine)
    assert totals == list(range(1, threads * per_thread + 1))  # each total handed out exactly once
    assert tally.value == threads * per_thread
    assert repr(tally) == f"Tally({threads * per_thread})"


def test_the_task_limit_is_reported_once_when_many_slots_finish_together(
        pipeline: PipelineHarness, frequent_thread_switches: None) -> None:
    reached: list[str] = []
    workflows = pipeline.start_workflows([{"x": i} for i in range(3 * MAX_TASKS)])
    runner = pipeline.runner(
        pipeline.worker("echo", thread_count=10), settings=pipeline.settings(max_tasks=MAX_TASKS),
        on_task_limit=reached.append,
    )
    pipeline.complete(workflows)  # the limit asks for a recycle; it does not stop this runner
    assert runner.executed == 3 * MAX_TASKS
    assert reached == [f"executed {MAX_TASKS} tasks (max_tasks={MAX_TASKS})"]
