"""File mode: the parent rewrites one ``.prom`` file every ``update_interval``, atomically.

A reader that opens the file while it is being rewritten must always get a whole exposition (the
old one or the new one): the test reads it in a loop while tasks run and the file is replaced many
times, and parses every read.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from _support.metrics_apps import make_worker
from _support.metrics_apps.harness import TASK, WAIT, HandlerFactory, Scrape, run_tasks, wait_until

from conductor_actors import MetricsSettings
from conductor_actors.devserver import DevServer

N = 40
#: Replacements of the file the reader must have seen before it stops.
MIN_REWRITES_SEEN = 8


def read_file(path: Path) -> tuple[tuple[int, int, int], str] | None:
    """``((inode, mtime ns, size), text)`` of one open-and-read of ``path``; None while it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            info = os.fstat(handle.fileno())
            return (info.st_ino, info.st_mtime_ns, info.st_size), handle.read()
    except FileNotFoundError:
        return None


def test_the_metrics_file_appears_reaches_the_counts_and_is_never_seen_partial(
    flavour: str, tmp_path: Path, dev_server: DevServer, handler_factory: HandlerFactory
) -> None:
    directory = tmp_path / "not-yet"  # created by the runtime
    settings = MetricsSettings(directory=str(directory), file_name="m.prom", update_interval=0.1)
    handler = handler_factory([make_worker(flavour, TASK)], settings)
    assert handler.metrics is not None and handler.metrics.url is None
    path = directory / "m.prom"

    _, first_text = wait_until(lambda: read_file(path), "the metrics file to appear")
    first = Scrape(first_text)
    last_family = list(first.families.values())[-1]

    outcome: list[dict[str, str]] = []
    runner = threading.Thread(target=lambda: outcome.append(run_tasks(dev_server, [{"size": 3}] * N)))
    runner.start()
    try:
        versions: set[tuple[int, int, int]] = set()
        reads, reached, deadline = 0, False, time.monotonic() + WAIT
        while not (reached and not runner.is_alive() and len(versions) >= MIN_REWRITES_SEEN):
            assert time.monotonic() < deadline, (
                f"after {WAIT:g} s: all {N} updates in the file: {reached}, versions of the file seen: {len(versions)}"
            )
            read = read_file(path)
            assert read is not None, "the metrics file disappeared while it was being replaced"
            version, text = read
            versions.add(version)
            reads += 1
            s = Scrape(text)  # raises on anything that is not a whole exposition
            assert text.endswith("\n"), f"read #{reads} ends mid-line:\n{text[-200:]}"
            missing = set(first.families) - set(s.families)
            assert not missing, f"read #{reads} lacks {sorted(missing)}:\n{text}"
            assert len(s.families[last_family.name].samples) == len(last_family.samples), (
                f"read #{reads} ends inside its last family:\n{text[-500:]}"
            )
            # an update is observed after the server accepted it: the last number to arrive
            reached = s.total("task_update_time_seconds_count", taskType=TASK) == N
            assert s.total("task_execution_started_total", taskType=TASK) <= N
    finally:
        runner.join(WAIT)
    assert outcome and set(outcome[0].values()) == {"COMPLETED"}, outcome

    s = Scrape(path.read_text(encoding="utf-8"))
    assert s.one("task_execution_started_total", taskType=TASK) == N
    assert s.one("task_execute_time_seconds_count", taskType=TASK, status="SUCCESS") == N
    assert [sample for sample in s.samples if "pid" in sample.labels] == []

    assert handler.stop_processes(timeout=WAIT) == 0
    assert sorted(p.name for p in directory.iterdir()) == ["m.prom"], "temporary files were left behind"
    final = Scrape(path.read_text(encoding="utf-8"))
    assert final.one("task_execution_started_total", taskType=TASK) == N
    assert final.one("active_workers", taskType=TASK) == 0, "the last write is made after the workers stopped"
