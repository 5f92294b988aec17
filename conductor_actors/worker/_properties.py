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

__all__ = ["PROPERTIES", "PROPERTY_NAMES", "WorkerProperty", "coerce_property"]

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
    the sentence "<name> must ..." in error messages.
    """

    name: str
    default: Any
    parse: Callable[[Any], Any]
    requirement: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    aliases: tuple[str, ...] = ()

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
            raise WorkerConfigError(f"{source}={raw!r}: {self.name} {self.requirement}")
        return value


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
        WorkerProperty("thread_count", 1, _parse_int, "must be an integer >= 1", minimum=1),
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
        WorkerProperty("processes", 1, _parse_int, "must be an integer >= 1", minimum=1),
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
