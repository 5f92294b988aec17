"""Fault injection and request counters for the dev server.

A :class:`Fault` matches endpoint names (one name, a group such as ``"poll"``, or ``"*"``) and
applies to the next ``times`` matching requests, during the next ``seconds``, or until removed.
Its effects are applied before the request is processed: ``delay_ms`` first, then at most one of
``status`` (an error body), ``drop`` (TCP reset, no answer) or ``garbage`` (a 200 with a broken
body). Several matching faults combine: their delays add up and the oldest one with an effect
other than a delay decides the answer.

``FaultInjector`` is thread-safe: tests add and remove faults from their own thread while the
server's loop thread consults them. ``RequestCounters`` is loop-thread only.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

from ._errors import ApiError, encode_json
from ._http import JSON_TYPE, TEXT_TYPE, Response
from ._routes import ENDPOINTS, expand_endpoint

__all__ = [
    "GARBAGE_KINDS",
    "Fault",
    "FaultInjector",
    "FaultPlan",
    "RequestCounters",
    "fault_response",
    "garbage_response",
]

GARBAGE_KINDS = ("html", "truncated_json", "not_json", "missing_ids")

_ids = itertools.count(1)


class Fault:
    """One active fault. ``remove()`` switches it off; ``hits`` counts the requests it affected."""

    def __init__(self, injector: FaultInjector, endpoint: str, endpoints: frozenset[str], *, status: int | None,
                 delay_ms: float, drop: bool, garbage: str | None, times: int | None,
                 seconds: float | None) -> None:
        self.id = next(_ids)
        self.endpoint = endpoint
        self.endpoints = endpoints
        self.status = status
        self.delay_ms = delay_ms
        self.drop = drop
        self.garbage = garbage
        self.times = times
        self.seconds = seconds
        self.hits = 0
        self._expires_at = time.monotonic() + seconds if seconds is not None else None
        self._injector = injector

    @property
    def has_answer(self) -> bool:
        """True when the fault replaces the answer (status, drop or garbage), not only delays it."""
        return self.status is not None or self.drop or self.garbage is not None

    @property
    def active(self) -> bool:
        """Whether the fault still applies (not removed, uses left, time left)."""
        if self not in self._injector.faults():
            return False
        return self._expires_at is None or time.monotonic() < self._expires_at

    def remove(self) -> None:
        """Switch this fault off (no-op if it already ended). Thread-safe."""
        self._injector.remove(self)

    def to_json(self) -> dict[str, Any]:
        """A description for the admin endpoint."""
        return {"id": self.id, "endpoint": self.endpoint, "status": self.status, "delay_ms": self.delay_ms,
                "drop": self.drop, "garbage": self.garbage, "times": self.times, "seconds": self.seconds,
                "hits": self.hits}

    def __repr__(self) -> str:
        effects = [f"{name}={value!r}" for name, value in (
            ("status", self.status), ("delay_ms", self.delay_ms or None), ("drop", self.drop or None),
            ("garbage", self.garbage), ("times", self.times), ("seconds", self.seconds)) if value is not None]
        return f"Fault(#{self.id} {self.endpoint!r} {' '.join(effects)})"


class FaultPlan:
    """What to do with one request: wait ``delay`` seconds, then answer with ``fault`` (or go on)."""

    __slots__ = ("delay", "fault")

    def __init__(self, delay: float, fault: Fault | None) -> None:
        self.delay = delay
        self.fault = fault


class FaultInjector:
    """The server's fault switchboard (``server.faults``). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: tuple[Fault, ...] = ()

    def add(self, endpoint: str, *, status: int | None = None, delay_ms: float = 0, drop: bool = False,
            garbage: str | None = None, times: int | None = None, seconds: float | None = None) -> Fault:
        """Add a fault; see the module docstring. Raises ``ValueError`` for an unknown endpoint or
        garbage kind, an out-of-range value, no effect at all, or more than one answer effect."""
        endpoints = expand_endpoint(endpoint)
        if status is not None and (isinstance(status, bool) or not isinstance(status, int)
                                   or not 100 <= status <= 599):
            raise ValueError(f"status must be an HTTP status code between 100 and 599, got {status!r}")
        if isinstance(delay_ms, bool) or not isinstance(delay_ms, (int, float)) or delay_ms < 0:
            raise ValueError(f"delay_ms must be a number >= 0, got {delay_ms!r}")
        if garbage is not None and garbage not in GARBAGE_KINDS:
            raise ValueError(f"unknown garbage kind {garbage!r}; expected one of {', '.join(GARBAGE_KINDS)}")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            raise ValueError(f"times must be an integer >= 1, got {times!r}")
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                    or seconds <= 0):
            raise ValueError(f"seconds must be a number > 0, got {seconds!r}")
        answers = sum((status is not None, bool(drop), garbage is not None))
        if answers > 1:
            raise ValueError("a fault takes at most one of status, drop and garbage")
        if answers == 0 and not delay_ms:
            raise ValueError("a fault needs an effect: status, delay_ms, drop or garbage")
        fault = Fault(self, endpoint, endpoints, status=status, delay_ms=float(delay_ms), drop=bool(drop),
                      garbage=garbage, times=times, seconds=seconds)
        with self._lock:
            self._faults = (*self._faults, fault)
        return fault

    def remove(self, fault: Fault) -> None:
        """Remove one fault (no-op if it is gone)."""
        with self._lock:
            self._faults = tuple(f for f in self._faults if f is not fault)

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults = ()

    def faults(self) -> tuple[Fault, ...]:
        """The faults currently installed (some may have just expired)."""
        return self._faults

    def take(self, endpoint: str) -> FaultPlan | None:
        """Consume one use of every active fault matching ``endpoint``; None when none applies."""
        if not self._faults:
            return None
        delay = 0.0
        answer: Fault | None = None
        now = time.monotonic()
        with self._lock:
            kept: list[Fault] = []
            matched = False
            for fault in self._faults:
                if fault._expires_at is not None and now >= fault._expires_at:
                    continue
                if endpoint in fault.endpoints:
                    matched = True
                    fault.hits += 1
                    delay += fault.delay_ms / 1000.0
                    if answer is None and fault.has_answer:
                        answer = fault
                    if fault.times is not None and fault.hits >= fault.times:
                        continue
                kept.append(fault)
            if len(kept) != len(self._faults):
                self._faults = tuple(kept)
        return FaultPlan(delay, answer) if matched else None


def garbage_response(kind: str, endpoint: str) -> Response:
    """A 200 answer whose body is broken in the way ``kind`` names."""
    if kind == "html":
        page = ("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
                "<h1>Bad Gateway</h1><p>The upstream server returned an invalid response.</p></body></html>")
        return Response(200, page.encode(), "text/html")
    if kind == "missing_ids" and endpoint in ("poll_batch", "poll_single"):
        task = {"taskType": "garbage", "status": "IN_PROGRESS", "inputData": {}, "pollCount": 1}
        return Response(200, encode_json([task] if endpoint == "poll_batch" else task), JSON_TYPE)
    if kind == "truncated_json":
        valid = encode_json([{"taskId": "3f2a", "workflowInstanceId": "9c1b", "taskType": endpoint,
                              "status": "IN_PROGRESS", "inputData": {"note": "cut in half by a fault"}}])
        return Response(200, valid[: len(valid) // 2], JSON_TYPE)
    return Response(200, b"this is not JSON: injected garbage", TEXT_TYPE)


def fault_response(fault: Fault, endpoint: str) -> Response:
    """The answer a status or garbage fault gives (drop is handled by the caller)."""
    if fault.garbage is not None:
        return garbage_response(fault.garbage, endpoint)
    status = fault.status if fault.status is not None else 500
    error = ApiError(status, f"Injected fault: HTTP {status} on {endpoint}")
    return Response(status, error.body(), JSON_TYPE)


class RequestCounters:
    """Requests received per endpoint name plus ``total`` (loop thread only)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(ENDPOINTS, 0)
        self.total = 0

    def snapshot(self) -> dict[str, int]:
        """A copy: every endpoint name (0 when unused) plus ``total``."""
        result = dict(self.counts)
        result["total"] = self.total
        return result

    def reset(self) -> None:
        """Set every counter back to 0."""
        for name in self.counts:
            self.counts[name] = 0
        self.total = 0
