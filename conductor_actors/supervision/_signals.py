"""SIGTERM/SIGINT handling for the programs that own the process (the CLI and ``TaskHandler.run()``).

Library code never calls this implicitly. The handlers only queue a request on the supervisor
(``request_stop`` appends to a queue and writes one wake-up byte); the supervisor loop acts.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

__all__ = ["HANDLED_SIGNALS", "install_signal_handlers"]

#: The signals ``install_signal_handlers`` takes over.
HANDLED_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)


class _Stoppable(Protocol):
    def request_stop(self, *, fast: bool = False, exit_code: int | None = None) -> None: ...


def install_signal_handlers(supervisor: _Stoppable) -> Callable[[], None]:
    """Route SIGTERM and SIGINT to ``supervisor``; returns a function that restores the old handlers.

    The first of either signal asks for a graceful stop (``request_stop()``); any later one for
    the fast path (``request_stop(fast=True, exit_code=128 + signum)``, so 143 for SIGTERM and
    130 for SIGINT). Must be called, and the restorer too, from the main thread (Python runs
    signal handlers there): ``RuntimeError`` otherwise.
    """
    _require_main_thread("install_signal_handlers")
    received = 0

    def handle(signum: int, frame: FrameType | None) -> None:
        nonlocal received
        received += 1
        if received == 1:
            supervisor.request_stop()
        else:
            supervisor.request_stop(fast=True, exit_code=128 + signum)

    previous: dict[signal.Signals, Any] = {}
    for signum in HANDLED_SIGNALS:
        previous[signum] = signal.signal(signum, handle)

    def restore() -> None:
        _require_main_thread("restoring the signal handlers")
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    return restore


def _require_main_thread(what: str) -> None:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            f"{what} must run in the main thread (Python delivers signals there); "
            f"it was called from thread {threading.current_thread().name!r}"
        )
