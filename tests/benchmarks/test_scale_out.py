"""The scale-out benchmark runs end to end on a tiny N and its exactly-once checks hold (never a speed).

With network namespaces where this machine allows them (root, the ``ip`` command, a willing kernel),
else on loopback as the benchmark says; and on loopback when asked. Every namespace and link it
made is gone afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from _harness import DevServerProcess  # noqa: E402
from scale_out import LINK_PREFIX, NETNS_PREFIX, WORKLOAD, Phase, ScaleOut, _check, table  # noqa: E402


def _left_behind(pid: int) -> list[str]:
    """Namespaces and links named after the benchmark process ``pid`` that still exist."""
    if shutil.which("ip") is None:
        return []
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return ([name for name in namespaces if name.startswith(f"{NETNS_PREFIX}{pid}-")]
            + [word for word in links.split() if word.startswith(f"{LINK_PREFIX}{pid}")])


@pytest.mark.parametrize("where", ["namespaces if possible", "loopback"])
def test_trees_on_one_server_complete_every_task_exactly_once_also_when_one_is_stopped(tmp_path: Path,
                                                                                       where: str) -> None:
    out = tmp_path / "scale_out.json"
    command = [sys.executable, str(BENCHMARKS / "scale_out.py"), "--trees", "2", "--tasks", "20",
               "--concurrency", "2", "--sigterm", "2", "--timeout", "120", "--json", str(out)]
    if where == "loopback":
        command.append("--loopback")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = process.communicate(timeout=150)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert _left_behind(process.pid) == [], output

    result = json.loads(out.read_text())
    if where == "loopback":
        assert result["hosts"].startswith("loopback") and result["namespaces"] == []
    elif result["namespaces"]:
        assert len(result["namespaces"]) == 2 and result["hosts"].startswith("network namespaces")
    else:  # the one line that says why, and the trees ran on loopback
        assert "loopback: network namespaces cannot be made here (" in output, output
    assert f"hosts: {result['hosts']}" in output

    plain, stopped = result["phases"]
    for phase in (plain, stopped):
        assert phase["failures"] == [], output
        assert phase["completed"] == phase["tasks"] == 40
        assert sum(phase["by_tree"].values()) == 40 and set(phase["by_tree"]) == {"host-1", "host-2"}
    assert not plain["sigterm"] and stopped["sigterm"]
    assert stopped["stopped_exit"] == 0 and stopped["handed_back"] == stopped["picked_up"] is not None
    assert "| 2 trees, SIGTERM to one | 40 |" in output


def test_the_check_sees_a_task_completed_twice_a_lost_one_and_one_no_tree_ran() -> None:
    """The server's record against exactly once: a second completion with another result is a
    conflict, a task left IN_PROGRESS is lost, a result without a tree's name came from elsewhere."""
    server = DevServerProcess()
    try:
        server.preload("bench", WORKLOAD.task_type, 3)
        first, second, third = server.call("GET", f"/api/tasks/poll/batch/{WORKLOAD.task_type}?count=3&workerid=x")

        def complete(task: dict, output: dict) -> None:
            server.call("POST", "/api/tasks", {"taskId": task["taskId"], "status": "COMPLETED", "outputData": output,
                                               "workflowInstanceId": task["workflowInstanceId"]})

        complete(first, {"host": "host-1", "execution": "1-1"})
        complete(first, {"host": "host-2", "execution": "2-1"})
        complete(second, {"host": "elsewhere"})
        phase = Phase(trees=2, tasks=3, concurrency=1)
        _check(server, phase, ["host-1", "host-2"])
    finally:
        server.stop()
    assert third["status"] == "IN_PROGRESS"
    assert phase.completed == 2 and phase.by_tree == {"host-1": 1, "host-2": 0}
    assert any(f.startswith("lost: ") and "'IN_PROGRESS': 1" in f for f in phase.failures), phase.failures
    assert any(f.startswith("1 task(s) completed twice") for f in phase.failures), phase.failures
    assert "1 task(s) completed without a result of one of the trees" in phase.failures


def test_the_table_shows_the_scaling_against_one_tree_and_what_the_stopped_tree_left() -> None:
    one = Phase(1, 100, 10, completed=100, rate=200.0, server_cpu_percent=5.0, trees_cpu_percent=3.0,
                by_tree={"host-1": 100})
    four = Phase(4, 400, 10, completed=400, rate=760.0, server_cpu_percent=18.0, trees_cpu_percent=12.0,
                 by_tree={f"host-{n}": 100 for n in range(1, 5)})
    stopped = Phase(4, 400, 10, sigterm=True, completed=400, rate=700.0, by_tree={"host-1": 120},
                    handed_back=3, picked_up=3, signalled_after=150, stopped_exit=0, failures=["lost: ..."])
    markdown = table(ScaleOut("loopback", [], [one, four, stopped]))
    assert "| 1 tree | 100 | 200 | 1.00x (1x) | 100% | 5% | 3% | 100 | yes |" in markdown
    assert "| 4 trees | 400 | 760 | 3.80x (4x) | 95% | 18% | 12% | 100, 100, 100, 100 | yes |" in markdown
    assert ("| 4 trees, SIGTERM to one | 400 | 700 | - | 88% | 0% | 0% | 120 | NO; host-4 stopped after 150 "
            "completed, exit 0; 3 handed back, 3 of them completed by the others |") in markdown


def test_no_namespace_is_made_without_the_privilege_to_remove_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import scale_out

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with scale_out.Hosts(2, loopback=False) as hosts:
        assert hosts.namespaces == [] and hosts.prefix(0) == [] and hosts.server_address == "127.0.0.1"
    assert hosts.description == "loopback: network namespaces cannot be made here (not root)"
