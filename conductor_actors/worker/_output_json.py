"""Making a task's output JSON the way the official SDK serialises it, and naming what cannot be.

``json_output`` is called for every result. The common case (plain JSON values) is encoded once and
returned as is; only when that fails is the output walked and converted, with the official SDK's
rules (its API client's serialiser), at the top or nested anywhere in dicts, lists and dataclasses:

- a dataclass becomes a dict of its fields; a tuple becomes a list;
- ``datetime``/``date``/``time``: ISO 8601 text (``isoformat()``); ``timedelta``: ``str()``
  (``'0:00:05'``);
- ``UUID`` and ``Decimal``: ``str()`` (``'1.50'``, no precision lost to a float);
- ``bytes``: UTF-8 text, or base64 when they are not UTF-8;
- ``set``/``frozenset``: ``str()`` of it (``'{1, 2}'``), as the official SDK sends it;
- an ``Enum`` member: its value (``str``/``int`` enums are JSON already).

A value that is still not JSON (an arbitrary object, NaN/infinity, a circular reference) raises
``OutputNotJson`` whose message names the offending type and its key path, e.g.
``'order.lines[2].when'``. Pure functions; any thread.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math
from typing import Any

__all__ = ["OutputNotJson", "json_output", "plain_value"]

#: Strict JSON (no NaN/Infinity), compact, UTF-8 text: what the output costs on the wire.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_SCALARS = (str, int, float, bool)


class OutputNotJson(ValueError):
    """The output cannot be sent as JSON; the message says what and where."""


def _serialised_size(output: Any) -> int:
    """Bytes of the UTF-8 JSON text of ``output``; raises ``TypeError``/``ValueError`` if not JSON."""
    return len(_ENCODER.encode(output).encode("utf-8"))


def _where(path: str) -> str:
    return f"'{path}'" if path else "the top level"


def _key_path(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _is_dataclass_instance(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def plain_value(value: Any, path: str = "") -> Any:
    """``value`` with every dataclass instance in it turned into a dict and every value the
    official SDK converts (dates, UUIDs, decimals, enums, sets, bytes) converted, recursively.

    Dicts, lists and tuples are rebuilt (tuples as lists); any other value is returned as is, so
    a later JSON check names it. ``path`` is the key path of ``value`` for messages. Raises
    ``OutputNotJson`` for a circular reference.
    """
    return _plain(value, path, set())


def _scalar(value: Any) -> Any:
    """The official SDK's text form of a non-JSON scalar, or ``value`` itself when it has none."""
    # Imported here, off the common path: a worker whose outputs are plain JSON never needs them,
    # and uuid (with platform) and decimal add to every worker process's memory.
    import base64
    import decimal
    import uuid

    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (datetime.timedelta, uuid.UUID, decimal.Decimal, set, frozenset)):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(value).decode("ascii")
    return value


def _plain(value: Any, path: str, active: set[int]) -> Any:
    if value is None or isinstance(value, _SCALARS):
        return value
    if isinstance(value, enum.Enum):
        return _plain(value.value, path, active)
    is_dataclass = _is_dataclass_instance(value)
    if not is_dataclass and not isinstance(value, (dict, list, tuple)):
        return _scalar(value)
    if id(value) in active:
        raise OutputNotJson(f"output is not JSON-serialisable: value at {_where(path)} is a circular reference")
    active.add(id(value))
    try:
        if is_dataclass:
            return {
                f.name: _plain(getattr(value, f.name), _key_path(path, f.name), active)
                for f in dataclasses.fields(value)
            }
        if isinstance(value, dict):
            return {key: _plain(item, _key_path(path, key), active) for key, item in value.items()}
        return [_plain(item, f"{path}[{index}]", active) for index, item in enumerate(value)]
    finally:
        active.discard(id(value))


def _locate_non_json(value: Any, path: str, seen: set[int]) -> str | None:
    """Describe the first value in ``value`` that JSON cannot carry, with its key path."""
    where = _where(path)
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"value at {where} is {value!r}, which JSON cannot carry"
    if isinstance(value, (dict, list, tuple)):
        if id(value) in seen:
            return f"value at {where} is a circular reference"
        seen.add(id(value))
        if isinstance(value, dict):
            for key, item in value.items():
                if key is not None and not isinstance(key, _SCALARS):
                    return f"a key at {where} has type {type(key).__qualname__}"
                found = _locate_non_json(item, _key_path(path, key), seen)
                if found:
                    return found
        else:
            for index, item in enumerate(value):
                found = _locate_non_json(item, f"{path}[{index}]", seen)
                if found:
                    return found
        seen.discard(id(value))
        return None
    return f"value at {where} has type {type(value).__qualname__}"


def json_output(output: Any) -> tuple[Any, int]:
    """``(output ready to send, its size in UTF-8 JSON bytes)``.

    Returns ``output`` itself when it is JSON already; otherwise its ``plain_value``. Raises
    ``OutputNotJson`` naming the offending value's type and key path when it cannot be sent.
    """
    try:
        return output, _serialised_size(output)
    except (TypeError, ValueError):
        pass  # maybe dataclasses inside: convert, then check again
    converted = plain_value(output)
    try:
        return converted, _serialised_size(converted)
    except (TypeError, ValueError) as exc:
        detail = _locate_non_json(converted, "", set()) or str(exc)
        raise OutputNotJson(f"output is not JSON-serialisable: {detail}") from None
