"""The worker properties: names, defaults, aliases and how a raw value becomes a valid one.

One table (``PROPERTIES``) drives the decorator, ``Worker``, ``WorkerConfig`` and the environment
lookup, so a value is validated the same way whether it comes from code or from a variable.
Pure functions; safe from any thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._exceptions import WorkerConfigError

__all__ = [
    "MAX_ASYNC_THREAD_COUNT",
    "MAX_PROCESSES",
    "MAX_SYNC_THREAD_COUNT",
    "PROPERTIES",
    "PROPERTY_NAMES",
    "WorkerProperty",
    "check_thread_count",
    "coerce_property",
]

#: Most slots of a ``def`` worker process: each slot is a thread (with its stack and a connection),
#: and past a few thousand threads a process spends its time switching, if it can start them at all.
MAX_SYNC_THREAD_COUNT = 4096
#: Most slots of an ``async def`` worker process: each is a coroutine on one event loop, cheap
#: enough for tens of thousands, but one loop cannot serve more in any useful time.
MAX_ASYNC_THREAD_COUNT = 65536
#: Most worker processes per worker: each is a Python interpreter of its own (tens of MiB).
MAX_PROCESSES = 256

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError


def _parse_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        return int(raw.strip())
    raise ValueError


def _parse_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError
    if isinstance(raw, (int, float)):
        value = float(raw)
    elif isinstance(raw, str):
        value = float(raw.strip())
    else:
        raise ValueError
    if not math.isfinite(value):
        raise ValueError
    return value


def _parse_optional_str(raw: Any) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        text = raw.strip()
        return text or None
    raise ValueError


@dataclass(frozen=True)
class WorkerProperty:
    """One configurable worker property.

    ``aliases`` are extra spellings accepted in environment variable names; ``requirement`` completes
    the sentence "<name> must ..." in error messages, and ``over_maximum`` (when given) replaces it
    for a value above ``maximum``, so that message names the bound.
    """

    name: str
    default: Any
    parse: Callable[[Any], Any]
    requirement: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    aliases: tuple[str, ...] = ()
    over_maximum: str | None = None

    @property
    def spellings(self) -> tuple[str, ...]:
        """The property name followed by its aliases, in lookup order."""
        return (self.name, *self.aliases)

    def coerce(self, raw: Any, source: str) -> Any:
        """Return the valid value for ``raw`` (a string from the environment or a value from code).

        ``source`` names where ``raw`` came from (a variable or keyword) and is used in the message.
        Raises ``WorkerConfigError`` naming the source, the value and the rule.
        """
        try:
            value = self.parse(raw)
        except (ValueError, TypeError, OverflowError):
            value = _INVALID
        if value is not _INVALID and value is not None and not self._in_range(value):
            value = _INVALID
        if value is _INVALID:
            raise WorkerConfigError(f"{source}={raw!r}: {self.name} {self._rule_broken(raw)}")
        return value

    def _rule_broken(self, raw: Any) -> str:
        if self.over_maximum is not None and self.maximum is not None:
            try:
                if self.parse(raw) > self.maximum:
                    return self.over_maximum
            except (ValueError, TypeError, OverflowError):
                pass
        return self.requirement


    def _in_range(self, value: float) -> bool:
        if self.minimum is not None and (
            value < self.minimum or (self.exclusive_minimum and value == self.minimum)
        ):
            return False
        return self.maximum is None or value <= self.maximum


_INVALID = object()

_BOOL_RULE = "must be a boolean (true/false, 1/0, yes/no, on/off)"


def _bool(name: str, default: bool) -> WorkerProperty:
    return WorkerProperty(name, default, _parse_bool, _BOOL_RULE)


PROPERTIES: dict[str, WorkerProperty] = {
    prop.name: prop
    for prop in (
        WorkerProperty(
            "poll_interval_millis",
            100.0,
            _parse_float,
            "must be a number of milliseconds > 0",
            minimum=0,
            exclusive_minimum=True,
            aliases=("poll_interval", "polling_interval"),
        ),
        WorkerProperty(
            "thread_count",
            1,
            _parse_int,
            "must be an integer >= 1",
            minimum=1,
            maximum=MAX_ASYNC_THREAD_COUNT,
            over_maximum=f"must be at most {MAX_ASYNC_THREAD_COUNT} (at most {MAX_SYNC_THREAD_COUNT} for a def worker)",
        ),
        WorkerProperty("domain", None, _parse_optional_str, "must be a string (empty means no domain)"),
        WorkerProperty("worker_id", None, _parse_optional_str, "must be a string (empty means the default id)"),
        WorkerProperty(
            "poll_timeout",
            100,
            _parse_int,
            "must be an integer number of milliseconds from 0 to 5000",
            minimum=0,
            maximum=5000,
        ),
        _bool("lease_extend_enabled", False),
        _bool("register_task_def", False),
        _bool("overwrite_task_def", True),
        _bool("strict_schema", False),
        _bool("register_schema", False),
        _bool("paused", False),
        WorkerProperty(
            "processes", 1, _parse_int, "must be an integer >= 1",
            minimum=1, maximum=MAX_PROCESSES, over_maximum=f"must be at most {MAX_PROCESSES}",
        ),
    )
}

#: Property names in their canonical order (the order of ``WorkerConfig`` fields).
PROPERTY_NAMES: tuple[str, ...] = tuple(PROPERTIES)


def coerce_property(name: str, raw: Any, worker_name: str) -> Any:
    """Validate a value given in code for worker ``worker_name``; the message names the keyword.

    Raises ``WorkerConfigError``.
    """
    try:
        return PROPERTIES[name].coerce(raw, name)
    except WorkerConfigError as exc:
        raise WorkerConfigError(f"{exc} (worker {worker_name!r})") from None


def check_thread_count(value: int, is_async: bool, source: str, worker_name: str) -> None:
    """Refuse more slots than the worker's flavour can run (the property's own range already
    caps both flavours at ``MAX_ASYNC_THREAD_COUNT``). ``source`` names the keyword or variable
    the value came from. Raises ``WorkerConfigError`` naming it, the value and the bound."""
    if not is_async and value > MAX_SYNC_THREAD_COUNT:
        raise WorkerConfigError(
            f"{source}={value!r}: thread_count must be at most {MAX_SYNC_THREAD_COUNT} for a def worker, which"
            f" runs one thread per slot (an async def worker may have up to {MAX_ASYNC_THREAD_COUNT})"
            f" (worker {worker_name!r})"
        )
