"""``${...}`` expressions in task inputs and workflow outputs (schemaVersion 2 rules).

* A string that is exactly one ``${path}`` is replaced by the typed value found at ``path``
  (object, list, number, boolean or null).
* ``${path}`` inside a longer string is interpolated the way Java's ``toString`` would print the
  value (a missing value prints ``null``, booleans ``true``/``false``, maps ``{k=v}``).
* A missing path gives ``null``, never an error; ``${}`` gives ``""``; ``$${`` is a literal ``${``.
* ``${...}`` nested inside a path is resolved first; maps and lists are resolved recursively.

Paths are a JsonPath subset: ``workflow.input.x``, ``ref.output.y.z``, ``ref.output.list[0]``,
``ref.output['odd key']``, an optional leading ``$.``. The first name is looked up through a caller
supplied function (``workflow`` or a task reference name). Pure functions, any thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Lookup", "resolve", "to_java_string"]

#: Maps the first name of a path to its document (None when unknown).
Lookup = Callable[[str], Any]


def resolve(value: Any, lookup: Lookup) -> Any:
    """``value`` with every expression in it resolved (a new structure; ``value`` is not changed)."""
    if isinstance(value, str):
        return _resolve_string(value, lookup) if "$" in value else value
    if isinstance(value, dict):
        return {key: resolve(item, lookup) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, lookup) for item in value]
    return value


def to_java_string(value: Any) -> str:
    """How the Java server prints ``value`` when it is interpolated into a string."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={to_java_string(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(to_java_string(item) for item in value) + "]"
    return repr(value) if isinstance(value, float) else str(value)


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``${`` whose body starts at ``start``; -1 if unbalanced."""
    depth = 1
    for index in range(start, len(text)):
        char = text[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
    return -1


def _resolve_string(text: str, lookup: Lookup) -> Any:
    pieces: list[str] = []
    index = 0
    length = len(text)
    literal_start = 0
    while index < length:
        if text.startswith("$${", index):
            pieces.append(text[literal_start:index])
            pieces.append("${")
            index += 3
            literal_start = index
            continue
        if text.startswith("${", index):
            end = _closing_brace(text, index + 2)
            if end < 0:
                break
            path = text[index + 2:end]
            if "$" in path:
                path = to_java_string(_resolve_string(path, lookup))
            value = _evaluate(path, lookup)
            if index == 0 and end == length - 1:
                return value
            pieces.append(text[literal_start:index])
            pieces.append(to_java_string(value))
            index = end + 1
            literal_start = index
            continue
        index += 1
    pieces.append(text[literal_start:])
    return "".join(pieces)


def _evaluate(path: str, lookup: Lookup) -> Any:
    path = path.strip()
    if not path:
        return ""
    if path.startswith("$."):
        path = path[2:]
    tokens = _tokens(path)
    if not tokens or not isinstance(tokens[0], str):
        return None
    current = lookup(tokens[0])
    for token in tokens[1:]:
        if isinstance(current, dict):
            current = current.get(token if isinstance(token, str) else str(token))
        elif isinstance(current, list) and isinstance(token, int):
            current = current[token] if -len(current) <= token < len(current) else None
        else:
            return None
        if current is None:
            return None
    return current


def _tokens(path: str) -> list[str | int] | None:
    """Split a path into names and list indexes; None when it is not a path we understand."""
    tokens: list[str | int] = []
    index = 0
    length = len(path)
    while index < length:
        char = path[index]
        if char == ".":
            index += 1
        elif char == "[":
            close = path.find("]", index)
            if close < 0:
                return None
            inner = path[index + 1:close].strip()
            if len(inner) >= 2 and inner[0] in "'\"" and inner[-1] == inner[0]:
                tokens.append(inner[1:-1])
            else:
                try:
                    tokens.append(int(inner))
                except ValueError:
                    return None
            index = close + 1
        else:
            stop = index
            while stop < length and path[stop] not in ".[":
                stop += 1
            tokens.append(path[index:stop].strip())
            index = stop
    return tokens
