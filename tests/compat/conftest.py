"""Fixtures of the compatibility tests.

``runs`` is the list of ``CliTree`` processes (``_support.cli_tree``) a test started; at teardown
their output is printed (pytest shows it for a failed test), leftovers are killed by pid, and the
test fails if a worker process outlived its parent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _support.cli_tree import CliTree, finish_trees


@pytest.fixture
def runs() -> Iterator[list[CliTree]]:
    """The trees a test started (it appends them); finished at teardown."""
    started: list[CliTree] = []
    yield started
    finish_trees(started)
