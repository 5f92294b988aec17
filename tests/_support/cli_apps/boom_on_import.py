"""Scenario "boom_on_import": the module raises while it is imported (in the parent already)."""

from __future__ import annotations

from . import register_flavoured

TASK = "cli_boom_on_import"


def boom_sync() -> dict[str, str]:
    return {"never": "runs"}


async def boom_async() -> dict[str, str]:
    return {"never": "runs"}


register_flavoured(TASK, boom_sync, boom_async)

raise RuntimeError("boom_on_import refuses to be imported (on purpose, for the CLI tests)")
