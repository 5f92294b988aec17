"""``/ready``: readiness, as opposed to ``/health`` (liveness).

``/health`` says the worker processes are alive and beating; ``/ready`` says they can do their
job: every worker process is up and its polls reach the server. A process is ready when

- its polling is paused on purpose (it is not failing), or
- a poll of its current process succeeded, and its polls have not been failing for longer than
  ``READY_WINDOW`` seconds since the last one that succeeded.

A worker whose slots are all busy does not poll, and stays ready while its last poll succeeded. A
wrong server URL or refused credentials keep it not ready from the start (no poll ever succeeds);
a server that goes away makes it not ready ``READY_WINDOW`` seconds after the last good poll.
What a worker process reports arrives with its heartbeats (``heartbeat_interval``), so ``/ready``
follows a change within about one heartbeat.

Pure functions of ``ChildStatus`` snapshots; any thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["READY_WINDOW", "ready_report"]

#: Seconds a worker process may go on failing its polls after the last good one and still count
#: as ready (one failed poll, a server restart, must not take every worker out of service).
READY_WINDOW = 30.0


def ready_report(statuses: Sequence[Any], window: float = READY_WINDOW) -> tuple[int, dict[str, Any]]:
    """The ``/ready`` answer: 200 when every worker process is ready, else 503. The JSON body
    names each worker process, whether it is ready, why not, and its last poll error."""
    workers = []
    for s in statuses:
        problem = _not_ready_because(s, window)
        age = s.last_poll_success_age
        workers.append({
            "key": s.key, "taskType": s.task_type, "pid": s.pid, "state": s.state, "ready": problem is None,
            "lastPollSuccessAgeSeconds": None if age is None else round(age, 1),
            "lastError": s.last_poll_error, "paused": s.polling_paused,
            **({"reason": problem} if problem is not None else {}),
        })
    ready = bool(statuses) and all(w["ready"] for w in workers)
    body: dict[str, Any] = {"status": "ready" if ready else "not ready", "workers": workers}
    if not statuses:
        body["reason"] = "no worker process is running"
    return (200 if ready else 503), body


def _not_ready_because(s: Any, window: float) -> str | None:
    """Why one worker process is not ready; None when it is."""
    if s.state != "up":
        return f"the worker process is {s.state}"
    if s.polling_paused:
        return None
    age = s.last_poll_success_age
    error = f": {s.last_poll_error}" if s.last_poll_error else ""
    if age is None:
        return "no poll has succeeded yet" + error
    if s.last_poll_error is not None and age > window:
        return f"polls have failed for {age:.0f} s" + error
    return None
