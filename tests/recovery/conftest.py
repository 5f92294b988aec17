"""Fixtures of the outbox tests: ``outbox``, a RecoveryActor under the test's control (see
``_support.fault_apps.outbox_driver``) over the test's dev server, stopped when the test ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _support.fault_apps.outbox_driver import OutboxDriver, register_outbox_flow


@pytest.fixture
def outbox(dev_server: Any, tmp_path: Path) -> Iterator[OutboxDriver]:
    register_outbox_flow(dev_server)
    box = OutboxDriver(dev_server, tmp_path)
    yield box
    box.stop()
