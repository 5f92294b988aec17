"""The benchmark command runs end to end (tiny N, this runtime only: no download of the official SDK)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from run import table  # noqa: E402


@pytest.mark.parametrize(("workload", "runtime", "label"), [
    ("noop_sync", "ours", "conductor_actors"),
    ("sleep_async_100", "ours", "conductor_actors"),
    ("noop_async", "ours_metrics", "conductor_actors, metrics on"),
])
def test_the_benchmark_command_runs_a_workload_end_to_end(tmp_path: Path, workload: str, runtime: str,
                                                           label: str) -> None:
    out = tmp_path / "runs.json"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--workloads", workload, "--runtimes", runtime,
         "--repeats", "1", "--scale", "0.01", "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    runs = json.loads(out.read_text())
    assert len(runs) == 1 and runs[0]["workload"] == workload and runs[0]["runtime"] == runtime
    run = runs[0]
    assert run["completed"] == run["tasks"] > 0
    assert run["tasks_per_second"] > 0 and run["peak_rss_mb"] > 10
    # CPU is read from /proc in clock ticks (10 ms) by a sampler thread: over the few milliseconds a
    # tiny run's tasks take, a busy machine may show no tick or no sample at all, so 0 is a correct
    # reading here. The smoke test checks that the figure is measured, not how large it is.
    assert isinstance(run["cpu_ms_per_task"], (int, float)) and 0 <= run["cpu_ms_per_task"] < float("inf")
    assert run["requests_per_task"]["total"] >= 1.0
    assert f"| {workload} | {label} |" in done.stdout
    ceiling_line = f"- {workload}: "
    if workload.startswith("sleep_async"):  # the bare-chain ceiling is measured beside it
        line = next(line for line in done.stdout.splitlines() if line.startswith(ceiling_line))
        assert "% of Little's law (asyncio.sleep p50 " in line and "update-v2 round trip p50 " in line, line
    else:
        assert ceiling_line not in done.stdout
    noop_ceiling = "Ceiling of the no-op workloads on this server (`devserver_throughput.py --tasks 60 --clients 4`: "
    if workload.startswith("noop") and runtime == "ours":  # the dev server's own ceiling is measured beside it
        line = next(line for line in done.stdout.splitlines() if line.startswith(noop_ceiling))
        assert re.search(rf"\): [\d,]+ tasks/s; conductor_actors reaches {workload} \d+% of it\.$", line), line
    else:
        assert noop_ceiling not in done.stdout


def test_the_table_shows_ratios_against_the_official_sdk() -> None:
    figures = {"tasks_per_second": 300.0, "cpu_ms_per_task": 0.5, "peak_rss_mb": 60.0, "requests_per_task": 1.0,
               "latency_p50_ms": 2.0, "latency_p99_ms": 9.0, "littles_percent": None, "first_poll_seconds": 0.3}
    official = dict(figures, tasks_per_second=100.0, cpu_ms_per_task=1.5, peak_rss_mb=120.0)
    markdown = table({"noop_sync": {"ours": figures, "official": official}})
    ratio_row = next(line for line in markdown.splitlines() if "ratio" in line)
    assert "| 3.00x | 0.33x | 0.50x |" in ratio_row


def test_the_table_shows_what_metrics_cost() -> None:
    off = {"tasks_per_second": 400.0, "cpu_ms_per_task": 0.5, "peak_rss_mb": 60.0, "requests_per_task": 1.0,
           "latency_p50_ms": 2.0, "latency_p99_ms": 9.0, "littles_percent": None, "first_poll_seconds": 0.3}
    on = dict(off, tasks_per_second=390.0, cpu_ms_per_task=0.55, peak_rss_mb=66.0)
    markdown = table({"noop_async": {"ours": off, "ours_metrics": on}})
    assert "| noop_async | conductor_actors, metrics on |" in markdown
    ratio_row = next(line for line in markdown.splitlines() if "metrics on / off" in line)
    assert "| 0.97x | 1.10x | 1.10x |" in ratio_row


def test_a_run_in_which_nothing_completes_is_reported_as_stalled_not_awaited_forever() -> None:
    """A runtime that takes no task (here a process that only idles) is given up after the stall
    time with the server's task counts in the reason, instead of hanging the whole benchmark."""
    from _harness import DevServerProcess, _wait_done

    server = DevServerProcess()
    idle = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        server.call("POST", "/api/metadata/workflow", {
            "name": "stall", "version": 1, "schemaVersion": 2,
            "tasks": [{"name": "never_taken", "taskReferenceName": "t", "type": "SIMPLE"}],
        })
        server.call("POST", "/api/workflow/stall", {})
        reason = _wait_done(server, 1, timeout=60.0, process=idle, stall=0.5)
    finally:
        idle.kill()
        idle.wait()
        server.stop()
    assert reason is not None and reason.startswith("stalled: no task completed for 0.5 s"), reason
    assert "'SCHEDULED': 1" in reason


def test_the_table_marks_a_runtime_whose_runs_ended_early() -> None:
    figures = {"tasks_per_second": 300.0, "cpu_ms_per_task": 0.5, "peak_rss_mb": 60.0, "requests_per_task": 1.0,
               "latency_p50_ms": 2.0, "latency_p99_ms": 9.0, "littles_percent": None, "first_poll_seconds": 0.3,
               "ended_early": 2.0, "runs": 3.0}
    markdown = table({"sleep_async_1000": {"official": figures}})
    assert "| sleep_async_1000 | official SDK 2.0.0 (2 of 3 runs ended early) |" in markdown
