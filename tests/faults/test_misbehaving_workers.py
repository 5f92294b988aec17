"""Worker functions that take their process down: the supervisor replaces the process, the tree
does not give up, and the other workers keep working meanwhile."""

from __future__ import annotations

import logging

from _support.fault_apps.compute import COMPUTE_TASK, compute_worker
from _support.fault_apps.harness import (
    FAULT_ENV,
    WAIT,
    check_results,
    compute_workflow,
    start_computations,
    wait_until,
)
from _support.fault_apps.misbehaving import HARD_EXIT_CODE, LEAK_MIB, misbehaving_worker

from conductor_actors import RuntimeSettings, TaskHandler
from conductor_actors.settings import settings_from_env
from conductor_actors.supervision import ChildStatus

LEAK_TASK = "fault_leak"
#: The memory limit: a fresh worker process is well below it; a few leaking tasks cross it.
MAX_RSS_MB = 100
#: Leaking tasks: each takes LEAK_PAUSE s, so a process is seen over the limit after a few of them.
LEAK_RUNS = 14
LEAK_PAUSE = 0.1
#: Rounds of LEAK_RUNS tasks at most, until three processes ran leaking tasks.
LEAK_ROUNDS = 4


def statuses(tree: TaskHandler) -> dict[str, ChildStatus]:
    return {status.key: status for status in tree.status()}


def test_a_leaking_worker_is_recycled_and_the_others_keep_working(start_tree, dev_server, caplog, flavour):
    """With CONDUCTOR_ACTORS_MAX_RSS_MB set, a worker function that leaks memory gets its process
    replaced whenever it crosses the limit (restarts grow, the tree does not give up, the leaking
    tasks themselves complete), while another worker keeps completing its work unharmed."""
    caplog.set_level(logging.INFO, logger="conductor_actors.supervision")
    runtime = settings_from_env(RuntimeSettings, {**FAULT_ENV, "CONDUCTOR_ACTORS_MAX_RSS_MB": str(MAX_RSS_MB)})
    assert runtime.max_rss_mb == MAX_RSS_MB
    leaks = compute_workflow(dev_server, LEAK_TASK)
    steady = compute_workflow(dev_server, COMPUTE_TASK)
    tree = start_tree([misbehaving_worker("leak", flavour, LEAK_TASK), compute_worker(flavour, thread_count=4)],
                      runtime_settings=runtime)
    assert LEAK_RUNS * LEAK_MIB > 2 * MAX_RSS_MB  # enough to cross the limit at least twice
    working = start_computations(dev_server, steady, range(200), pause=0.01)
    # How many leaking tasks a process runs before its memory check stops it depends on how busy
    # the machine is, so leaking work is fed in rounds until three processes have run some of it.
    pids: set[int] = set()
    for _ in range(LEAK_ROUNDS):
        leaking = start_computations(dev_server, leaks, range(LEAK_RUNS), pause=LEAK_PAUSE)
        assert dev_server.wait_for_workflows(list(leaking), WAIT) == dict.fromkeys(leaking, "COMPLETED")
        pids |= {dev_server.get_workflow(i)["tasks"][0]["outputData"]["pid"] for i in leaking}
        if len(pids) >= 3:
            break
    check_results(dev_server, working, COMPUTE_TASK)
    now = statuses(tree)
    assert now[LEAK_TASK].restarts >= 2 and len(pids) >= 3, (now[LEAK_TASK], pids)
    assert now[COMPUTE_TASK].restarts == 0
    assert tree.join_processes(0) is None  # still running: recycling is not a crash
    recycled = [r.getMessage() for r in caplog.records if "recycled itself" in r.getMessage()]
    assert len(recycled) >= 2 and all(f"over max_rss_mb={MAX_RSS_MB}" in m for m in recycled), recycled
    wait_until(lambda: statuses(tree)[LEAK_TASK].state == "up", "the leaking worker to be up again")


#: How long a crashed worker process may take to be replaced (spawning is the slow part).
RESTART_WAIT = 6.0


def test_a_worker_that_ends_its_process_is_restarted_and_the_others_keep_working(start_tree, dev_server, flavour):
    """A worker function that calls os._exit(7) takes its process down at once (exit code 7; an
    exception, even a ``SystemExit``, only fails its task: see ``test_base_exceptions``): the
    supervisor starts a fresh process for it within seconds, and the other worker's workflows
    complete meanwhile, its process untouched."""
    kind = "hard_exit"
    crash_task = f"fault_{kind}"
    crashes = compute_workflow(dev_server, crash_task)
    steady = compute_workflow(dev_server, COMPUTE_TASK)
    tree = start_tree([misbehaving_worker(kind, flavour, crash_task), compute_worker(flavour, thread_count=4)])
    before = statuses(tree)
    start_computations(dev_server, crashes, range(1))
    working = start_computations(dev_server, steady, range(100), pause=0.01)
    restarted = wait_until(lambda: (s := statuses(tree))[crash_task].restarts == 1 and s,
                           "the crashed worker process to be replaced", timeout=RESTART_WAIT)
    assert restarted[crash_task].last_exit == HARD_EXIT_CODE
    check_results(dev_server, working, COMPUTE_TASK)
    after = wait_until(lambda: (s := statuses(tree))[crash_task].state == "up" and s,
                       "the restarted worker process to be up")
    assert after[crash_task].pid != before[crash_task].pid
    assert after[COMPUTE_TASK].restarts == 0 and after[COMPUTE_TASK].pid == before[COMPUTE_TASK].pid
    assert tree.join_processes(0) is None
