"""Runtime knobs shared by both pipeline flavours (not per worker: per runtime).

Defaults follow DESIGN sections 3 and 5. Every value is validated at construction so a bad setting
fails at start-up with a message naming it. Frozen and picklable (children receive a copy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["RuntimeSettings", "RuntimeSettingsError"]


#: Most threads of the sync flavour's updater pool (result updates in flight at once).
MAX_UPDATER_CONCURRENCY = 1024


class RuntimeSettingsError(ValueError):
    """A runtime setting has a value that cannot work; the message names it."""


@dataclass(frozen=True)
class RuntimeSettings:
    """How the pipeline inside each worker process behaves.

    Attributes:
        update_retry_delays: seconds to wait before each retry of a failed result update; the number of
            attempts is ``len(update_retry_delays) + 1`` (default 4 attempts: 10, 20, 30 s).
        poll_error_backoff_base / poll_error_backoff_cap: backoff after consecutive failed polls that
            are not auth failures: ``min(cap, base * 2**(n-1))`` seconds.
        auth_backoff_base / auth_backoff_cap: the same after consecutive 401/403 polls.
        backoff_jitter: +-fraction applied to the two poll-failure backoffs (spreads a fleet's retries).
        lease_fraction: with lease extension on, a running task is extended after this fraction of
            its ``responseTimeoutSeconds`` (and again each time that much has passed).
        shutdown_grace: seconds running tasks get to finish after a stop is asked for.
        shutdown_flush: seconds after the grace period to send the remaining results.
        heartbeat_interval: how often each stage loop reports that it is alive.
        relay_interval: how often events and metric deltas are shipped to the parent.
        updater_concurrency: result updates in flight at once (sync flavour: its thread pool size;
            0 = ``min(thread_count, 16)``, so results of tasks that end together are not queued
            behind each other; at most ``MAX_UPDATER_CONCURRENCY``). The async flavour has no fixed
            limit beyond the slots.
        cancel_overdue_async_tasks: cancel an ``async def`` task that outlives its
            ``responseTimeoutSeconds`` without lease extension (the server has given it to another
            worker by then).
        max_rss_mb: recycle a worker process whose resident memory exceeds this many MiB: it stops
            gracefully and the supervisor starts a fresh one at once (0 = no limit). For workers
            that leak.
        max_tasks: recycle a worker process after it executed this many tasks (0 = no limit).
    """

    update_retry_delays: tuple[float, ...] = (10.0, 20.0, 30.0)
    poll_error_backoff_base: float = 0.25
    poll_error_backoff_cap: float = 30.0
    auth_backoff_base: float = 1.0
    auth_backoff_cap: float = 60.0
    backoff_jitter: float = 0.1
    lease_fraction: float = 0.8
    shutdown_grace: float = 20.0
    shutdown_flush: float = 5.0
    heartbeat_interval: float = 1.0
    relay_interval: float = 0.1
    updater_concurrency: int = 0
    cancel_overdue_async_tasks: bool = True
    max_rss_mb: float = 0.0
    max_tasks: int = 0

    def __post_init__(self) -> None:
        delays = tuple(self.update_retry_delays)
        object.__setattr__(self, "update_retry_delays", delays)
        for delay in delays:
            _check_number("update_retry_delays", delay, minimum=0.0)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("update_retry_delays", "cancel_overdue_async_tasks"):
                continue
            if f.name in ("updater_concurrency", "max_tasks"):
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise RuntimeSettingsError(f"{f.name}={value!r}: must be an integer >= 0")
                if f.name == "updater_concurrency" and value > MAX_UPDATER_CONCURRENCY:
                    raise RuntimeSettingsError(
                        f"{f.name}={value!r}: must be at most {MAX_UPDATER_CONCURRENCY}"
                        " (threads of the sync updater pool)"
                    )
                continue
            if f.name == "backoff_jitter":
                _check_number(f.name, value, minimum=0.0, maximum=1.0)
                continue
            if f.name == "lease_fraction":
                _check_number(f.name, value, minimum=0.05, maximum=1.0)
                continue
            may_be_zero = ("shutdown_grace", "shutdown_flush", "max_rss_mb")
            _check_number(f.name, value, minimum=0.0, positive=f.name not in may_be_zero)
        if self.poll_error_backoff_cap < self.poll_error_backoff_base:
            raise RuntimeSettingsError("poll_error_backoff_cap must be >= poll_error_backoff_base")
        if self.auth_backoff_cap < self.auth_backoff_base:
            raise RuntimeSettingsError("auth_backoff_cap must be >= auth_backoff_base")

    @property
    def update_attempts(self) -> int:
        """Total attempts for one result update (first try included)."""
        return len(self.update_retry_delays) + 1

    def updater_pool_size(self, thread_count: int) -> int:
        """Threads for concurrent updates in the sync flavour."""
        return self.updater_concurrency or max(1, min(thread_count, 16))


def _check_number(
    name: str, value: Any, *, minimum: float, maximum: float | None = None, positive: bool = False
) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value < minimum or (positive and value <= 0) or (maximum is not None and value > maximum)):
        ok = False
    if not ok:
        bound = f"between {minimum} and {maximum}" if maximum is not None else ("> 0" if positive else f">= {minimum}")
        raise RuntimeSettingsError(f"{name}={value!r}: must be a number {bound}")
