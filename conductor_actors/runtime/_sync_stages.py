"""The sync flavour's stages: thread actors over ``queue``-backed mailboxes, HTTP via ``requests``.

- ``SyncPoller`` (one thread) polls for exactly the free slots.
- ``SyncExecutor`` (a pool of ``thread_count`` threads sharing one mailbox) runs the worker
  function; it never touches the network.
- ``SyncUpdater`` (a small pool) sends results concurrently; a retry is a timer message, never a
  sleeping thread.
- ``SyncLeaseKeeper`` (one thread) extends the lease of long-running tasks on timers.

Each class only performs its blocking I/O call; the rest is the shared behaviour in ``_stages``.
"""

from __future__ import annotations

import time
from typing import Any

from ..actors import ThreadActor
from ..worker import execute_sync
from ._messages import Execute
from ._stages import ExecutorBehaviour, LeaseBehaviour, PollerBehaviour, UpdaterBehaviour

__all__ = ["SyncExecutor", "SyncLeaseKeeper", "SyncPoller", "SyncUpdater"]


class SyncPoller(PollerBehaviour, ThreadActor):
    """Runs on its own thread; a poll blocks it for at most the long-poll time plus the read timeout."""

    use_daemon_thread = True

    def on_receive(self, message: Any) -> None:
        count = self.handle(message)
        if not count:
            return
        w = self.w
        self.poll_started(count)
        started = time.perf_counter()
        try:
            tasks = w.client.batch_poll(
                w.task_type, count=count, timeout_ms=w.config.poll_timeout,
                worker_id=w.worker_id, domain=w.config.domain,
            )
        except Exception as exc:
            self.poll_failed(exc, time.perf_counter() - started)
        else:
            self.polled(tasks, time.perf_counter() - started)


class SyncExecutor(ExecutorBehaviour, ThreadActor):
    """One of ``thread_count`` pool members; runs the worker function on its own thread."""

    use_daemon_thread = True  # a worker function that never returns must not keep the process alive

    def on_receive(self, message: Execute) -> None:
        task = message.task
        if self.begin(task):
            self.finish(task, execute_sync(self.w.bound, task, self.w.shutting_down.is_set))


class SyncUpdater(UpdaterBehaviour, ThreadActor):
    """One of a small pool of members sending results concurrently."""

    use_daemon_thread = True

    def on_receive(self, message: Any) -> None:
        report = self.handle(message)
        client = self.w.client
        while report is not None:
            use_v2 = self.uses_v2(report)
            started = time.perf_counter()
            try:
                if use_v2:
                    next_task = client.update_task_v2(report.result)
                else:
                    client.update_task(report.result)
                    next_task = None
            except Exception as exc:
                report = self.send_failed(report, exc, time.perf_counter() - started, sent_v2=use_v2)
            else:
                self.sent(report, next_task, time.perf_counter() - started)
                report = None


class SyncLeaseKeeper(LeaseBehaviour, ThreadActor):
    """Extends leases from its own thread."""

    use_daemon_thread = True

    def on_receive(self, message: Any) -> None:
        due = self.handle(message)
        if due is None:
            return
        task, extension = due
        try:
            self.w.client.update_task(extension)
        except Exception as exc:
            self.extended(task, exc)
        else:
            self.extended(task, None)
