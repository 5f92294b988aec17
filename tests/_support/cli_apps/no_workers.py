"""Scenario "no_workers": a module that imports fine and defines no worker (the CLI refuses it)."""

from __future__ import annotations

GREETING = "this module has no @worker_task functions"
