"""Fixtures of the migration tests: the feature document's workers in real processes.

``launch(*argv, server=..., env=...)`` starts ``python <argv>`` in the tests directory (so
``_support.migration`` imports) as a ``CliTree`` with the hermetic environment of
``_support.cli_tree``: no ``CONDUCTOR*`` variable from the outside, the small ``FAST_ENV`` runtime
numbers, an outbox directory of the test's own, ``CONDUCTOR_SERVER_URL`` pointing at the test's
dev server, unbuffered output. Everything the process and its worker processes print goes to one
log file. At teardown the log is printed (pytest shows it for a failed test) and whatever still
runs is killed by pid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from _support.cli_tree import CliTree, finish_trees, hermetic_env

Launch = Callable[..., CliTree]


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """``launch(*argv, server=<DevServer>, env=None) -> CliTree`` (not waited on)."""
    started: list[CliTree] = []

    def start(*argv: str, server: Any, env: Mapping[str, str] | None = None) -> CliTree:
        environment = hermetic_env(tmp_path / "state", server_url=server.url, flavour=None, extra=env)
        run = CliTree(argv, environment, tmp_path / f"run-{len(started) + 1}.log")
        started.append(run)
        return run

    yield start
    finish_trees(started)
