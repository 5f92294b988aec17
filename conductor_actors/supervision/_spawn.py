"""Worker processes started with "spawn" but without multiprocessing's resource tracker.

Why: on POSIX, multiprocessing's own spawn launcher fetches the resource tracker's pipe before
every start, which starts the tracker on first use: a THIRD interpreter process next to the parent
and the workers, about 13 MB of resident memory for the whole life of the tree, and ~25 ms of CPU
right when the first worker boots (on a small machine it competes with that worker). The tracker
only cleans up named semaphores and shared-memory blocks, and this runtime creates neither:
parent and child talk over one ``Pipe`` (a socketpair). So ``UntrackedPopen`` runs the same spawn
protocol as multiprocessing's (preparation data and the pickled process object written to a pipe
that ``multiprocessing.spawn.spawn_main`` reads in the new interpreter), only without handing the
child a tracker: a child that ever created a tracked resource would start its own tracker.

Everything else stays multiprocessing's: ``spawn_main`` boots the child (main-module handling,
``sys.path``, the pickled target), the process object's sentinel, ``exitcode``, ``kill()`` and
``terminate()`` come from the inherited classes, and a ``Connection`` passed to the child travels
as an inherited file descriptor. The process object reaches the child as a plain
``multiprocessing.context.SpawnProcess``, so the child neither imports this module nor sees any
difference.

The launcher relies on private pieces of ``multiprocessing``; when one of them is missing (another
platform, an unexpected Python), ``UNTRACKED_SPAWN`` is False and ``new_process`` falls back to
the context's own ``Process``, so start-up never breaks over this optimisation.

Every function here runs on the thread that starts worker processes (the supervisor thread);
whatever ``Process.start`` raises (an unpicklable target, ``OSError`` from the launch) propagates
to it, with the launch's file descriptors closed.
"""

from __future__ import annotations

import io
import os
import sys
from multiprocessing import context as _mp_context
from multiprocessing import reduction as _mp_reduction
from multiprocessing import spawn as _mp_spawn
from multiprocessing import util as _mp_util
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

__all__ = ["UNTRACKED_SPAWN", "UntrackedPopen", "UntrackedSpawnProcess", "new_process", "starts_untracked"]

try:
    from multiprocessing import popen_spawn_posix as _mp_popen_spawn
except ImportError:  # not a POSIX build
    _mp_popen_spawn = None  # type: ignore[assignment]

_NEEDED: tuple[tuple[Any, str], ...] = (
    (_mp_spawn, "get_preparation_data"),
    (_mp_spawn, "get_command_line"),
    (_mp_spawn, "get_executable"),
    (_mp_util, "spawnv_passfds"),
    (_mp_util, "Finalize"),
    (_mp_util, "close_fds"),
    (_mp_reduction, "dump"),
    (_mp_context, "set_spawning_popen"),
    (_mp_context, "SpawnProcess"),
    (_mp_popen_spawn, "Popen"),
)

#: True when this Python has every private ``multiprocessing`` piece the untracked launcher uses.
UNTRACKED_SPAWN: bool = sys.platform != "win32" and all(
    module is not None and hasattr(module, name) for module, name in _NEEDED
) and all(
    hasattr(_mp_popen_spawn.Popen, name) for name in ("_launch", "duplicate_for_child", "DupFd")
)


if UNTRACKED_SPAWN:

    class UntrackedPopen(_mp_popen_spawn.Popen):
        """multiprocessing's POSIX spawn launcher minus the resource tracker (see the module doc).

        Construction launches the child (``_launch``); the rest (``poll``, ``wait``,
        ``terminate``, ``kill``, ``close``, ``sentinel``) is inherited unchanged.
        """

        _fds: list[int]  # set by the base class: descriptors the child inherits

        def _launch(self, process_obj: BaseProcess) -> None:
            payload = io.BytesIO()
            # While this Popen is the spawning one, a Connection (or any fd) in the process
            # object pickles as a descriptor the child inherits (``duplicate_for_child``).
            _mp_context.set_spawning_popen(self)
            try:
                _mp_reduction.dump(_mp_spawn.get_preparation_data(process_obj.name), payload)
                _mp_reduction.dump(process_obj, payload)
            finally:
                _mp_context.set_spawning_popen(None)

            sentinel_r: int | None = None
            sentinel_w: int | None = None
            payload_r: int | None = None
            payload_w: int | None = None
            try:
                # The child reads its payload from payload_r; it holds sentinel_w until it exits,
                # so sentinel_r (the parent's sentinel) becomes readable when it is gone.
                sentinel_r, sentinel_w = os.pipe()
                payload_r, payload_w = os.pipe()
                self._fds.extend([payload_r, sentinel_w])
                command = _mp_spawn.get_command_line(pipe_handle=payload_r)
                executable = _mp_spawn.get_executable()
                self.pid = _mp_util.spawnv_passfds(executable, command, self._fds)  # type: ignore[arg-type]
                self.sentinel = sentinel_r
                with open(payload_w, "wb", closefd=False) as to_child:
                    to_child.write(payload.getbuffer())
            finally:
                parent_ends = [fd for fd in (sentinel_r, payload_w) if fd is not None]
                self.finalizer = _mp_util.Finalize(self, _mp_util.close_fds, parent_ends)  # type: ignore[attr-defined]
                for fd in (payload_r, sentinel_w):
                    if fd is not None:
                        os.close(fd)

    class UntrackedSpawnProcess(_mp_context.SpawnProcess):
        """A "spawn" process started by ``UntrackedPopen``; used like any ``Process``."""

        @staticmethod
        def _Popen(process_obj: BaseProcess) -> UntrackedPopen:
            return UntrackedPopen(process_obj)

        def __reduce__(self) -> tuple[Any, ...]:
            # Travel to the child as a plain SpawnProcess (same state): the child needs nothing
            # from this module, and ``current_process()`` there is what multiprocessing makes.
            return object.__new__, (_mp_context.SpawnProcess,), self.__dict__

else:  # pragma: no cover - only on a Python lacking the pieces above
    UntrackedPopen = None  # type: ignore[assignment,misc]
    UntrackedSpawnProcess = None  # type: ignore[assignment,misc]


def starts_untracked(context: BaseContext) -> bool:
    """Whether ``new_process`` starts processes of ``context`` without a resource tracker."""
    return UNTRACKED_SPAWN and context.get_start_method() == "spawn"


def new_process(context: BaseContext, **kwargs: Any) -> BaseProcess:
    """A process object (not started) for ``context``, built with ``Process``'s keywords.

    "spawn" on POSIX: an ``UntrackedSpawnProcess``; any other start method, or a Python without
    the pieces the untracked launcher needs: ``context.Process`` as multiprocessing makes it.
    """
    if starts_untracked(context):
        return UntrackedSpawnProcess(**kwargs)
    return context.Process(**kwargs)  # type: ignore[attr-defined,no-any-return]
