"""The chain-ceiling script runs end to end on a tiny backlog and reports its three figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_the_script_completes_the_backlog_and_reports_rate_sleep_and_round_trip() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "chain_ceiling.py"), "--concurrency", "5", "--sleep", "0.01",
         "--tasks", "40"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^tasks done: 40 of 40 in [\d.]+ s -> [\d,]+ tasks/s, \d+% of Little's law \(500 tasks/s\)$",
                     done.stdout, re.M), done.stdout
    assert re.search(r"^asyncio\.sleep\(0\.01\) took: p50 [\d.]+ ms, p90 [\d.]+ ms$", done.stdout, re.M), done.stdout
    assert re.search(r"^update-v2 round trip: p50 [\d.]+ ms, p90 [\d.]+ ms$", done.stdout, re.M), done.stdout
