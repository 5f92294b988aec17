"""Scenario "boom_in_child": imports fine in the parent, raises when a worker process imports it.

``multiprocessing.parent_process()`` is None in the process that ran ``python -m`` and set in
every process the supervisor spawns, so the parent finds the worker and each child fails to boot.
"""

from __future__ import annotations

import multiprocessing

from . import BOOM_IN_CHILD_TASK, register_flavoured


def boom_in_child_sync() -> dict[str, str]:
    return {"never": "runs"}


async def boom_in_child_async() -> dict[str, str]:
    return {"never": "runs"}


register_flavoured(BOOM_IN_CHILD_TASK, boom_in_child_sync, boom_in_child_async)

if multiprocessing.parent_process() is not None:
    raise RuntimeError("boom_in_child refuses to be imported in a worker process (on purpose)")
