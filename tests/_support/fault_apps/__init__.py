"""Worker modules and test helpers for the fault-injection suite (``tests/faults``) and the outbox
tests (``tests/recovery``).

Worker processes re-import worker functions by module and name, so the workers live here rather
than in the tests: ``compute`` (a deterministic, well-behaved worker), ``misbehaving`` (workers
that leak memory or end their process), ``cli_compute`` (the compute worker registered for a
``python -m conductor_actors`` run) and ``journal_writer`` (a process that writes outbox entries
until it is killed). ``harness`` is the test side: settings, waiting, result checks, the outbox;
``outbox_driver`` runs one RecoveryActor under a test's control.
"""

from __future__ import annotations

from .compute import (
    CLI_COMPUTE_TASK,
    COMPUTE_TASK,
    compute_async,
    compute_sync,
    compute_worker,
    expected_output,
)
from .misbehaving import HARD_EXIT_CODE, LEAK_MIB, misbehaving_worker

__all__ = [
    "CLI_COMPUTE_TASK",
    "COMPUTE_TASK",
    "HARD_EXIT_CODE",
    "LEAK_MIB",
    "compute_async",
    "compute_sync",
    "compute_worker",
    "expected_output",
    "misbehaving_worker",
]
