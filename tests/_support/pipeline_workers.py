"""Module-level worker functions for the pipeline behaviour tests, each as a sync/async twin.

Worker processes re-import worker functions by module and name, so they live here rather than
inside the tests. ``worker_function(kind, flavour)`` picks the twin: ``<kind>_sync`` is a ``def``
(run on an executor thread), ``<kind>_async`` an ``async def`` (run on the pipeline's event loop).

Tests steer blocked workers through ``GATES``: named ``threading.Event`` objects a worker waits on
(the async twins poll the event in short awaits so the loop stays free). A blocked worker gives up
after ``MAX_BLOCK`` seconds, so a failing test can never leave a thread blocked for good.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from conductor_actors.worker import get_task_context

__all__ = [
    "GATES",
    "MAX_BLOCK",
    "Gates",
    "worker_function",
]

#: Longest time (s) a worker waits on a gate or for the shutdown flag before it returns anyway.
MAX_BLOCK = 15.0
#: How often (s) a waiting worker looks at a threading.Event or the shutdown flag again.
_POLL_EVERY = 0.005


class Gates:
    """Named events that release blocked workers. Thread-safe; opened from the test's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, threading.Event] = {}

    def get(self, name: str) -> threading.Event:
        """The event called ``name`` (created closed on first use)."""
        with self._lock:
            event = self._events.get(name)
            if event is None:
                event = self._events[name] = threading.Event()
            return event

    def open(self, name: str) -> None:
        """Let every worker waiting on ``name`` (now or later) go on."""
        self.get(name).set()

    def reset(self) -> None:
        """Open every gate (releasing stragglers of a finished test) and forget them all."""
        with self._lock:
            events, self._events = list(self._events.values()), {}
        for event in events:
            event.set()


GATES = Gates()


def worker_function(kind: str, flavour: str) -> Callable[..., Any]:
    """The ``def`` (flavour "sync") or ``async def`` (flavour "async") worker of ``kind``.

    Raises ``KeyError`` naming the function when there is no such twin.
    """
    name = f"{kind}_{flavour}"
    function = globals().get(name)
    if not callable(function):
        raise KeyError(f"no worker function {name!r} in {__name__}")
    return function  # type: ignore[no-any-return]


async def _wait_event_async(event: threading.Event, timeout: float) -> bool:
    """Await until ``event`` is set or ``timeout`` passes, without blocking the loop."""
    deadline = time.monotonic() + timeout
    while not event.is_set():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_POLL_EVERY)
    return True


# -- echo: returns its input (the plain, fast worker) ---------------------------------------------

def echo_sync(x: Any = None) -> dict[str, Any]:
    return {"y": x}


async def echo_async(x: Any = None) -> dict[str, Any]:
    return {"y": x}


# -- hold: blocks until its gate opens --------------------------------------------------------------

def hold_sync(gate: str) -> dict[str, Any]:
    opened = GATES.get(gate).wait(MAX_BLOCK)
    return {"gate": gate, "opened": opened}


async def hold_async(gate: str) -> dict[str, Any]:
    opened = await _wait_event_async(GATES.get(gate), MAX_BLOCK)
    return {"gate": gate, "opened": opened}


# -- nap: runs for a known time ---------------------------------------------------------------------

def nap_sync(seconds: float) -> dict[str, Any]:
    time.sleep(seconds)
    return {"slept": seconds}


async def nap_async(seconds: float) -> dict[str, Any]:
    await asyncio.sleep(seconds)
    return {"slept": seconds}


# -- slow_first: runs ``seconds`` on the first attempt of a task, returns at once on retries --------

def slow_first_sync(seconds: float) -> dict[str, Any]:
    retry_count = get_task_context().get_retry_count()
    if retry_count == 0:
        time.sleep(seconds)
    return {"retry_count": retry_count}


async def slow_first_async(seconds: float) -> dict[str, Any]:
    retry_count = get_task_context().get_retry_count()
    if retry_count == 0:
        await asyncio.sleep(seconds)
    return {"retry_count": retry_count}


# -- fail: raises -----------------------------------------------------------------------------------

def fail_sync(message: str) -> dict[str, Any]:
    raise ValueError(message)


async def fail_async(message: str) -> dict[str, Any]:
    raise ValueError(message)


# -- await_shutdown: runs until the task context says the worker is shutting down -------------------

def await_shutdown_sync(x: Any = None) -> dict[str, Any]:
    context = get_task_context()
    deadline = time.monotonic() + MAX_BLOCK
    while not context.is_shutting_down() and time.monotonic() < deadline:
        time.sleep(_POLL_EVERY)
    return {"saw_shutdown": context.is_shutting_down()}


async def await_shutdown_async(x: Any = None) -> dict[str, Any]:
    context = get_task_context()
    deadline = time.monotonic() + MAX_BLOCK
    while not context.is_shutting_down() and time.monotonic() < deadline:
        await asyncio.sleep(_POLL_EVERY)
    return {"saw_shutdown": context.is_shutting_down()}


# -- burn: keeps a CPU busy for ``seconds`` (the async twin burns on a worker thread) ---------------

def _burn(seconds: float) -> int:
    deadline = time.perf_counter() + seconds
    loops = 0
    while time.perf_counter() < deadline:
        sum(i * i for i in range(200))
        loops += 1
    return loops


def burn_sync(seconds: float) -> dict[str, Any]:
    return {"loops": _burn(seconds)}


async def burn_async(seconds: float) -> dict[str, Any]:
    return {"loops": await asyncio.to_thread(_burn, seconds)}


# -- moody: misbehaves as its input says ------------------------------------------------------------

def _moody_output(mood: str, x: Any) -> dict[str, Any]:
    if mood == "raise":
        raise RuntimeError(f"moody worker raised for {x!r}")
    if mood == "unserialisable":
        return {"handle": threading.Lock()}
    return {"y": x}


def moody_sync(mood: str, x: Any = None) -> dict[str, Any]:
    """``mood`` "ok" echoes ``x``, "raise" raises, "unserialisable" returns a lock, "block" waits on gate ``x``."""
    if mood == "block":
        return hold_sync(str(x))
    return _moody_output(mood, x)


async def moody_async(mood: str, x: Any = None) -> dict[str, Any]:
    """The async twin of ``moody_sync``."""
    if mood == "block":
        return await hold_async(str(x))
    return _moody_output(mood, x)
