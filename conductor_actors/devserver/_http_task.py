"""The HTTP system task: read the server's input names, perform the request, shape the output.

Input (the server's names): ``http_request`` holding ``uri``, ``method`` (GET), ``headers``,
``body``, ``accept`` and ``contentType`` (both ``application/json``), ``connectionTimeOut`` and
``readTimeOut`` (milliseconds); the same keys directly in the task input are read too (newer
servers accept both). The output is ``{"response": {"headers", "reasonPhrase", "body",
"statusCode"}}``; a JSON answer's body is parsed, anything else is kept as text.

:func:`perform_http_call` blocks: the decider runs it on the loop's default executor and applies
the answer back on the loop thread. It raises ``OSError`` (refused, reset, timed out) for the task
to fail with that reason.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["HttpCall", "http_call_from_input", "perform_http_call"]

#: Default connect and read timeouts (ms), the server's.
DEFAULT_CONNECT_TIMEOUT_MS = 3000
DEFAULT_READ_TIMEOUT_MS = 3000
#: Answers larger than this are cut (the dev server keeps everything in memory).
MAX_BODY_BYTES = 10 * 1024 * 1024

_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH"})


@dataclass(frozen=True)
class HttpCall:
    """One request to perform."""

    uri: str
    method: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    connect_timeout: float
    read_timeout: float


def _millis(value: Any, name: str, default: int) -> float:
    if value is None:
        return default / 1000.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"HTTP task input {name} must be a number of milliseconds > 0, got {value!r}")
    return float(value) / 1000.0


def http_call_from_input(data: dict[str, Any]) -> HttpCall:
    """The request described by an HTTP task's input. Raises ``ValueError`` naming a bad field."""
    spec = data.get("http_request")
    if spec is None:
        spec = data
    if not isinstance(spec, dict):
        raise ValueError(f"HTTP task input http_request must be a JSON object, got {spec!r}")
    uri = spec.get("uri")
    if not isinstance(uri, str) or urlsplit(uri).scheme not in ("http", "https") or not urlsplit(uri).hostname:
        raise ValueError(f"HTTP task input uri must be an http:// or https:// URL, got {uri!r}")
    method = str(spec.get("method") or "GET").upper()
    if method not in _METHODS:
        raise ValueError(f"HTTP task input method {method!r} is not one of {', '.join(sorted(_METHODS))}")
    headers: dict[str, str] = {}
    given = spec.get("headers") or {}
    if not isinstance(given, dict):
        raise ValueError(f"HTTP task input headers must be a JSON object, got {given!r}")
    for name, value in given.items():
        headers[str(name)] = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    headers.setdefault("Accept", str(spec.get("accept") or "application/json"))
    body: bytes | None = None
    if spec.get("body") is not None:
        content_type = str(spec.get("contentType") or "application/json")
        headers.setdefault("Content-Type", content_type)
        raw = spec["body"]
        body = (raw if isinstance(raw, str) and "json" not in content_type else json.dumps(raw)).encode("utf-8")
    return HttpCall(uri, method, tuple(headers.items()), body,
                    _millis(spec.get("connectionTimeOut"), "connectionTimeOut", DEFAULT_CONNECT_TIMEOUT_MS),
                    _millis(spec.get("readTimeOut"), "readTimeOut", DEFAULT_READ_TIMEOUT_MS))


def perform_http_call(call: HttpCall) -> dict[str, Any]:
    """Send ``call`` and return the task's ``response`` object. Runs on an executor thread."""
    parts = urlsplit(call.uri)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname or "", parts.port, timeout=call.connect_timeout)
    try:
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(call.read_timeout)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        connection.request(call.method, target, body=call.body, headers=dict(call.headers))
        answer = connection.getresponse()
        raw = answer.read(MAX_BODY_BYTES + 1)[:MAX_BODY_BYTES]
        headers: dict[str, list[str]] = {}
        for name, value in answer.getheaders():
            headers.setdefault(name, []).append(value)
        return {"headers": headers, "reasonPhrase": f"{answer.status} {answer.reason}".strip(),
                "body": _decode(raw, answer.getheader("Content-Type") or ""), "statusCode": answer.status}
    finally:
        connection.close()


def _decode(raw: bytes, content_type: str) -> Any:
    text = raw.decode("utf-8", errors="replace")
    if not text:
        return None
    if "json" in content_type.lower():
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text
