"""Search over the dev server's workflows and tasks: the ``query`` and ``freeText`` forms clients send.

The real server hands both to its indexing backend (Elasticsearch, OpenSearch or SQL). The
official clients send ``query`` as clauses joined by ``AND``, each ``field <op> value`` with
``=``, ``!=``, ``>``, ``>=``, ``<``, ``<=`` or ``IN (a,b,...)``; values may be quoted. ``freeText``
is ``*`` (everything) or words that must each appear somewhere in the document. This module parses
that subset and answers ``ApiError`` 400 naming the clause it does not understand (a real server
answers such a query with a backend error). Time fields compare as epoch milliseconds.

Pure functions, called on the loop thread.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from ._errors import ApiError

__all__ = ["Predicate", "iso_time", "parse_query", "search_page", "text_matches"]

#: A compiled query: document -> whether it matches.
Predicate = Callable[[dict[str, Any]], bool]

_CLAUSE = re.compile(
    r"""^\s*(?P<field>[A-Za-z_][A-Za-z0-9_.]*)\s*
        (?:(?P<op>!=|>=|<=|=|>|<)\s*(?P<value>.+?)
          |(?P<in>(?:NOT\s+)?IN)\s*\((?P<items>[^)]*)\))\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)


def iso_time(millis: int) -> str | None:
    """Epoch milliseconds as the server's summary time text (``2024-01-02T03:04:05.678Z``); None for 0."""
    if not millis:
        return None
    moment = datetime.fromtimestamp(millis / 1000.0, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _compare(actual: Any, op: str, wanted: str) -> bool:
    if actual is None:
        return op == "!="
    if isinstance(actual, (int, float)) and not isinstance(actual, bool):
        try:
            number = float(wanted)
        except ValueError:
            return op == "!="
        left: Any = float(actual)
        right: Any = number
    else:
        left, right = str(actual), wanted
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    return bool(left <= right)


def _clause(text: str, fields: Iterable[str]) -> Predicate:
    match = _CLAUSE.match(text)
    allowed = set(fields)
    if match is None:
        raise ApiError(400, f"Invalid search query clause {text.strip()!r}: expected 'field = value', "
                            "'field > value' or 'field IN (a,b)'")
    field = match.group("field")
    if field not in allowed:
        raise ApiError(400, f"Invalid search query: unknown field {field!r}; the dev server searches "
                            f"{', '.join(sorted(allowed))}")
    if match.group("in") is not None:
        items = {_unquote(item) for item in match.group("items").split(",") if item.strip()}
        negate = match.group("in").upper().startswith("NOT")
        return lambda doc: (str(doc.get(field)) in items) != negate
    op, wanted = match.group("op"), _unquote(match.group("value"))
    return lambda doc: _compare(doc.get(field), op, wanted)


def parse_query(query: str | None, fields: Iterable[str]) -> Predicate:
    """Compile ``query`` (clauses joined by AND) over documents with ``fields``. Raises ``ApiError`` 400."""
    if query is None or not query.strip():
        return lambda doc: True
    wanted = tuple(fields)
    clauses = [_clause(part, wanted) for part in _AND.split(query.strip())]
    return lambda doc: all(clause(doc) for clause in clauses)


def text_matches(free_text: str | None, document: dict[str, Any]) -> bool:
    """Whether every word of ``free_text`` occurs in ``document`` (``*`` or blank: always)."""
    if free_text is None:
        return True
    words = [word for word in free_text.split() if word != "*"]
    if not words:
        return True
    haystack = json.dumps(document, default=str).lower()
    return all(_unquote(word).lower() in haystack for word in words)


def _sort_key(value: Any) -> tuple[int, float, str]:
    """Numbers before text, missing values last (ascending)."""
    if value is None:
        return (2, 0.0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def search_page(items: list[dict[str, Any]], start: int, size: int, sort: str | None) -> dict[str, Any]:
    """The server's ``SearchResult`` for one page of ``items``; ``sort`` is ``field[:ASC|DESC]``."""
    if start < 0 or size < 0:
        raise ApiError(400, f"start and size must not be negative, got start={start}, size={size}")
    if sort:
        field, _, direction = sort.partition(":")
        descending = direction.strip().upper() == "DESC"
        items = sorted(items, key=lambda doc: _sort_key(doc.get(field)), reverse=descending)
    return {"totalHits": len(items), "results": items[start:start + size]}
