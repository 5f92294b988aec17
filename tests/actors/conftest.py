"""Fixtures of the actor-kernel suite: ``runtime`` turns the project-wide ``flavour`` fixture
into an actor runtime (see ``_support.Runtime``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from actors._support import Runtime


@pytest.fixture
def runtime(flavour: str) -> Iterator[Runtime]:
    rt = Runtime(flavour)
    try:
        yield rt
    finally:
        rt.close()
