"""The official way to write a listener, ``class CustomMonitor(TaskRunnerEventsListener)`` with only
the methods it needs, must also pass a type checker: projects that run mypy migrate too."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from _support.cli_apps import WAIT

REPO_ROOT = Path(__file__).resolve().parents[2]

LISTENER_MODULE = '''
    from conductor_actors import TaskExecutionCompleted, TaskHandler, TaskRunnerEventsListener


    class CustomMonitor(TaskRunnerEventsListener):
        def on_task_execution_completed(self, event: TaskExecutionCompleted) -> None:
            print(f"Task {event.task_id} completed in {event.duration_ms}ms")


    handler = TaskHandler(event_listeners=[CustomMonitor()])
'''


def test_a_listener_subclassing_the_protocol_type_checks(tmp_path: Path) -> None:
    module = tmp_path / "monitor.py"
    module.write_text(textwrap.dedent(LISTENER_MODULE))
    checked = subprocess.run(  # the package's own sources are followed silently: only the module is judged
        [sys.executable, "-m", "mypy", "--no-incremental", "--follow-imports=silent", "--cache-dir", os.devnull,
         str(module)],
        cwd=tmp_path, env={**os.environ, "MYPYPATH": str(REPO_ROOT)}, capture_output=True, text=True,
        timeout=WAIT * 4, stdin=subprocess.DEVNULL,
    )
    report = checked.stdout + checked.stderr
    assert "Cannot instantiate abstract class" not in report, report
    assert checked.returncode == 0, report
