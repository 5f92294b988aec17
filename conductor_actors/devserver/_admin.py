"""Admin endpoints outside ``/api`` so a server in another process can be driven by tests.

``GET /__devserver__/stats``, ``POST /__devserver__/stats/reset``,
``GET|POST|DELETE /__devserver__/faults`` (POST body: the keyword arguments of ``faults.add`` plus
``endpoint``) and ``DELETE /__devserver__/faults/{id}``; for benchmarks and tests of a server in
another process, ``GET /__devserver__/summary`` (workflows and tasks counted by status) and
``GET /__devserver__/tasks?taskType=X`` (each task's status and scheduled/start/end times in ms);
``GET /__devserver__/conflicts`` (terminal updates that reached an already finished task with
another status or output, per task; see ``TerminalConflicts``) and ``DELETE`` to forget them;
``GET /__devserver__/clock`` (the server clock) and ``POST /__devserver__/clock/advance`` with
``{"seconds": N}`` (``DevServer.advance_clock`` for a server in another process, or curl).
Admin calls are never counted or faulted.
Runs on the loop thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ._errors import ApiError
from ._faults import Fault, FaultInjector, RequestCounters
from ._http import Request, Response
from ._payloads import EMPTY_OK, json_body, json_response
from ._store import Store
from ._tasks import TerminalConflicts

__all__ = ["ADMIN_PREFIX", "AdminApi"]

ADMIN_PREFIX = "__devserver__"

_FAULT_FIELDS = ("endpoint", "status", "delay_ms", "drop", "garbage", "times", "seconds")


class AdminApi:
    """Stats and fault switches over HTTP."""

    def __init__(self, counters: RequestCounters, faults: FaultInjector, store: Store,
                 conflicts: TerminalConflicts, clock_time: Callable[[], float],
                 advance_clock: Callable[[float], None]) -> None:
        self._counters = counters
        self._faults = faults
        self._store = store
        self._conflicts = conflicts
        self._clock_time = clock_time
        self._advance_clock = advance_clock

    def handle(self, request: Request, segments: Sequence[str]) -> Response:
        """Answer an admin request; ``segments`` follow the ``__devserver__`` prefix. Raises ``ApiError``."""
        method = request.method
        path = tuple(segments)
        if path == ("stats",):
            _require(method, "GET")
            return json_response(self._counters.snapshot())
        if path == ("summary",):
            _require(method, "GET")
            return json_response(self._summary())
        if path == ("tasks",):
            _require(method, "GET")
            wanted = request.query.get("taskType")
            task_type = wanted[0] if wanted else None
            return json_response([
                [t["status"], t.get("scheduledTime"), t.get("startTime"), t.get("endTime")]
                for t in self._store.tasks.values()
                if task_type is None or t["taskType"] == task_type
            ])
        if path == ("conflicts",):
            if method == "DELETE":
                self._conflicts.clear()
                return EMPTY_OK
            _require(method, "GET")
            return json_response(self._conflicts.snapshot())
        if path == ("clock",):
            _require(method, "GET")
            return json_response(self._clock())
        if path == ("clock", "advance"):
            _require(method, "POST")
            body = json_body(request)
            seconds = body.get("seconds") if isinstance(body, dict) else None
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
                raise ApiError(400, f'The body must be {{"seconds": N}} with a number N >= 0, got {body!r}')
            self._advance_clock(float(seconds))
            return json_response(self._clock())
        if path == ("stats", "reset"):
            _require(method, "POST")
            self._counters.reset()
            return EMPTY_OK
        if path == ("faults",):
            if method == "GET":
                return json_response([fault.to_json() for fault in self._faults.faults()])
            if method == "DELETE":
                self._faults.clear()
                return EMPTY_OK
            _require(method, "POST")
            return json_response(self._add_fault(json_body(request)).to_json())
        if len(path) == 2 and path[0] == "faults":
            _require(method, "DELETE")
            for fault in self._faults.faults():
                if str(fault.id) == path[1]:
                    fault.remove()
                    return EMPTY_OK
            raise ApiError(404, f"No fault with id {path[1]}")
        raise ApiError(404, f"No static resource {'/'.join((ADMIN_PREFIX, *path))}.")

    def _clock(self) -> dict[str, Any]:
        now = self._clock_time()
        return {"time": now, "timeMillis": int(now * 1000)}

    def _summary(self) -> dict[str, dict[str, int]]:
        workflows: dict[str, int] = {}
        for workflow in self._store.workflows.values():
            workflows[workflow.status] = workflows.get(workflow.status, 0) + 1
        tasks: dict[str, int] = {}
        for task in self._store.tasks.values():
            tasks[task["status"]] = tasks.get(task["status"], 0) + 1
        return {"workflows": workflows, "tasks": tasks}

    def _add_fault(self, body: object) -> Fault:
        if not isinstance(body, dict):
            raise ApiError(400, "Fault body must be a JSON object")
        unknown = sorted(set(body) - set(_FAULT_FIELDS))
        if unknown:
            raise ApiError(400, f"Unknown fault fields: {', '.join(unknown)}; expected {', '.join(_FAULT_FIELDS)}")
        endpoint = body.get("endpoint")
        if not isinstance(endpoint, str):
            raise ApiError(400, "Fault body needs an 'endpoint' string")
        options = {key: value for key, value in body.items() if key != "endpoint" and value is not None}
        try:
            return self._faults.add(endpoint, **options)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, f"Invalid fault: {exc}") from None


def _require(method: str, expected: str) -> None:
    if method != expected:
        raise ApiError(405, f"Request method '{method}' is not supported")
