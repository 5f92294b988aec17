"""Two different module-level worker objects for one task name: the CLI refuses to guess."""

from __future__ import annotations

from conductor_actors import Worker

TASK = "compat_duplicate"


def first(n: int) -> int:
    return n


def second(n: int) -> int:
    return -n


one = Worker(TASK, first)
other = Worker(TASK, second)
