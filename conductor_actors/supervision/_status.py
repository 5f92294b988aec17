"""What the supervisor tells the rest of the parent about each worker process.

``ChildStatus`` is an immutable snapshot; the supervisor builds a new one on every change and hands
it to ``on_state`` (on the supervisor thread) or returns it from ``status()`` (any thread).
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CHILD_STATES",
    "EXIT_UNGUARDED_MAIN",
    "UNGUARDED_MAIN_CAUSE",
    "ChildState",
    "ChildStatus",
    "describe_exit",
    "exit_label",
]

#: The exit code of a worker process that, while multiprocessing re-imported the main script to
#: start it, was asked to start a ``TaskHandler`` (the script does so at import time, without the
#: ``if __name__ == "__main__":`` guard). ``TaskHandler`` raises ``UnguardedMainError`` with it.
EXIT_UNGUARDED_MAIN = 5
#: How the supervisor names that cause when such a process dies before it said Ready.
UNGUARDED_MAIN_CAUSE = (
    "starting it re-ran the main script, which starts a TaskHandler when imported; put the code that "
    'starts the TaskHandler under `if __name__ == "__main__":`'
)

#: starting: spawned, not Ready yet; up: Ready; stopping: asked to stop (or being killed because
#: it is wedged); restarting: dead, waiting for its backoff before a fresh process; stopped: gone
#: for good after a stop; failed: gone for good because it failed (boot failure, or the crash
#: that made the supervisor give up).
ChildState = Literal["starting", "up", "stopping", "restarting", "stopped", "failed"]
CHILD_STATES: tuple[ChildState, ...] = ("starting", "up", "stopping", "restarting", "stopped", "failed")


@dataclass(frozen=True)
class ChildStatus:
    """One worker process as the supervisor last saw it.

    Attributes:
        key: the spec's key (unique in the tree).
        task_type: the worker's task definition name.
        pid: the current (or last) process id; None before the first start.
        state: see ``ChildState``.
        alive: a process for this child exists and has not been reaped.
        restarts: how many times this child was restarted since the supervisor started.
        consecutive_crashes: crashes since it last stayed up ``restart_reset_after`` seconds.
        last_heartbeat_age: seconds since its last heartbeat (or since Ready before the first
            one); None when it is not up.
        in_flight: tasks in flight at the last heartbeat.
        stage_ages: ``(stage, seconds since that stage loop last ran)`` at the last heartbeat.
        last_exit: how its previous process ended: the exit code, or the signal name
            ("SIGKILL"); None while no process of it has ended.
        last_poll_success_age: seconds since its current process last completed a poll
            successfully (as of the last heartbeat); None before the first.
        last_poll_error: the error of its last poll when that poll failed; None once one succeeds.
        polling_paused: its polling is paused (it does not poll on purpose).
    """

    key: str
    task_type: str
    pid: int | None
    state: ChildState
    alive: bool
    restarts: int
    consecutive_crashes: int
    last_heartbeat_age: float | None
    in_flight: int
    stage_ages: tuple[tuple[str, float], ...]
    last_exit: int | str | None
    last_poll_success_age: float | None = None
    last_poll_error: str | None = None
    polling_paused: bool = False


def exit_label(exitcode: int) -> int | str:
    """``multiprocessing``'s exit code as ``ChildStatus.last_exit``: the code, or the signal's name."""
    if exitcode >= 0:
        return exitcode
    try:
        return signal.Signals(-exitcode).name
    except ValueError:
        return f"signal {-exitcode}"


def describe_exit(exitcode: int) -> str:
    """A phrase for logs: ``exit code 3`` or ``signal SIGKILL``."""
    label = exit_label(exitcode)
    if isinstance(label, int):
        return f"exit code {label}"
    return label if label.startswith("signal ") else f"signal {label}"
