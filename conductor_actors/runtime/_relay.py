"""The relay: in a worker process, the one writer on the pipe to the parent.

It batches the events parent-side actors subscribed to together with the metric deltas every
``relay_interval``, sends a ``Heartbeat`` (with each stage's liveness) every
``heartbeat_interval``, and sends ``Ready``, ``UndeliveredResult`` and ``Exiting`` at once. A thread
actor; other threads only tell it. If the parent is gone (broken pipe) it stops writing and says so
once; the control reader notices the same and stops the worker.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from ..actors import ThreadActor
from ..events import TaskRunnerEvent
from ..metrics import MetricsAccumulator
from ._control import EventBatch, Heartbeat, UndeliveredResult, picklable_error, picklable_event

__all__ = ["Relay", "SendNow", "SetProbe"]

_log = logging.getLogger("conductor_actors.runtime")

#: Most events kept between two batches; beyond it the oldest are dropped (and counted).
MAX_BUFFERED_EVENTS = 20_000


@dataclass(frozen=True)
class SendNow:
    """Send ``message`` to the parent at once (after the buffered events)."""

    message: Any


@dataclass(frozen=True)
class SetProbe:
    """Use ``probe`` for heartbeats from now on: returns ``(stage ages, tasks in flight)``;
    ``polling`` returns how polls go (see ``Heartbeat.polling``)."""

    probe: Callable[[], tuple[tuple[tuple[str, float], ...], int]]
    polling: Callable[[], tuple[float | None, str | None, bool]] | None = None


class _FlushDue:
    pass


class _HeartbeatDue:
    pass


_FLUSH, _HEARTBEAT = _FlushDue(), _HeartbeatDue()


class Relay(ThreadActor):
    """Ships what the parent needs from this worker process.

    Args:
        conn: the child's end of the pipe.
        relay_interval / heartbeat_interval: seconds between batches / heartbeats.
        metrics: the process's accumulator (None = no metrics).

    ``probe`` (set once the pipeline runs) returns ``(stage ages, tasks in flight)`` for heartbeats.
    """

    use_daemon_thread = True

    def __init__(
        self,
        conn: Connection,
        *,
        relay_interval: float,
        heartbeat_interval: float,
        metrics: MetricsAccumulator | None,
    ) -> None:
        self.conn = conn
        self.relay_interval = relay_interval
        self.heartbeat_interval = heartbeat_interval
        self.metrics = metrics
        self.probe: Callable[[], tuple[tuple[tuple[str, float], ...], int]] | None = None
        self.polling: Callable[[], tuple[float | None, str | None, bool]] | None = None
        self.events: deque[TaskRunnerEvent] = deque(maxlen=MAX_BUFFERED_EVENTS)
        self.dropped = 0
        self.broken = False
        self.pid = os.getpid()

    def on_start(self) -> None:
        self.send_after(self.relay_interval, _FLUSH)
        self.send_after(self.heartbeat_interval, _HEARTBEAT)

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, TaskRunnerEvent):
            if len(self.events) == MAX_BUFFERED_EVENTS:
                self.dropped += 1
            self.events.append(message)
        elif isinstance(message, _FlushDue):
            self._flush()
            self.send_after(self.relay_interval, _FLUSH)
        elif isinstance(message, _HeartbeatDue):
            self._heartbeat()
            self.send_after(self.heartbeat_interval, _HEARTBEAT)
        elif isinstance(message, SetProbe):
            self.probe, self.polling = message.probe, message.polling
        elif isinstance(message, SendNow):
            self._flush()
            self._send(message.message)
        elif isinstance(message, UndeliveredResult):
            self._flush()
            self._send(
                UndeliveredResult(message.task_type, message.result, picklable_error(message.cause), message.attempts)
            )
        elif message == "flush":  # an ask from the controlling thread: everything out, then answer
            self._flush()
            return True
        return None

    def _flush(self) -> None:
        events = tuple(picklable_event(e) for e in self.events)
        self.events.clear()
        if self.dropped:
            _log.warning("the parent was too slow: %d event(s) were dropped", self.dropped)
            self.dropped = 0
        delta = self.metrics.drain() if self.metrics is not None else None
        if events or delta:
            self._send(EventBatch(events, delta or None))

    def _heartbeat(self) -> None:
        ages, in_flight = self.probe() if self.probe is not None else ((), 0)
        polling = self.polling() if self.polling is not None else None
        self._send(Heartbeat(self.pid, ages, in_flight, polling))

    def _send(self, message: Any) -> None:
        if self.broken:
            return
        try:
            self.conn.send(message)
        except (OSError, EOFError, ValueError) as exc:
            self.broken = True
            _log.warning("the parent process is gone (%s); nothing more is sent to it", exc)
