"""Task queues of the dev server, keyed by (task type, domain).

Each queue is FIFO. An entry pushed with a delay sits in the queue (it counts in the size) but
becomes pollable only when its timer on the server clock fires (advancing the clock releases it).
A task id is in at most one queue at a time:
pushing it again replaces its old entry (the server's "postpone"). Long-poll waiters park on a
future per queue and are woken one per entry that becomes ready.

Everything here runs on the server's event loop thread; nothing is thread-safe by itself.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator

from ._clock import ServerClock, Timer

__all__ = ["QueueKey", "TaskQueues", "queue_name"]

#: (task type, domain or None)
QueueKey = tuple[str, str | None]


def queue_name(key: QueueKey) -> str:
    """The server's queue name: ``taskType``, or ``domain:taskType`` with a domain."""
    task_type, domain = key
    return f"{domain}:{task_type}" if domain else task_type


class _Entry:
    __slots__ = ("handle", "key", "task_id")

    def __init__(self, task_id: str, key: QueueKey) -> None:
        self.task_id = task_id
        self.key = key
        self.handle: Timer | None = None


class TaskQueues:
    """All task queues plus their long-poll waiters (loop thread only)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, clock: ServerClock) -> None:
        self._loop = loop
        self._clock = clock
        self._members: dict[str, _Entry] = {}
        self._ready: dict[QueueKey, deque[_Entry]] = {}
        self._sizes: dict[QueueKey, int] = {}
        self._waiters: dict[QueueKey, deque[asyncio.Future[bool]]] = {}

    def push(self, key: QueueKey, task_id: str, delay_seconds: float = 0.0) -> None:
        """Queue ``task_id`` (replacing any entry it has), pollable after ``delay_seconds``."""
        self.remove(task_id)
        entry = _Entry(task_id, key)
        self._members[task_id] = entry
        self._sizes[key] = self._sizes.get(key, 0) + 1
        if delay_seconds > 0:
            entry.handle = self._clock.call_later(delay_seconds, self._make_ready, entry)
        else:
            self._make_ready(entry)

    def remove(self, task_id: str) -> bool:
        """Take ``task_id`` out of its queue; False if it was not queued."""
        entry = self._members.pop(task_id, None)
        if entry is None:
            return False
        self._sizes[entry.key] -= 1
        if entry.handle is not None:
            entry.handle.cancel()
            entry.handle = None
        return True

    def pop(self, key: QueueKey, count: int) -> list[str]:
        """Up to ``count`` ready task ids from the head of the queue (removed from it)."""
        ready = self._ready.get(key)
        taken: list[str] = []
        members = self._members
        while ready and len(taken) < count:
            entry = ready.popleft()
            if members.get(entry.task_id) is entry:
                del members[entry.task_id]
                taken.append(entry.task_id)
        if taken:
            self._sizes[key] -= len(taken)
        return taken

    def size(self, key: QueueKey) -> int:
        """Ready plus delayed entries of one queue."""
        return self._sizes.get(key, 0)

    def sizes(self) -> Iterator[tuple[QueueKey, int]]:
        """Every queue that was ever used, with its size."""
        return iter(list(self._sizes.items()))

    async def wait_ready(self, key: QueueKey, timeout: float) -> None:
        """Wait until an entry of ``key`` becomes ready or ``timeout`` seconds pass.

        Returns without a guarantee: another poller may take the entry first, so callers pop and,
        if they got nothing, wait again until their own deadline. If the waiting coroutine is
        cancelled after being woken, the wake-up is passed on to the next waiter.
        """
        future: asyncio.Future[bool] = self._loop.create_future()
        waiters = self._waiters.setdefault(key, deque())
        waiters.append(future)
        timer = self._loop.call_later(timeout, _settle, future, False)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.result():
                self._wake_one(key)
            raise
        finally:
            timer.cancel()
            try:
                waiters.remove(future)
            except ValueError:
                pass

    def _make_ready(self, entry: _Entry) -> None:
        if self._members.get(entry.task_id) is not entry:
            return
        entry.handle = None
        ready = self._ready.get(entry.key)
        if ready is None:
            ready = self._ready[entry.key] = deque()
        ready.append(entry)
        if self._waiters.get(entry.key):
            self._wake_one(entry.key)

    def _wake_one(self, key: QueueKey) -> None:
        waiters = self._waiters.get(key)
        while waiters:
            future = waiters.popleft()
            if not future.done():
                future.set_result(True)
                return


def _settle(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)
