"""The untracked "spawn" launcher (``conductor_actors.supervision._spawn``) is built from private
pieces of ``multiprocessing``. On a Python that lacks one of them it falls back to
multiprocessing's own ``Process`` and ``test_untracked_spawn`` skips, so a change in a supported
Python would go unnoticed. Here the fallback is an error on every Python the package declares
(the ``Programming Language :: Python :: 3.x`` classifiers of setup.cfg), and the behaviour
tests of ``test_untracked_spawn`` run there when the suite runs on that version."""

from __future__ import annotations

import configparser
import re
import sys
from pathlib import Path

import pytest

from conductor_actors.supervision import _spawn

SETUP_CFG = Path(__file__).resolve().parents[2] / "setup.cfg"


def declared_pythons() -> set[tuple[int, int]]:
    """The (major, minor) versions named by setup.cfg's classifiers."""
    parser = configparser.ConfigParser()
    parser.read(SETUP_CFG, encoding="utf-8")
    classifiers = parser.get("metadata", "classifiers", fallback="")
    return {(int(major), int(minor)) for major, minor in re.findall(r"Python :: (\d+)\.(\d+)\s*$", classifiers, re.M)}


def test_setup_cfg_declares_the_supported_pythons() -> None:
    versions = declared_pythons()
    assert versions, f"no 'Programming Language :: Python :: 3.x' classifier in {SETUP_CFG}"
    assert min(versions) == (3, 10)


@pytest.mark.skipif(sys.platform != "linux" or sys.implementation.name != "cpython",
                    reason="the launcher is checked on CPython on Linux, where the suite runs")
def test_every_declared_python_has_the_launchers_private_pieces() -> None:
    """On a declared version the untracked launcher is in use, not the silent fallback."""
    version = sys.version_info[:2]
    if version not in declared_pythons():
        pytest.skip(f"Python {version[0]}.{version[1]} is not among the declared versions")
    missing = [f"{getattr(module, '__name__', module)}.{name}" for module, name in _spawn._NEEDED
               if module is None or not hasattr(module, name)]
    assert not missing, f"Python {sys.version.split()[0]} lacks {missing}: add support or drop the launcher"
    assert _spawn.UNTRACKED_SPAWN, f"Python {sys.version.split()[0]}: the untracked launcher is unavailable"
