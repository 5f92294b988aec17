"""The test side of the fault suite: fast settings, waiting, workflows, result checks, the outbox.

Everything here runs on the test's own thread. ``WAIT``, ``wait_until`` and ``process_gone`` come
from ``_support.waiting``. ``FAULT_ENV`` holds the ``CONDUCTOR_ACTORS_*``
numbers that make a fault scenario take seconds (few quick update attempts, short poll-error and
restart backoffs, frequent heartbeats); ``fast_runtime``/``fast_supervision`` read them the way the
CLI does, ``fast_recovery`` is the outbox with sub-second delivery attempts. ``fault_cli`` starts
``python -m conductor_actors`` with those numbers as a ``CliTree`` of ``_support.cli_tree``.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from conductor_actors import RuntimeSettings
from conductor_actors.recovery import DEFAULT_FILE_NAME, Journal
from conductor_actors.settings import RecoverySettings, SupervisionSettings, settings_from_env

from ..cli_tree import CLI, TESTS_DIR, CliTree, hermetic_env, run_to_end
from ..waiting import WAIT, process_gone, wait_until
from .compute import expected_output

__all__ = [
    "FAULT_ENV",
    "TESTS_DIR",
    "WAIT",
    "check_results",
    "compute_workflow",
    "fast_recovery",
    "fast_runtime",
    "fast_supervision",
    "fault_cli",
    "journal_counts",
    "journal_entries",
    "outbox_command",
    "outbox_settled",
    "process_gone",
    "rss_mib",
    "start_computations",
    "terminal_conflicts",
    "wait_until",
]

#: Runtime and supervision settings small enough for a fault scenario to take seconds.
FAULT_ENV: dict[str, str] = {
    "CONDUCTOR_ACTORS_UPDATE_RETRY_DELAYS": "0.05,0.1",
    "CONDUCTOR_ACTORS_POLL_ERROR_BACKOFF_BASE": "0.05",
    "CONDUCTOR_ACTORS_POLL_ERROR_BACKOFF_CAP": "0.3",
    "CONDUCTOR_ACTORS_HEARTBEAT_INTERVAL": "0.2",
    "CONDUCTOR_ACTORS_HEARTBEAT_TIMEOUT": "15",
    "CONDUCTOR_ACTORS_RESTART_BACKOFF_BASE": "0.05",
    "CONDUCTOR_ACTORS_RESTART_BACKOFF_CAP": "0.2",
    "CONDUCTOR_ACTORS_RESTART_JITTER": "0",
    "CONDUCTOR_ACTORS_MAX_RESTARTS": "50",
    "CONDUCTOR_ACTORS_RESTART_WINDOW": "60",
    "CONDUCTOR_ACTORS_KILL_TIMEOUT": "0.5",
    "CONDUCTOR_ACTORS_SHUTDOWN_GRACE": "1",
    "CONDUCTOR_ACTORS_SHUTDOWN_FLUSH": "1",
}


def fast_runtime(**overrides: Any) -> RuntimeSettings:
    return settings_from_env(RuntimeSettings, FAULT_ENV, **overrides)


def fast_supervision(**overrides: Any) -> SupervisionSettings:
    return settings_from_env(SupervisionSettings, FAULT_ENV, **overrides)


def fast_recovery(state_dir: Path | str, **overrides: Any) -> RecoverySettings:
    """The outbox in ``state_dir``, trying deliveries every 0.2-1 s and looking every 0.2 s."""
    values: dict[str, Any] = {"retry_backoff_base": 0.2, "retry_backoff_cap": 1.0, "check_interval": 0.2}
    values.update(overrides)
    return RecoverySettings(state_dir=str(state_dir), **values)


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB, from ``/proc/<pid>/status`` (VmRSS)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS line for pid {pid}")


def compute_workflow(server: Any, task_type: str) -> str:
    """Register a one-task workflow of the compute worker ``task_type`` (input ``n`` and ``pause``)
    on the dev ``server``; returns its name. The task definition allows no retries, so a task that
    times out or fails shows up as a failed workflow instead of being repaired silently."""
    server.register_task_def({"name": task_type, "retryCount": 0})
    name = f"{task_type}_flow"
    server.register_workflow({
        "name": name, "version": 1, "schemaVersion": 2,
        "tasks": [{"name": task_type, "taskReferenceName": "only",
                   "inputParameters": {"n": "${workflow.input.n}", "pause": "${workflow.input.pause}"}}],
    })
    return name


def start_computations(server: Any, workflow: str, numbers: range, pause: float = 0.0) -> dict[str, int]:
    """Start one ``workflow`` per number; returns workflow id -> n."""
    return {server.start_workflow(workflow, {"n": n, "pause": pause}): n for n in numbers}


def check_results(server: Any, started: Mapping[str, int], task_type: str, timeout: float = WAIT) -> None:
    """Every workflow in ``started`` completes, ran exactly one ``task_type`` task, and that task
    is COMPLETED with exactly the output the worker computes for its ``n`` and task id; no task of
    that type on the server ended any other way, and no finished task on the server was updated
    again with a different status or output."""
    statuses = server.wait_for_workflows(list(started), timeout)
    assert statuses == dict.fromkeys(started, "COMPLETED"), {k: v for k, v in statuses.items() if v != "COMPLETED"}
    wrong = []
    for workflow_id, n in started.items():
        tasks = server.get_workflow(workflow_id)["tasks"]
        if len(tasks) != 1 or tasks[0]["status"] != "COMPLETED" or tasks[0]["outputData"] != expected_output(
                n, tasks[0]["taskId"]):
            wrong.append((workflow_id, n, [(t["taskId"], t["status"], t["outputData"]) for t in tasks]))
    assert not wrong, f"{len(wrong)} workflow(s) with unexpected tasks, e.g. {wrong[:3]}"
    unexpected = [(t["taskId"], t["status"]) for t in server.tasks(task_type=task_type) if t["status"] != "COMPLETED"]
    assert not unexpected, f"tasks of {task_type} that did not end COMPLETED: {unexpected[:5]}"
    conflicts = terminal_conflicts(server)
    assert not conflicts, f"{len(conflicts)} task(s) updated again with a different result, e.g. {conflicts[:3]}"


def terminal_conflicts(server: Any) -> list[dict[str, Any]]:
    """What the dev ``server`` recorded as terminal updates of already finished tasks with another
    status or output (``GET /__devserver__/conflicts``): one record per task."""
    with urllib.request.urlopen(f"{server.base_url}/__devserver__/conflicts", timeout=WAIT) as answer:
        records: list[dict[str, Any]] = json.load(answer)
    return records


def _journal(state_dir: Path | str) -> Journal:
    path = Path(state_dir) / DEFAULT_FILE_NAME
    assert path.exists(), f"no outbox journal at {path}"
    return Journal(str(path))


def journal_counts(state_dir: Path | str) -> dict[str, int]:
    """``pending``/``closed``/``dead`` entries of the outbox in ``state_dir`` (read by a Journal of
    our own); all 0 while no journal was written there."""
    if not (Path(state_dir) / DEFAULT_FILE_NAME).exists():
        return {"pending": 0, "closed": 0, "dead": 0}
    journal = _journal(state_dir)
    try:
        return journal.counts()
    finally:
        journal.close()


def journal_entries(state_dir: Path | str, table: str) -> list[Any]:
    """The ``JournalEntry`` rows of ``table`` (pending, closed or dead) in ``state_dir``."""
    journal = _journal(state_dir)
    try:
        return journal.entries(table)
    finally:
        journal.close()


def outbox_settled(state_dir: Path | str, timeout: float = WAIT) -> dict[str, int]:
    """Wait until the outbox in ``state_dir`` has nothing pending; returns its counts (all 0 when
    no journal was ever written there)."""
    def settled() -> dict[str, int] | None:
        counts = journal_counts(state_dir)
        return counts if counts["pending"] == 0 else None

    return wait_until(settled, "the outbox to deliver what it holds", timeout)


def outbox_command(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m conductor_actors outbox ARGS`` to its end (output captured as text; ``env``
    ``None`` keeps the test's own environment)."""
    return run_to_end(["outbox", *args], env)


def fault_cli(args: Sequence[str], log_path: Path, flavour: str = "sync",
              extra: Mapping[str, str] | None = None) -> CliTree:
    """``python -m conductor_actors ARGS`` started as a ``CliTree`` with the hermetic environment
    and ``FAULT_ENV``, the worker ``flavour`` and ``extra``; no outbox directory is set (the tests
    pass ``--state-dir``)."""
    env = hermetic_env(None, settings=FAULT_ENV, flavour=flavour, extra=extra)
    return CliTree([*CLI, *args], env, log_path)
