"""Where the supervisor thread publishes what other threads may read: statuses and the outcome.

The supervisor thread calls ``publish`` and ``finish``; any thread calls the readers and waiters.
One condition variable guards everything, held only for dictionary updates and copies.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping

from ._status import ChildStatus

__all__ = ["StatusBoard"]


class StatusBoard:
    """Latest ``ChildStatus`` per child, plus the exit code and reason once the tree has stopped.

    Args:
        fresh_within: per child key, the heartbeat age up to which the child counts as healthy.
        clock: the supervisor's clock (heartbeat ages are recomputed at read time).
    """

    def __init__(self, fresh_within: Mapping[str, float], clock: Callable[[], float]) -> None:
        self._fresh_within = dict(fresh_within)
        self._clock = clock
        self._cond = threading.Condition()
        self._latest: dict[str, tuple[ChildStatus, float | None]] = {}
        self._finished = False
        self._exit_code: int | None = None
        self._exit_reason: str | None = None

    def publish(self, status: ChildStatus, beat_at: float | None) -> None:
        """Supervisor thread: record ``status`` (``beat_at`` = clock time of the last heartbeat)."""
        with self._cond:
            self._latest[status.key] = (status, beat_at)
            self._cond.notify_all()

    def finish(self, exit_code: int, reason: str | None) -> None:
        """Supervisor thread: the tree has stopped and every child is reaped."""
        with self._cond:
            self._finished, self._exit_code, self._exit_reason = True, exit_code, reason
            self._cond.notify_all()

    def statuses(self) -> list[ChildStatus]:
        """Any thread: every child's latest status, heartbeat ages as of now, in spec order."""
        with self._cond:
            latest = list(self._latest.values())
        now = self._clock()
        return [self._aged(status, beat_at, now) for status, beat_at in latest]

    def is_healthy(self) -> bool:
        """Any thread: every child is up and its last heartbeat is fresh."""
        statuses = self.statuses()
        return bool(statuses) and all(
            status.state == "up"
            and status.last_heartbeat_age is not None
            and status.last_heartbeat_age <= self._fresh_within[status.key]
            for status in statuses
        )

    def wait_all_up(self, timeout: float | None) -> bool:
        """Any thread: block until every child is up (True), or timeout / the tree stopped (False)."""
        with self._cond:
            self._cond.wait_for(lambda: self._finished or self._all_up(), timeout)
            return not self._finished and self._all_up()

    def wait_finished(self, timeout: float | None) -> bool:
        """Any thread: block until the tree has stopped; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._finished, timeout)

    @property
    def finished(self) -> bool:
        with self._cond:
            return self._finished

    @property
    def exit_code(self) -> int | None:
        with self._cond:
            return self._exit_code

    @property
    def exit_reason(self) -> str | None:
        with self._cond:
            return self._exit_reason

    def _all_up(self) -> bool:
        return bool(self._latest) and all(status.state == "up" for status, _ in self._latest.values())

    @staticmethod
    def _aged(status: ChildStatus, beat_at: float | None, now: float) -> ChildStatus:
        if status.state != "up" or beat_at is None:
            return status
        return dataclasses.replace(status, last_heartbeat_age=max(0.0, now - beat_at))
