"""``max_rss_mb`` recycles a leaking worker process near its limit, however fast it leaks.

Memory is checked after every task as well as on the heartbeat timer, so the resident memory a
process reports when it recycles is at most the limit plus what one task leaked (plus what the
tasks running beside it leaked): the check is per task, so this does not depend on the machine's
speed. Real worker processes get a leak of ``LEAK_MIB`` MiB per task with no pause (the report:
200 MiB limit, recycled only at 1,227 MiB), with the default heartbeat interval, and the test
reads the resident memory from the reason the supervisor logs. ``RecycleCheck`` itself is
tested in ``runtime/test_recycle_check.py``.
"""

from __future__ import annotations

import logging
import re

from _support.fault_apps.harness import WAIT, compute_workflow, fast_runtime, start_computations, wait_until
from _support.fault_apps.misbehaving import LEAK_MIB, misbehaving_worker

from conductor_actors import RuntimeSettings
from conductor_actors.supervision import ChildStatus

LEAK_TASK = "fault_fast_leak"
MAX_RSS_MB = 200
#: The promise: recycled within 1.5x the limit.
CEILING_MB = 1.5 * MAX_RSS_MB
#: Enough leaking tasks, all queued at once, to cross the limit more than four times over.
LEAK_RUNS = 60
RECYCLED = re.compile(r"recycled itself \(.*resident memory (\d+) MiB is over max_rss_mb=(\d+)")


def test_a_fast_leak_is_recycled_within_half_the_limit_again(start_tree, dev_server, caplog, flavour):
    caplog.set_level(logging.INFO, logger="conductor_actors.supervision")
    assert LEAK_RUNS * LEAK_MIB > 4 * MAX_RSS_MB
    leaks = compute_workflow(dev_server, LEAK_TASK)
    heartbeat = RuntimeSettings().heartbeat_interval  # the timer check runs this often, as in production
    tree = start_tree([misbehaving_worker("leak", flavour, LEAK_TASK)],
                      runtime_settings=fast_runtime(max_rss_mb=MAX_RSS_MB, heartbeat_interval=heartbeat))
    started = start_computations(dev_server, leaks, range(LEAK_RUNS))  # queued before a poll takes them

    def recycled() -> list[tuple[int, int]]:
        return [(int(m[1]), int(m[2])) for r in caplog.records if (m := RECYCLED.search(r.getMessage()))]

    reported = wait_until(recycled, "the leaking worker process to recycle itself")
    assert reported[0][1] == MAX_RSS_MB
    assert MAX_RSS_MB < reported[0][0] <= CEILING_MB, reported
    statuses = dev_server.wait_for_workflows(list(started), WAIT)
    assert statuses == dict.fromkeys(started, "COMPLETED")  # recycling loses no task
    pids = {dev_server.get_workflow(i)["tasks"][0]["outputData"]["pid"] for i in started}
    assert len(pids) >= 3, "60 tasks of 16 MiB each cross a 200 MiB limit several times"
    every = recycled()
    assert all(rss <= CEILING_MB for rss, _ in every), every
    status: ChildStatus = wait_until(lambda: (s := tree.status()[0]).state == "up" and s, "a fresh process")
    assert status.restarts == len(every) >= 2

