"""Worker configuration: the properties, their parsing, and the environment over the code.

One table (``PROPERTIES``: names, defaults, aliases, and how a raw value becomes a valid one) drives
``Worker``, ``WorkerConfig`` and the environment lookup, so a value is validated the same way
whether it comes from code or from a variable (``WorkerConfigError`` names the keyword or variable
and the value). ``resolve_config`` applies the table to one worker's code values and the
environment; ``resolve_official_config`` is the official SDK's form, by task name. The public
``resolve_worker_config`` (in ``_worker``, which builds on this module) reads a worker object's
code values and calls one or the other.

Precedence, highest first: worker-specific variables, global (``all``) variables, then the value
in code. For worker ``<name>`` and property ``<prop>`` the forms are checked in this order:

1. ``conductor.worker.<name>.<prop>``
2. ``conductor_worker_<name>_<prop>``
3. ``CONDUCTOR_WORKER_<NAME>_<PROP>`` (name upper-cased; also with every character that is not an
   ASCII letter or digit replaced by ``_``)
4. ``CONDUCTOR_WORKER_<name as written>_<PROP>``
5. ``conductor.worker.all.<prop>``
6. ``CONDUCTOR_WORKER_ALL_<PROP>``
7. ``CONDUCTOR_REGISTER_SCHEMAS`` (``register_schema`` only)

``poll_interval_millis`` is also spelled ``poll_interval`` or ``polling_interval`` in every form
(the official SDK reads only those two). Every form that is set is parsed, including the ones a
higher form overrides: a value that does not parse raises ``WorkerConfigError`` naming the variable
and the value; nothing is silently ignored. Pure functions; any thread.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAX_ASYNC_THREAD_COUNT",
    "MAX_PROCESSES",
    "MAX_SYNC_THREAD_COUNT",
    "PROPERTIES",
    "PROPERTY_NAMES",
    "WorkerConfig",
    "WorkerConfigError",
    "WorkerProperty",
    "check_thread_count",
    "coerce_property",
    "default_worker_id",
    "get_worker_config_oneline",
    "get_worker_config_summary",
    "resolve_config",
    "resolve_official_config",
]


class WorkerConfigError(ValueError):
    """A worker property (from code or the environment) has a value that cannot work."""


_worker_id_cache: tuple[int, str] | None = None


def default_worker_id() -> str:
    """``<hostname>-<pid>`` of the calling process (the official SDK uses the bare host name,
    which every process on a host shares). Cached per pid; safe from any thread."""
    global _worker_id_cache
    pid = os.getpid()
    cached = _worker_id_cache
    if cached is None or cached[0] != pid:
        cached = (pid, f"{socket.gethostname()}-{pid}")
        _worker_id_cache = cached
    return cached[1]


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


_SOURCE_CODE = "code"
_SOURCE_DEFAULT = "default"
_SOURCE_OVERRIDE = "override"
_GLOBAL_REGISTER_SCHEMAS = "CONDUCTOR_REGISTER_SCHEMAS"
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
_ALIASES = {alias: prop.name for prop in PROPERTIES.values() for alias in prop.spellings}


@dataclass(frozen=True)
class WorkerConfig:
    """The effective configuration of one worker.

    ``sources`` maps each property to where its value came from: ``"code"``, ``"default"``,
    ``"override"`` (``with_overrides``) or the environment variable's name (not part of equality).
    Values are validated on construction (``WorkerConfigError``); times are milliseconds as the
    names say.
    """

    task_definition_name: str
    poll_interval_millis: float = 100.0
    thread_count: int = 1
    domain: str | None = None
    worker_id: str | None = None
    poll_timeout: int = 100
    lease_extend_enabled: bool = False
    register_task_def: bool = False
    overwrite_task_def: bool = True
    strict_schema: bool = False
    register_schema: bool = False
    paused: bool = False
    processes: int = 1
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for name in PROPERTY_NAMES:
            object.__setattr__(self, name, coerce_property(name, getattr(self, name), self.task_definition_name))
        object.__setattr__(self, "sources", dict(self.sources))

    @property
    def poll_interval_seconds(self) -> float:
        """The poll interval in seconds."""
        return self.poll_interval_millis / 1000.0

    @property
    def poll_timeout_seconds(self) -> float:
        """The server long-poll time in seconds."""
        return self.poll_timeout / 1000.0

    def effective_worker_id(self) -> str:
        """``worker_id``, or ``<hostname>-<pid>`` of the calling process."""
        return self.worker_id or default_worker_id()

    def with_overrides(self, **overrides: Any) -> WorkerConfig:
        """A copy with some properties replaced (aliases accepted), marked ``"override"`` in sources.

        Raises ``WorkerConfigError`` for an unknown property or an invalid value.
        """
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            name = _ALIASES.get(key)
            if name is None:
                raise WorkerConfigError(
                    f"{key}={value!r}: unknown worker property (known: {', '.join(PROPERTY_NAMES)})"
                )
            changes[name] = value
        sources = dict(self.sources)
        sources.update(dict.fromkeys(changes, _SOURCE_OVERRIDE))
        return dataclasses.replace(self, **changes, sources=sources)

    def oneline(self, pid: int | None = None) -> str:
        """The startup log line, in the official SDK's format (``pid`` defaults to this process)."""
        return get_worker_config_oneline(self.task_definition_name, self, pid)


#: The official SDK's property names, in the order its ``resolve_worker_config`` returns them.
_OFFICIAL_PROPERTIES = {
    "poll_interval": "poll_interval_millis",
    "domain": "domain",
    "worker_id": "worker_id",
    "thread_count": "thread_count",
    "register_task_def": "register_task_def",
    "poll_timeout": "poll_timeout",
    "lease_extend_enabled": "lease_extend_enabled",
    "paused": "paused",
    "overwrite_task_def": "overwrite_task_def",
    "strict_schema": "strict_schema",
    "register_schema": "register_schema",
}
#: What the official resolver returns for a property that neither code nor environment sets.
_OFFICIAL_FALLBACKS = {"overwrite_task_def": True, "strict_schema": False, "register_schema": False}


_ENV_PARSERS: dict[type, Any] = {bool: _parse_bool, int: _parse_int, float: _parse_float}


def _parse_env_value(value: str | None, expected_type: type) -> Any:
    """The official resolver's helper: ``value`` as ``expected_type`` (bool, int, float; anything
    else stays a string; None stays None). Strict, like every variable read here: a value that does
    not parse raises ``WorkerConfigError`` naming it, where the official helper logs and returns None
    (or False for an unknown boolean)."""
    if value is None:
        return None
    parser = _ENV_PARSERS.get(expected_type)
    if parser is None:
        return value
    try:
        return parser(value)
    except ValueError:
        raise WorkerConfigError(f"{value!r} is not a valid {expected_type.__name__}") from None


def _get_env_value(worker_name: str, property_name: str, expected_type: type = str) -> Any:
    """The official resolver's helper: the value of the highest-precedence environment variable
    that sets ``property_name`` (an official property name) for ``worker_name``, parsed as that
    property is, or None when none is set or the property is unknown. Raises ``WorkerConfigError``
    for a value that does not parse."""
    prop = _OFFICIAL_PROPERTIES.get(property_name, property_name)
    if prop not in PROPERTIES:
        return None
    hit = _lookup(os.environ, worker_name, prop)
    return None if hit is None else hit[1]


def resolve_official_config(task_name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``resolve_worker_config`` in the official SDK's form (see there): the code values of worker
    ``task_name`` by the official names, positionally in their order or by keyword; returns the
    official dict. Raises ``TypeError`` for an unknown or repeated argument."""
    names = list(_OFFICIAL_PROPERTIES)
    if len(args) > len(names):
        raise TypeError(f"resolve_worker_config() takes at most {len(names) + 1} positional arguments")
    code = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in _OFFICIAL_PROPERTIES or key in code:
            raise TypeError(f"resolve_worker_config() got an unexpected or repeated argument {key!r}")
        code[key] = value
    resolved: dict[str, Any] = {}
    for official, prop in _OFFICIAL_PROPERTIES.items():
        hit = _lookup(os.environ, task_name, prop)
        if hit is not None:
            # an empty domain or worker id variable reads as "" there (the runtime treats it as unset)
            resolved[official] = os.environ[hit[0]] if hit[1] is None else hit[1]
        elif code.get(official) is not None:
            resolved[official] = code[official]
        else:
            resolved[official] = _OFFICIAL_FALLBACKS.get(official)
    return resolved


def resolve_config(
    task_name: str, code_value: Callable[[str], Any], is_async: bool, env: Mapping[str, str] | None = None
) -> WorkerConfig:
    """The effective configuration of worker ``task_name``: for each property, the highest-precedence
    variable of ``env`` (default ``os.environ``), else ``code_value(name)``, the value set in code
    (asked only when no variable sets the property). ``is_async`` picks the bound of
    ``thread_count``. Raises ``WorkerConfigError`` naming the variable or keyword and the value."""
    environ: Mapping[str, str] = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for prop in PROPERTIES.values():
        hit = _lookup(environ, task_name, prop.name)
        if hit is not None:
            variable, values[prop.name] = hit
            sources[prop.name] = variable
        else:
            value = coerce_property(prop.name, code_value(prop.name), task_name)
            values[prop.name] = value
            sources[prop.name] = _SOURCE_DEFAULT if value == prop.default else _SOURCE_CODE
    source = sources["thread_count"]
    check_thread_count(
        values["thread_count"], is_async,
        "thread_count" if source in (_SOURCE_CODE, _SOURCE_DEFAULT) else source, task_name,
    )
    return WorkerConfig(task_name, **values, sources=sources)


def _variable_names(task_name: str, prop_name: str) -> list[str]:
    """Every environment variable that can set ``prop_name`` for ``task_name``, highest first."""
    upper_name = task_name.upper()
    safe_name = _NOT_ALNUM.sub("_", task_name).upper()
    spellings = PROPERTIES[prop_name].spellings
    forms = (
        lambda p: f"conductor.worker.{task_name}.{p}",
        lambda p: f"conductor_worker_{task_name}_{p}",
        lambda p: f"CONDUCTOR_WORKER_{upper_name}_{p.upper()}",
        lambda p: f"CONDUCTOR_WORKER_{safe_name}_{p.upper()}",
        lambda p: f"CONDUCTOR_WORKER_{task_name}_{p.upper()}",
        lambda p: f"conductor.worker.all.{p}",
        lambda p: f"CONDUCTOR_WORKER_ALL_{p.upper()}",
    )
    names = [form(spelling) for form in forms for spelling in spellings]
    if prop_name == "register_schema":
        names.append(_GLOBAL_REGISTER_SCHEMAS)
    return list(dict.fromkeys(names))


def _lookup(env: Mapping[str, str], task_name: str, prop_name: str) -> tuple[str, Any] | None:
    """The highest-precedence variable set for ``prop_name`` and its parsed value, or ``None``.

    Every form that is present is parsed, so a bad value in a form that a higher one overrides
    still raises ``WorkerConfigError`` (naming that variable and value) instead of hiding.
    """
    prop = PROPERTIES[prop_name]
    winner: tuple[str, Any] | None = None
    for variable in _variable_names(task_name, prop_name):
        raw = env.get(variable)
        if raw is None:
            continue
        value = prop.coerce(raw, variable)
        if winner is None:
            winner = (variable, value)
    return winner


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


#: ``(official config key, label, unit)`` of the one-line summary, in the official order.
_ONELINE_KEYS = (
    ("poll_interval", "poll_interval", "ms"),
    ("domain", "domain", ""),
    ("thread_count", "thread_count", ""),
    ("poll_timeout", "poll_timeout", "ms"),
    ("lease_extend_enabled", "lease_extend", ""),
    ("register_task_def", "register_task_def", ""),
)


def get_worker_config_oneline(name: str, config: WorkerConfig | Mapping[str, Any], pid: int | None = None) -> str:
    """The one-line startup summary of worker ``name`` (official SDK format); ``config`` is a
    ``WorkerConfig`` or the official resolver's dict."""
    if isinstance(config, WorkerConfig):
        millis = config.poll_interval_millis
        config = {official: getattr(config, prop) for official, prop in _OFFICIAL_PROPERTIES.items()}
        config["poll_interval"] = int(millis) if millis.is_integer() else millis  # "100ms", not "100.0ms"
    parts = [f"name={name}", f"pid={os.getpid() if pid is None else pid}",
             f"status={'paused' if config.get('paused') else 'active'}"]
    for key, label, unit in _ONELINE_KEYS:
        value = config.get(key)
        if value is not None:
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            parts.append(f"{label}={text}{unit}")
    return f"Conductor Worker[{', '.join(parts)}]"


def get_worker_config_summary(name: str, config: WorkerConfig | Mapping[str, Any]) -> str:
    """A multi-line summary: every property with its value and where the value came from
    (``config`` may also be the official resolver's dict, in the official format)."""
    if not isinstance(config, WorkerConfig):
        lines = [f"Worker '{name}' configuration:"]
        for key, value in config.items():
            if value is None:
                continue
            specific, common = f"conductor.worker.{name}.{key}", f"conductor.worker.all.{key}"
            source = specific if specific in os.environ else common if common in os.environ else None
            lines.append(f"  {key}: {value} ({'from ' + source if source else 'from code'})")
        return "\n".join(lines)
    width = max(len(prop) for prop in PROPERTY_NAMES)
    lines = [f"Worker {name!r} configuration:"]
    for prop in PROPERTY_NAMES:
        source = config.sources.get(prop, _SOURCE_CODE)
        lines.append(f"  {prop.ljust(width)} = {_format_value(getattr(config, prop))}  ({source})")
    return "\n".join(lines)
