"""Fixtures of the CLI tests: ``python -m conductor_actors`` as a real subprocess.

``cli`` starts the CLI in the tests directory (so ``_support.cli_apps.<scenario>`` imports) as a
``CliTree`` with the hermetic environment of ``_support.cli_tree`` (runtime and supervision numbers
small enough, ``FAST_ENV``, for each scenario to take seconds; the outbox journal in the test's own
directory; ``CLI_APPS_FLAVOUR`` choosing the worker flavour). Parent and children log to one file
the test reads. Whatever a test leaves running is killed, by pid, when it ends. ``run_cli`` runs
the CLI to its end and captures what it printed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _support.cli_tree import CLI, CliTree, finish_trees, hermetic_env, run_to_end
from _support.waiting import WAIT

StartCli = Callable[..., CliTree]


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[StartCli]:
    """``cli(*args, flavour="sync", server=None, env=None) -> CliTree``: start the CLI (not waited on).

    ``server`` (a DevServer) sets ``CONDUCTOR_SERVER_URL``; ``env`` adds or overrides variables.
    At teardown each run's log is printed (pytest shows it for a failed test), anything still
    running is killed, and the test fails if a worker process outlived a CLI that had exited."""
    runs: list[CliTree] = []

    def start(*args: str, flavour: str = "sync", server: Any = None, env: Mapping[str, str] | None = None) -> CliTree:
        url = None if server is None else server.url
        environment = hermetic_env(tmp_path / "state", server_url=url, flavour=flavour, extra=env)
        run = CliTree([*CLI, *args], environment, tmp_path / f"cli-{len(runs) + 1}.log")
        runs.append(run)
        return run

    yield start
    finish_trees(runs)


@dataclass(frozen=True)
class Finished:
    """What a CLI run that went to its end left behind."""

    code: int
    stdout: str
    stderr: str
    seconds: float


RunCli = Callable[..., Finished]


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """``run_cli(*args, flavour="sync", env=None, timeout=WAIT) -> Finished``: run the CLI to its end."""

    def run(*args: str, flavour: str = "sync", env: Mapping[str, str] | None = None,
            timeout: float = WAIT) -> Finished:
        started = time.monotonic()
        done = run_to_end(args, hermetic_env(tmp_path / "state", flavour=flavour, extra=env), timeout)
        return Finished(done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    return run

