"""``RecycleCheck``: the recycling limits checked as each task ends, with an injected memory
reading (the real-process behaviour is in ``faults/test_memory_recycling.py``)."""

from __future__ import annotations

import threading

from conductor_actors import RuntimeSettings
from conductor_actors.runtime._pipeline import RecycleCheck


def test_memory_is_checked_after_every_task() -> None:
    readings = iter([150.0, 190.0, 201.0, 250.0])
    check = RecycleCheck(RuntimeSettings(max_rss_mb=200), rss=lambda: next(readings))
    assert [check.after_task(n) for n in (1, 2)] == [None, None]
    assert check.after_task(3) == "resident memory 201 MiB is over max_rss_mb=200"
    assert check.after_task(4) is None  # reported once: the process is already stopping


def test_no_memory_limit_reads_no_memory() -> None:
    def never() -> float:
        raise AssertionError("read the memory without a limit")

    check = RecycleCheck(RuntimeSettings(max_tasks=3), rss=never)
    assert [check.after_task(n) for n in (1, 2, 3, 4)] == [None, None, "executed 3 tasks (max_tasks=3)", None]


def test_the_limit_is_reported_once_when_many_threads_cross_it_together() -> None:
    check = RecycleCheck(RuntimeSettings(max_rss_mb=10), rss=lambda: 11.0)
    reasons: list[str | None] = []
    go = threading.Barrier(8)

    def finish(n: int) -> None:
        go.wait()
        reasons.append(check.after_task(n))

    threads = [threading.Thread(target=finish, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r for r in reasons if r is not None] == ["resident memory 11 MiB is over max_rss_mb=10"]
    assert len(reasons) == 8


def test_the_reason_never_shows_a_memory_that_is_not_over_the_limit() -> None:
    """A reading just over the limit is rounded up in the reason, not down to the limit itself."""
    check = RecycleCheck(RuntimeSettings(max_rss_mb=200), rss=lambda: 200.3)
    assert check.after_task(1) == "resident memory 201 MiB is over max_rss_mb=200"


def test_the_current_memory_is_read_only_once_the_peak_nears_the_limit() -> None:
    peaks = iter([100.0, 150.0, 195.0, 230.0])
    currents = iter([190.0, 205.0])
    reads: list[float] = []

    def rss() -> float:
        reads.append(next(currents))
        return reads[-1]

    check = RecycleCheck(RuntimeSettings(max_rss_mb=200), rss=rss, peak=lambda: next(peaks))
    # A peak well below the limit means the memory is too: no reading of the current memory.
    assert [check.after_task(n) for n in (1, 2)] == [None, None]
    assert reads == []
    # Within the margin (8 MiB, or 2 % of the limit) or over it, the current memory decides.
    assert check.after_task(3) is None
    assert check.after_task(4) == "resident memory 205 MiB is over max_rss_mb=200"
    assert reads == [190.0, 205.0]


def test_the_real_peak_reading_is_used_only_with_the_real_memory_reading() -> None:
    check = RecycleCheck(RuntimeSettings(max_rss_mb=10), rss=lambda: 11.0)
    assert check.after_task(1) == "resident memory 11 MiB is over max_rss_mb=10"
    real = RecycleCheck(RuntimeSettings(max_rss_mb=100_000))
    assert real.after_task(1) is None  # this process's peak is far below 100 GB: nothing else read
