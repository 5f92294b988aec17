"""Fixtures of the fault-injection suite: a real worker tree (``TaskHandler``) against the test's
dev server, with the fast settings of ``_support.fault_apps.harness`` and the outbox in the test's
own state directory.

``start_tree(workers, **kwargs)`` builds, starts and waits for a ``TaskHandler`` (any keyword
overrides the defaults); every tree a test started is stopped when the test ends and must stop
cleanly, with no worker process left alive. ``cli_tree(*args, flavour=..., extra=...)`` starts
``python -m conductor_actors ARGS`` as a process tree of its own (see ``fault_cli``); whatever is
left of it is killed when the test ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from _support.cli_tree import CliTree
from _support.fault_apps.harness import WAIT, fast_recovery, fast_runtime, fast_supervision, fault_cli

from conductor_actors import Configuration, TaskHandler


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """The outbox directory of the test's worker tree."""
    return tmp_path / "state"


StartTree = Callable[..., TaskHandler]


@pytest.fixture
def start_tree(dev_server: Any, state_dir: Path) -> Iterator[StartTree]:
    """``start_tree(workers, **kwargs) -> TaskHandler``, started, every worker process Ready."""
    started: list[TaskHandler] = []

    def start(workers: list[Any], **kwargs: Any) -> TaskHandler:
        kwargs.setdefault("configuration", Configuration(server_api_url=dev_server.url))
        kwargs.setdefault("scan_for_annotated_workers", False)
        kwargs.setdefault("runtime_settings", fast_runtime())
        kwargs.setdefault("supervision", fast_supervision())
        kwargs.setdefault("recovery", fast_recovery(state_dir))
        handler = TaskHandler(workers, **kwargs)
        started.append(handler)
        handler.start_processes()
        assert handler.wait_ready(WAIT), handler.status()
        return handler

    yield start
    dev_server.faults.clear()
    for handler in started:
        handler.stop_processes(timeout=WAIT)
        assert not any(status.alive for status in handler.status()), handler.status()


StartCli = Callable[..., CliTree]


@pytest.fixture
def cli_tree(tmp_path: Path) -> Iterator[StartCli]:
    """``cli_tree(*args, flavour="sync", extra=None) -> CliTree``: the CLI started (not waited on),
    with the environment variables in ``extra`` added."""
    trees: list[CliTree] = []

    def start(*args: str, flavour: str = "sync", extra: Mapping[str, str] | None = None) -> CliTree:
        tree = fault_cli(args, tmp_path / f"cli-{len(trees) + 1}.log", flavour, extra)
        trees.append(tree)
        return tree

    yield start
    for tree in trees:
        tree.kill_all()
