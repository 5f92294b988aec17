"""``--metrics-port`` and ``--metrics-dir`` from the command line: a port in use is a usage error of
one line, and a metrics directory gets ``metrics.prom`` with the counts of the tasks that ran."""

from __future__ import annotations

import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _support.cli_apps import SLEEPY_TASK, WAIT, one_task_workflow, start_workflows, wait_until

from conductor_actors.cli import EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from conductor_actors.devserver import DevServer

    from .conftest import RunCli, StartCli

TASKS = 5


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something listens on, on every address, for the whole test."""
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        yield listener.getsockname()[1]


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` with exactly ``labels`` in a Prometheus text page (None
    when it is absent)."""
    for found in re.finditer(rf"^{re.escape(name)}\{{(.*)\}} (\S+)$", text, re.MULTILINE):
        if dict(re.findall(r'(\w+)="([^"]*)"', found.group(1))) == labels:
            return float(found.group(2))
    return None


def test_metrics_port_in_use_is_a_usage_error_of_one_line(run_cli: RunCli, busy_port: int) -> None:
    """``--metrics-port`` on a port in use: exit 2, and one line that names ``http_port`` and the
    port; no worker process is started."""
    done = run_cli("--metrics-port", str(busy_port), "_support.cli_apps.sleepy")
    assert done.code == EXIT_USAGE, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done
    assert lines[0].startswith(f"conductor_actors: error: http_port={busy_port}: "), done
    assert "Address already in use" in lines[0], done
    assert "started (pid" not in done.stderr


def test_metrics_dir_gets_a_file_with_the_task_counts(
    cli: StartCli, dev_server: DevServer, flavour: str, tmp_path: Path
) -> None:
    """``--metrics-dir DIR``: ``DIR/metrics.prom`` counts every task the worker ran (started,
    executed and updated successfully) and is still there, final, after SIGTERM -> 0."""
    directory = tmp_path / "metrics"
    run = cli("--metrics-dir", str(directory), "_support.cli_apps.sleepy", flavour=flavour, server=dev_server)
    run.wait_ready(SLEEPY_TASK)
    ids = start_workflows(dev_server, one_task_workflow(dev_server, SLEEPY_TASK, ["seconds", "index"]),
                          ({"seconds": 0, "index": i} for i in range(TASKS)))
    assert dev_server.wait_for_workflows(ids, WAIT) == dict.fromkeys(ids, "COMPLETED")
    page = directory / "metrics.prom"

    def counted() -> bool:
        text = page.read_text() if page.exists() else ""
        return sample(text, "task_execution_started_total", taskType=SLEEPY_TASK) == TASKS

    wait_until(counted, f"{page.name} to count {TASKS} started tasks")
    run.send(signal.SIGTERM)
    assert run.wait_exit() == EXIT_OK, run.tail()
    text = page.read_text()
    assert sample(text, "task_execution_started_total", taskType=SLEEPY_TASK) == TASKS, text
    assert sample(text, "task_execute_time_seconds_count", taskType=SLEEPY_TASK, status="SUCCESS") == TASKS, text
    assert sample(text, "task_update_time_seconds_count", taskType=SLEEPY_TASK, status="SUCCESS") == TASKS, text
    assert (sample(text, "task_poll_total", taskType=SLEEPY_TASK) or 0) >= 1, text
