"""``examples/update_failure_journal.py`` runs as a script and journals every failed update."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from _support.cli_apps import WAIT

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "update_failure_journal.py"


def test_update_failure_journal_example_records_every_failure_and_replays_them(tmp_path: Path) -> None:
    """Run as a subprocess, the example's parent-side actor writes one JSON line per failed update
    (full TaskResult: ids, COMPLETED, the output; the attempts and the 503 cause), prints them, and
    replaying the journal completes every workflow (exit 0)."""
    journal = tmp_path / "failures.jsonl"
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--journal", str(journal), "--tasks", "4", "--timeout", str(WAIT)],
        cwd=tmp_path, capture_output=True, text=True, timeout=2 * WAIT, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    assert len(entries) == 4, entries
    assert len({e["task_id"] for e in entries}) == len({e["workflow_instance_id"] for e in entries}) == 4
    for entry in entries:
        result = entry["result"]
        assert entry["task_type"] == "shout" and entry["attempts"] == 3
        assert "503" in entry["cause"]
        assert result["status"] == "COMPLETED"
        assert (result["task_id"], result["workflow_instance_id"]) == (entry["task_id"], entry["workflow_instance_id"])
        assert result["worker_id"] == entry["worker_id"]
    assert sorted(e["result"]["output_data"]["loud"] for e in entries) == [f"HELLO {n}!" for n in range(4)]
    assert f"recorded 4 update failure(s) in {journal}" in done.stdout
    assert all(e["task_id"] in done.stdout for e in entries)
    assert "replayed 4 result(s) from the journal; 4/4 workflows completed" in done.stdout
