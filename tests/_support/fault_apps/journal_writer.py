"""``python -m _support.fault_apps.journal_writer PATH``: add outbox entries to the journal at PATH
until killed, printing each entry's id on its own line (flushed) once ``Journal.add`` returned, so
the reader knows which entries were committed. Entry n is for task ``task-<n>`` of workflow
``workflow-<n>`` with output ``writer_output(n)``. Exits 2 with a message when PATH is missing.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from conductor_actors import TaskResult, TaskResultStatus
from conductor_actors.recovery import Journal

__all__ = ["WRITER_TASK", "writer_output"]

WRITER_TASK = "journal_writer"


def writer_output(n: int) -> dict[str, Any]:
    return {"n": n, "padding": "x" * 2000}


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m _support.fault_apps.journal_writer PATH", file=sys.stderr)
        return 2
    journal = Journal(argv[0])
    n = 0
    while True:
        result = TaskResult(task_id=f"task-{n}", workflow_instance_id=f"workflow-{n}", worker_id="writer",
                            status=TaskResultStatus.COMPLETED, output_data=writer_output(n))
        print(journal.add(WRITER_TASK, result, "ConductorHTTPError: HTTP 503"), file=sys.stdout, flush=True)
        n += 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
