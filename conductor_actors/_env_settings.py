"""Read the runtime's own settings from ``CONDUCTOR_ACTORS_<FIELD>`` environment variables.

``RuntimeSettings`` and ``SupervisionSettings`` are frozen dataclasses; every field can be set from
the environment by its upper-cased name (``CONDUCTOR_ACTORS_SHUTDOWN_GRACE=10``,
``CONDUCTOR_ACTORS_UPDATE_RETRY_DELAYS=1,2,5``). Explicit arguments in code win over the
environment, which wins over the defaults. A value that does not parse raises ``ValueError`` naming
the variable and the value.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["ENV_PREFIX", "env_names", "settings_from_env"]

ENV_PREFIX = "CONDUCTOR_ACTORS_"
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}

S = TypeVar("S")


def env_names(cls: type, prefix: str = ENV_PREFIX) -> dict[str, str]:
    """Field name -> environment variable, for every field of the settings class ``cls``."""
    return {f.name: prefix + f.name.upper() for f in dataclasses.fields(cls)}


def settings_from_env(
    cls: type[S], env: Mapping[str, str] | None = None, *, prefix: str = ENV_PREFIX, **overrides: Any
) -> S:
    """``cls(**values)`` with values from the environment, then ``overrides`` on top.

    Raises ``ValueError`` naming the variable for a value that does not parse, and whatever the
    settings class raises for one that parses but is out of range (its message names the field).
    """
    env = os.environ if env is None else env
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, variable in env_names(cls, prefix).items():
        raw = env.get(variable)
        if raw is None or raw.strip() == "":
            continue
        try:
            values[name] = _parse(hints[name], raw.strip())
        except ValueError as exc:
            raise ValueError(f"{variable}={raw!r}: {exc}") from None
    values.update(overrides)
    try:
        return cls(**values)
    except ValueError as exc:
        named = [v for n, v in env_names(cls, prefix).items() if n in values and n not in overrides and n in str(exc)]
        raise ValueError(f"{named[0]}: {exc}" if named else str(exc)) from None


def _parse(kind: Any, raw: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):  # Optional[X]: a set variable gives an X
        kinds = [k for k in typing.get_args(kind) if k is not type(None)]
        if len(kinds) == 1:
            return _parse(kinds[0], raw)
    if kind is bool:
        lowered = raw.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("expected true/false (or 1/0, yes/no, on/off)")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ValueError("expected an integer") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ValueError("expected a number of seconds") from None
    if origin is tuple:
        try:
            return tuple(float(part) for part in raw.split(",") if part.strip())
        except ValueError:
            raise ValueError("expected comma-separated numbers of seconds, e.g. 10,20,30") from None
    if kind is str:
        return raw
    raise ValueError(f"cannot read a {kind!r} from the environment")
