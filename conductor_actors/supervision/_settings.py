"""How the process supervisor restarts, watches and stops worker processes.

Defaults follow DESIGN sections 4 and 5. Every value is validated at construction, so a bad setting
fails at start-up with ``SupervisionSettingsError`` naming it. Frozen: safe to share between threads.
"""

from __future__ import annotations

import math
import multiprocessing
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["PARENT_STOP_TIMEOUT", "STOP_MARGIN", "ShutdownDeadlines", "SupervisionSettings", "SupervisionSettingsError"]

#: Seconds after ``grace + flush`` before worker processes still alive get SIGTERM: time for a
#: child that met its deadlines to send its last messages and exit.
STOP_MARGIN = 1.0
#: Seconds the parent waits for its own actors (user actors, outbox, metrics) to stop once every
#: worker process is gone.
PARENT_STOP_TIMEOUT = 1.0


class SupervisionSettingsError(ValueError):
    """A supervision setting has a value that cannot work; the message names it."""


@dataclass(frozen=True)
class SupervisionSettings:
    """Restart policy, liveness checks and shutdown deadlines of the process supervisor.

    Attributes:
        start_method: the ``multiprocessing`` start method for worker processes ("spawn" by default;
            the parent runs threads, so "fork" is unsafe there).
        restart_backoff_base / restart_backoff_cap: seconds to wait before restarting a crashed
            child: ``min(cap, base * 2**(n-1))`` for its n-th consecutive crash.
        restart_jitter: +-fraction applied to that delay (0.2 = +-20%; below 1).
        restart_reset_after: seconds of uptime after which a child's consecutive-crash count
            goes back to 0.
        max_restarts / restart_window: more than ``max_restarts`` restarts in the whole tree within
            ``restart_window`` seconds = give up (stop everything, exit code 1).
        heartbeat_timeout: a running child that sent no heartbeat, or whose oldest stage loop has
            not run, for this many seconds is wedged: it is killed and restarted.
        boot_timeout: seconds a new child has to say Ready; past that the tree stops (exit code 3).
        kill_timeout: seconds between SIGTERM and SIGKILL.
        shutdown_grace / shutdown_flush: sent to children as ``Stop(grace, flush)`` on a graceful
            stop: running tasks get ``grace`` seconds, then results ``flush`` seconds more.
            Children still alive ``grace + flush + STOP_MARGIN`` seconds after the stop get
            SIGTERM (see ``shutdown_deadlines``).
        fast_shutdown_timeout: on the fast path (a second signal) children get ``Stop(0, 1)``
            and whatever is still alive after this many seconds is killed.
    """

    start_method: str = "spawn"
    restart_backoff_base: float = 0.5
    restart_backoff_cap: float = 30.0
    restart_jitter: float = 0.2
    restart_reset_after: float = 60.0
    max_restarts: int = 10
    restart_window: float = 300.0
    heartbeat_timeout: float = 60.0
    boot_timeout: float = 60.0
    kill_timeout: float = 2.0
    shutdown_grace: float = 20.0
    shutdown_flush: float = 5.0
    fast_shutdown_timeout: float = 3.0

    def __post_init__(self) -> None:
        methods = multiprocessing.get_all_start_methods()
        if self.start_method not in methods:
            raise SupervisionSettingsError(
                f"start_method={self.start_method!r}: must be one of {', '.join(methods)}"
            )
        if not isinstance(self.max_restarts, int) or isinstance(self.max_restarts, bool) or self.max_restarts < 0:
            raise SupervisionSettingsError(f"max_restarts={self.max_restarts!r}: must be an integer >= 0")
        for f in fields(self):
            if f.name in ("start_method", "max_restarts"):
                continue
            value = getattr(self, f.name)
            if f.name == "restart_jitter":
                _check_number(f.name, value, minimum=0.0, below=1.0)
            elif f.name in ("shutdown_grace", "shutdown_flush", "restart_backoff_base"):
                _check_number(f.name, value, minimum=0.0)
            else:
                _check_number(f.name, value, minimum=0.0, positive=True)
        if self.restart_backoff_cap < self.restart_backoff_base:
            raise SupervisionSettingsError(
                f"restart_backoff_cap={self.restart_backoff_cap!r} must be >= "
                f"restart_backoff_base={self.restart_backoff_base!r}"
            )

    def shutdown_deadlines(self) -> ShutdownDeadlines:
        """When each step of a graceful stop happens at the latest, in seconds after the request."""
        sigterm = self.shutdown_grace + self.shutdown_flush + STOP_MARGIN
        sigkill = sigterm + self.kill_timeout
        return ShutdownDeadlines(sigterm_after=sigterm, sigkill_after=sigkill, total=sigkill + PARENT_STOP_TIMEOUT)


@dataclass(frozen=True)
class ShutdownDeadlines:
    """The worst case of a graceful stop, in seconds after it was asked for.

    ``sigterm_after``: worker processes still alive get SIGTERM; ``sigkill_after``: those still
    alive get SIGKILL; ``total``: the parent has stopped its own actors too (it waits at most
    ``PARENT_STOP_TIMEOUT`` for them). With the defaults: 26, 28 and 29 s, inside the 30 s grace
    period orchestrators commonly give.
    """

    sigterm_after: float
    sigkill_after: float
    total: float


def _check_number(name: str, value: Any, *, minimum: float, below: float | None = None, positive: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value < minimum or (positive and value <= 0) or (below is not None and value >= below)):
        ok = False
    if not ok:
        if below is not None:
            bound = f">= {minimum} and < {below}"
        else:
            bound = "> 0" if positive else f">= {minimum}"
        raise SupervisionSettingsError(f"{name}={value!r}: must be a number {bound}")
