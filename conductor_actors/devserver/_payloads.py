"""Reading request bodies and query parameters, and building answers (shared by the handlers).

Every helper raises ``ApiError`` 400 with a message that names the parameter or the problem.
Pure functions, called on the loop thread.
"""

from __future__ import annotations

import json
from typing import Any

from ._errors import ApiError, encode_json
from ._http import JSON_TYPE, TEXT_TYPE, Request, Response

__all__ = [
    "EMPTY_OK",
    "NO_CONTENT",
    "json_body",
    "json_response",
    "query_bool",
    "query_int",
    "query_str",
    "text_response",
]

#: 200 with an empty body (the server's ``void`` endpoints).
EMPTY_OK = Response(200, b"", None)
#: 204 with no body.
NO_CONTENT = Response(204, b"", None)

_MISSING = object()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_body(request: Request, *, allow_empty: bool = False) -> Any:
    """The request body parsed as JSON. Empty body: None when ``allow_empty``, else 400."""
    body = request.body
    if not body.strip():
        if allow_empty:
            return None
        raise ApiError(400, "Required request body is missing")
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ApiError(400, "Request body is not valid UTF-8") from None
    except ValueError as exc:
        raise ApiError(400, f"Malformed JSON request body: {exc}") from None


def json_response(value: Any, status: int = 200) -> Response:
    """``value`` as a compact JSON answer."""
    return Response(status, encode_json(value), JSON_TYPE)


def text_response(text: str) -> Response:
    """A ``text/plain`` answer (the server's ``produces=text/plain`` endpoints)."""
    return Response(200, text.encode("utf-8"), TEXT_TYPE)


def query_str(query: dict[str, list[str]], name: str, default: Any = None, *, required: bool = False) -> Any:
    """The first value of query parameter ``name``; ``default`` when absent (400 if ``required``)."""
    values = query.get(name)
    if not values:
        if required:
            raise ApiError(400, f"Required request parameter '{name}' is missing")
        return default
    return values[0]


def query_int(query: dict[str, list[str]], name: str, default: Any) -> Any:
    """Query parameter ``name`` as an int; ``default`` when absent or blank; 400 if not an integer."""
    raw = query_str(query, name, _MISSING)
    if raw is _MISSING or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"Query parameter '{name}' must be an integer, got {raw!r}") from None


def query_bool(query: dict[str, list[str]], name: str, default: bool) -> bool:
    """Query parameter ``name`` as ``true``/``false``; 400 for anything else."""
    raw = query_str(query, name, _MISSING)
    if raw is _MISSING or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ApiError(400, f"Query parameter '{name}' must be true or false, got {raw!r}")
