"""The dev server throughput script runs end to end (tiny backlog, one client process)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from devserver_throughput import per_second  # noqa: E402


def test_the_script_completes_a_small_backlog_and_reports_rates() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "devserver_throughput.py"), "--tasks", "50", "--clients", "1"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rate_line = re.compile(r"^requests: \d+ \(\d+ polls, \d+ update-v2\) -> [\d,]+ requests/s$", re.M)
    assert rate_line.search(done.stdout), done.stdout
    assert "tasks completed: 50 in " in done.stdout
    assert "errors: 0; tasks left in queue: 0" in done.stdout


def test_a_rate_over_no_measured_time_is_not_a_division_by_zero() -> None:
    assert per_second(0, 0.0) == "n/a"
    assert per_second(1234, 0.5) == "2,468"
