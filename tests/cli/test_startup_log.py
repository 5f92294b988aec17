"""What a worker process logs when it starts: the official SDK's start-up line with its resolved
configuration, then the line naming the task runner of its flavour."""

from __future__ import annotations

import re
import signal
from typing import TYPE_CHECKING

from _support.cli_apps import SLEEPY_TASK

from conductor_actors.cli import EXIT_OK

if TYPE_CHECKING:
    from conductor_actors.devserver import DevServer

    from .conftest import StartCli

RUNNER_LINES = {
    "sync": rf"Created TaskRunner for sync worker: {SLEEPY_TASK} \(8 executor threads, \d+ updater threads\)",
    "async": rf"Created AsyncTaskRunner for async worker: {SLEEPY_TASK} \(up to 8 concurrent tasks\)",
}


def test_worker_process_logs_its_configuration_and_its_runner(
    cli: StartCli, dev_server: DevServer, flavour: str
) -> None:
    """The worker process (its own name and pid in the log line) logs ``Conductor Worker[name=...,
    pid=<its pid>, ...]`` and then ``Created TaskRunner`` (sync) or ``Created AsyncTaskRunner``
    (async), each once and in that order; SIGTERM -> 0."""
    run = cli("_support.cli_apps.sleepy", flavour=flavour, server=dev_server)
    pid = run.wait_ready(SLEEPY_TASK)
    from_child = rf"^.*\[{SLEEPY_TASK} {pid}\] conductor_actors\.runtime: "
    runner = run.wait_for(from_child + RUNNER_LINES[flavour] + "$", f"the {flavour} runner line")
    startup = run.matches(from_child + rf"Conductor Worker\[name={SLEEPY_TASK}, pid={pid}, status=active, "
                          r"poll_interval=20ms, thread_count=8, .*\]$")
    assert len(startup) == 1 and len(runner) == 1, run.tail()
    assert startup[0].start() < runner[0].start(), run.tail()
    other = RUNNER_LINES["async" if flavour == "sync" else "sync"].split(" for ")[0]
    assert not re.search(other + " for", run.log()), run.tail()
    run.send(signal.SIGTERM)
    assert run.wait_exit() == EXIT_OK, run.tail()
