"""The benchmark command runs end to end (tiny N, this runtime only: no download of the official SDK)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from run import table  # noqa: E402


@pytest.mark.parametrize("workload", ["noop_sync", "sleep_async_100"])
def test_the_benchmark_command_runs_a_workload_end_to_end(tmp_path: Path, workload: str) -> None:
    out = tmp_path / "runs.json"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--workloads", workload, "--runtimes", "ours",
         "--repeats", "1", "--scale", "0.01", "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    runs = json.loads(out.read_text())
    assert len(runs) == 1 and runs[0]["workload"] == workload
    run = runs[0]
    assert run["completed"] == run["tasks"] > 0
    assert run["tasks_per_second"] > 0 and run["cpu_ms_per_task"] > 0 and run["peak_rss_mb"] > 10
    assert run["requests_per_task"]["total"] >= 1.0
    assert f"| {workload} | conductor_actors |" in done.stdout


def test_the_table_shows_ratios_against_the_official_sdk() -> None:
    figures = {"tasks_per_second": 300.0, "cpu_ms_per_task": 0.5, "peak_rss_mb": 60.0, "requests_per_task": 1.0,
               "latency_p50_ms": 2.0, "latency_p99_ms": 9.0, "littles_percent": None, "first_poll_seconds": 0.3}
    official = dict(figures, tasks_per_second=100.0, cpu_ms_per_task=1.5, peak_rss_mb=120.0)
    markdown = table({"noop_sync": {"ours": figures, "official": official}})
    ratio_row = next(line for line in markdown.splitlines() if "ratio" in line)
    assert "| 3.00x | 0.33x | 0.50x |" in ratio_row
