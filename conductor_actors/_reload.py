"""``--reload``: restart the workers when their source changes (for development only).

The command line given ``--reload`` becomes a small watcher process: it runs the same command
without ``--reload`` as a child (in its own session, so a terminal's Ctrl-C reaches only the
watcher, which passes the stop on once), and polls the modification times of the ``.py`` files of
the modules named on the command line (the whole tree of a module's top-level package) every
``interval`` seconds. When one changes, appears or disappears, it stops the child gracefully
(SIGTERM, as a deploy would) and starts a fresh one, which imports the new source. A child that
exits by itself (an edit that does not import) is started again at the next change. With
``--dev-server`` the command line keeps the embedded server in the watcher and points each child
at it, so its workflows and address outlive the restarts.

Standard library only; the watcher never imports the application (``find_spec`` of a top-level
name only locates it). Everything runs on the main thread; SIGTERM/SIGINT stop the child and
then the watcher, which exits with the child's exit code.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import FrameType

__all__ = ["RELOAD_INTERVAL", "SourceWatcher", "run_with_reload", "watched_roots"]

_log = logging.getLogger("conductor_actors.reload")

#: Seconds between two looks at the files.
RELOAD_INTERVAL = 0.5
#: Directory names never watched (caches, virtual environments, VCS data).
_SKIP_DIRS = frozenset({"__pycache__", "site-packages", "node_modules", "venv", ".venv"})

_Stamp = tuple[int, int]  # (mtime in ns, size)


def watched_roots(modules: Iterable[str]) -> list[Path]:
    """The directories (or single files) whose sources belong to ``modules``: the directory of
    each module's top-level package, or the file of a top-level module. Names that cannot be
    found are left out (the child reports them)."""
    roots: list[Path] = []
    for name in modules:
        top = name.split(".", 1)[0]
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        if spec.submodule_search_locations:
            roots.extend(Path(p) for p in spec.submodule_search_locations)
        elif spec.origin and spec.origin.endswith(".py"):
            roots.append(Path(spec.origin))
    unique: list[Path] = []
    for root in roots:
        if root.resolve() not in [u.resolve() for u in unique]:
            unique.append(root)
    return unique


class SourceWatcher:
    """The ``.py`` files under ``roots`` and their stamps; ``changed()`` says which changed since
    the last call. Not thread-safe (the watcher's main thread owns it)."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = list(roots)
        self._stamps = self._scan()

    @property
    def count(self) -> int:
        return len(self._stamps)

    def changed(self) -> list[str]:
        """Files modified, added or removed since the last call (sorted)."""
        now = self._scan()
        before, self._stamps = self._stamps, now
        return sorted(path for path in before.keys() | now.keys() if before.get(path) != now.get(path))

    def _scan(self) -> dict[str, _Stamp]:
        stamps: dict[str, _Stamp] = {}
        for root in self.roots:
            if root.is_file():
                self._stamp(str(root), stamps)
                continue
            for directory, subdirs, files in os.walk(root):
                subdirs[:] = [d for d in subdirs if d not in _SKIP_DIRS and not d.startswith(".")]
                for name in files:
                    if name.endswith(".py"):
                        self._stamp(os.path.join(directory, name), stamps)
        return stamps

    @staticmethod
    def _stamp(path: str, stamps: dict[str, _Stamp]) -> None:
        try:
            status = os.stat(path)
        except OSError:  # removed between the listing and the stat: counts as gone
            return
        stamps[path] = (status.st_mtime_ns, status.st_size)


def run_with_reload(child_args: Sequence[str], modules: Sequence[str], interval: float = RELOAD_INTERVAL,
                    env: Mapping[str, str] | None = None) -> int:
    """Run ``python -m conductor_actors <child_args>`` (with ``env``, else this process's
    environment) and restart it when the sources of ``modules`` change; returns the last child's
    exit code once SIGTERM/SIGINT stopped it."""
    roots = watched_roots(modules)
    watcher = SourceWatcher(roots)
    where = ", ".join(str(r) for r in roots) or "nothing (no module found)"
    _log.info("--reload is for development: watching %d file(s) under %s", watcher.count, where)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        child: subprocess.Popen[bytes] | None = _start(child_args, env)
        code = 0
        while not stop.wait(interval):
            changed = watcher.changed()
            if child is not None and child.poll() is not None:
                code = child.returncode
                _log.warning("the workers exited (exit code %d); they start again when a source file changes", code)
                child = None
            if not changed:
                continue
            shown = ", ".join(_relative(p) for p in changed[:3]) + (f" and {len(changed) - 3} more"
                                                                   if len(changed) > 3 else "")
            _log.info("%s changed; restarting the workers", shown)
            if child is not None:
                code = _stop(child)
            child = _start(child_args, env)
        if child is not None:
            code = _stop(child)
        return code
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _start(child_args: Sequence[str], env: Mapping[str, str] | None) -> subprocess.Popen[bytes]:
    # Its own session: a terminal's Ctrl-C reaches the watcher only, which stops the child once.
    return subprocess.Popen([sys.executable, "-m", "conductor_actors", *child_args], start_new_session=True,
                            env=None if env is None else dict(env))


def _stop(child: subprocess.Popen[bytes]) -> int:
    """SIGTERM (a graceful stop) and wait for the child, however long its grace takes."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
    return child.wait()


def _relative(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path
