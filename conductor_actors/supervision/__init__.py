"""The parent side of the runtime: one supervised OS process per worker process, each
started from its ``WorkerSettings``.

``ProcessSupervisor`` starts the children, restarts crashed or wedged ones (one_for_one, with
backoff and a restart-intensity limit), stops them without losing work, and hands what they send
(event batches, undelivered results) to a callback. ``install_signal_handlers`` connects SIGTERM
and SIGINT to it, for the programs that own the process. ``SupervisionSettings`` (defined in
``conductor_actors.settings``) is re-exported here, where earlier releases had it.
"""

from __future__ import annotations

from ..settings import (
    PARENT_STOP_TIMEOUT,
    STOP_MARGIN,
    ShutdownDeadlines,
    SupervisionSettings,
    SupervisionSettingsError,
)
from ._child import CHILD_STATES, EXIT_UNGUARDED_MAIN, UNGUARDED_MAIN_CAUSE, ChildState, ChildStatus
from ._loop import TREE_EXIT_BOOT_FAILURE, TREE_EXIT_GAVE_UP, TREE_EXIT_OK, StopTree
from ._supervisor import HANDLED_SIGNALS, ProcessSupervisor, install_signal_handlers

__all__ = [
    "CHILD_STATES",
    "EXIT_UNGUARDED_MAIN",
    "HANDLED_SIGNALS",
    "PARENT_STOP_TIMEOUT",
    "STOP_MARGIN",
    "TREE_EXIT_BOOT_FAILURE",
    "TREE_EXIT_GAVE_UP",
    "TREE_EXIT_OK",
    "UNGUARDED_MAIN_CAUSE",
    "ChildState",
    "ChildStatus",
    "ProcessSupervisor",
    "ShutdownDeadlines",
    "StopTree",
    "SupervisionSettings",
    "SupervisionSettingsError",
    "install_signal_handlers",
]
