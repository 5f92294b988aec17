"""The package stands alone: a wheel built from the sources, installed into a fresh virtual
environment, runs the quick start with ``python -m conductor_actors demo`` (no checkout, no
``examples/``), and the wheel carries the license.

Slow: it builds a wheel and installs it with its dependencies (pip, as configured for the machine).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: What building the package reads from the checkout.
SOURCES = ("conductor_actors", "setup.cfg", "setup.py", "pyproject.toml", "README.md", "LICENSE")

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    # PYTHONDONTWRITEBYTECODE would make setuptools warn that it skips byte-compiling.
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith(("CONDUCTOR", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"))}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@dataclass(frozen=True)
class Built:
    wheel: Path
    output: str  # what the build backend printed (pip -v)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A wheel built from a copy of the sources as `pip install .` builds it (an isolated build
    environment with what pyproject.toml requires); the build writes into its source directory."""
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, source / name)
    dist = tmp_path_factory.mktemp("dist")
    done = _run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(dist), str(source)],
                cwd=source)
    (wheel,) = dist.glob("conductor_actors-*.whl")
    return Built(wheel, done.stdout + done.stderr)


@pytest.fixture(scope="module")
def wheel(built: Built) -> Path:
    return built.wheel


def test_the_build_gives_no_warning(built: Built) -> None:
    """setuptools says nothing about the package's configuration (the web page's folder, data only,
    was once a package setuptools warned it would ignore)."""
    warned = [line.strip() for line in built.output.splitlines()
              if re.search(r"warning|would be ignored|deprecat", line, re.IGNORECASE)
              and "Location 'file" not in line]  # pip's own notes about the machine's index configuration
    assert warned == [], "\n".join(warned)
    names = zipfile.ZipFile(built.wheel).namelist()
    assert {f"conductor_actors/devserver/ui/{n}" for n in ("index.html", "app.js", "style.css", "favicon.svg")} \
        <= set(names), names
    assert not any("__pycache__" in n for n in names), names


def test_wheel_carries_the_license_and_the_demo(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert any(re.search(r"\.dist-info/(licenses/)?LICENSE$", n) for n in names), names
    assert "conductor_actors/_demo.py" in names and not any(n.startswith("examples/") for n in names)


def test_demo_runs_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    """In an empty directory, with only the wheel installed: the progress line, then the summary."""
    environment = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=True).create(environment)
    python = str(environment / "bin" / "python")
    _run([python, "-m", "pip", "install", "--quiet", str(wheel)], cwd=tmp_path, timeout=600)
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    done = _run([python, "-m", "conductor_actors", "demo", "--orders", "20"], cwd=empty, timeout=120)
    out = done.stdout
    assert re.search(r"^dev server at http://127\.0\.0\.1:\d+/api$", out, re.MULTILINE), out
    assert re.search(r"^workers: validate_order \(pid \d+\), charge_payment \(pid \d+\), "
                     r"send_confirmation \(pid \d+\)$", out, re.MULTILINE), out
    assert re.search(r"^  20/20 workflows finished \(\d+/s\)$", out, re.MULTILINE), out
    assert re.search(r"^orders: +20 started, 19 completed, 1 failed \(invalid on purpose\), 0 other$",
                     out, re.MULTILINE), out
    assert re.search(r"^throughput: +\d+ workflows/s \(\d+ tasks/s\) in \d+\.\d\d s$", out, re.MULTILINE), out
    assert re.search(r"^first failure: .*amount must be positive", out, re.MULTILINE), out
    assert str(ROOT) not in done.stderr  # nothing came from the checkout
