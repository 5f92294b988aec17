"""The parent side of the runtime: one supervised OS process per worker process spec.

``ProcessSupervisor`` starts the children, restarts crashed or wedged ones (one_for_one, with
backoff and a restart-intensity limit), stops them without losing work, and hands what they send
(event batches, undelivered results) to a callback. ``install_signal_handlers`` connects SIGTERM
and SIGINT to it, for the programs that own the process.
"""

from __future__ import annotations

from ._signals import HANDLED_SIGNALS, install_signal_handlers
from ._status import CHILD_STATES, EXIT_UNGUARDED_MAIN, ChildState, ChildStatus
from ._supervisor import ProcessSupervisor

__all__ = [
    "CHILD_STATES",
    "EXIT_UNGUARDED_MAIN",
    "HANDLED_SIGNALS",
    "ChildState",
    "ChildStatus",
    "ProcessSupervisor",
    "install_signal_handlers",
]
