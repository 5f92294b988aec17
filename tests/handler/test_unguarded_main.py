"""A script that starts a ``TaskHandler`` at module level, without ``if __name__ == "__main__":``.

Worker processes are started with "spawn", which re-imports the main script in each of them, so
the script would start a TaskHandler again in every worker process. That start is refused with an
error that says to add the guard, and the parent reports a boot failure naming the worker and that
cause (exit code 3): real scripts run as subprocesses.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from _support.cli_apps import WAIT
from _support.ports import free_port

from conductor_actors.supervision import UNGUARDED_MAIN_CAUSE

TASK = "unguarded_echo"

#: The script as users write it by mistake: everything at module level.
UNGUARDED = textwrap.dedent('''\
    import logging
    import sys

    from conductor_actors import Configuration, TaskHandler, worker_task

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s [%(processName)s %(process)d] %(name)s: %(message)s")


    @worker_task(task_definition_name="{task}")
    def echo(value: int = 0) -> dict:
        return {{"value": value}}


    handler = TaskHandler(configuration=Configuration(server_api_url="{url}"), recovery=False)
    sys.exit(handler.run())
''')


def closed_port_url() -> str:
    """An API URL on a loopback port nobody listens on (the workers never get to poll)."""
    return f"http://127.0.0.1:{free_port()}/api"


def test_unguarded_script_fails_to_boot_with_exit_3_and_says_to_add_the_guard(tmp_path: Path) -> None:
    """The worker process refuses to start a TaskHandler of its own: it prints one error naming the
    worker, the script's line and the fix, and starts nothing. The parent does not restart it: it
    stops with exit code 3 and a reason naming the worker and the unguarded main script."""
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED.format(task=TASK, url=closed_port_url()), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CONDUCTOR")}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=WAIT,
    )
    output = done.stderr
    assert done.returncode == 3, output

    errors = [line for line in output.splitlines() if line.startswith("conductor_actors: error:")]
    assert len(errors) == 1, output
    assert errors[0].startswith(
        f"conductor_actors: error: worker process '{TASK}': a TaskHandler was started while multiprocessing "
        "re-imported the main script to start this worker process"
    ), output
    line = UNGUARDED.splitlines().index("sys.exit(handler.run())") + 1
    assert f"({script}, line {line})" in errors[0], output
    assert errors[0].endswith('under `if __name__ == "__main__":`'), output

    finished = re.findall(r"supervisor finished with exit code 3: (.*)$", output, re.MULTILINE)
    assert finished == [f"worker '{TASK}' failed to start: {UNGUARDED_MAIN_CAUSE} (exit code 5)"], output
    assert len(re.findall(rf"worker {TASK} started \(pid \d+\)", output)) == 1, output  # no restart
    assert output.count("starting 1 worker process(es)") == 1, output  # the worker process started none
    assert "Traceback" not in output, output
