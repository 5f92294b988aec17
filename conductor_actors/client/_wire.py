"""The pieces every Conductor call is made of, without I/O.

- ``HttpRequest``: one request, relative to the API root (method, percent-encoded path, query,
  body, the headers that matter); ``Call``: a request plus the parser of its answer.
- Argument checks and encoders: a bad argument raises ``ValueError`` (``ConfigurationError`` for a
  client setting) naming it, before anything is sent.
- Answer readers and parsers ``(request, status, body) -> result``: a non-2xx raises
  ``http_error_for`` (``AuthorizationError``, ``NotFoundError``, ``ConductorHTTPError`` with the
  server's message); a 2xx whose body is not JSON, is truncated or has the wrong shape raises
  ``InvalidResponseError``. Never a bare ``KeyError``/``JSONDecodeError``/``TypeError``.
- ``transport_error``, ``lean_transport_error`` and ``log_answer`` for the clients' own I/O.

Pure functions and frozen data; safe to use from any thread or event loop.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode

from .._logging import TRACE
from ._config import ConfigurationError
from ._errors import (
    ConductorTimeoutError,
    ConductorTransportError,
    InvalidResponseError,
    ResponseTooLargeError,
    http_error_for,
)
from ._http11 import BodyTooLarge, ConnectTimeout
from ._models import Task, TaskDef, TaskExecLog, TaskResult

__all__ = [
    "JSON_CONTENT_TYPE",
    "TEXT_CONTENT_TYPE",
    "Call",
    "HttpRequest",
    "Parser",
    "RequestObserver",
    "check_pool_size",
    "ensure_success",
    "json_body",
    "json_request",
    "lean_transport_error",
    "log_answer",
    "optional_text",
    "parse_count",
    "parse_logs",
    "parse_nothing",
    "parse_optional_task",
    "parse_task",
    "parse_task_def",
    "parse_task_defs",
    "parse_task_id",
    "parse_tasks",
    "parse_workflow",
    "parse_workflow_id",
    "path_segment",
    "query_params",
    "result_body",
    "too_large_error",
    "transport_error",
    "whole_number",
]

logger = logging.getLogger("conductor_actors.client")

T = TypeVar("T")

JSON_CONTENT_TYPE = "application/json"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request, relative to the API root (``Configuration.server_api_url``).

    ``path`` is already percent-encoded; ``template`` names it for metrics.
    ``long_poll_seconds`` is how long the server may hold the
    request on purpose; clients add it to their read timeout. ``authenticated`` is false only for the
    token request itself. The body is left out of ``repr`` (the token request carries the secret).
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: bytes | None = field(default=None, repr=False)
    content_type: str | None = None
    accept: str = JSON_CONTENT_TYPE
    long_poll_seconds: float = 0.0
    authenticated: bool = True
    template: str = ""  # the path with its parameters as placeholders, e.g. /tasks/{taskId}

    @property
    def uri_template(self) -> str:
        """The path template (a bounded metric label): ``template``, or ``path`` when it has no parameter."""
        return self.template or self.path

    @property
    def target(self) -> str:
        """Path plus encoded query string, to append to the API root."""
        if not self.query:
            return self.path
        return f"{self.path}?{urlencode(self.query, quote_via=quote)}"

    def headers(self, token: str | None) -> dict[str, str]:
        """The per-request headers: ``Accept``, ``Content-Type`` with a body, ``X-Authorization``."""
        headers = {"Accept": self.accept}
        if self.content_type is not None:
            headers["Content-Type"] = self.content_type
        if token is not None and self.authenticated:
            headers["X-Authorization"] = token
        return headers


#: Observes one exchange: (method, path template, HTTP status or 0 for no answer, seconds).
RequestObserver = Callable[[str, str, int, float], None]

#: A parser: the request (for error messages), the status and the raw body -> the result.
Parser = Callable[[HttpRequest, int, bytes], T]


@dataclass(frozen=True)
class Call(Generic[T]):
    """A request and the parser of its answer."""

    request: HttpRequest
    parse: Parser[T] = field(repr=False)

    def result(self, status: int, body: bytes) -> T:
        """The call's result from the answer; raises from the client error tree (see module doc)."""
        return self.parse(self.request, status, body)


def transport_error(request: HttpRequest, detail: str, *, timed_out: bool) -> ConductorTransportError:
    """The error for a request that got no HTTP answer; names the method and path, never headers."""
    cls = ConductorTimeoutError if timed_out else ConductorTransportError
    return cls(f"{request.method} {request.path}: {detail}")


def lean_transport_error(
    request: HttpRequest, exc: BaseException, connect_timeout: float, read_timeout: float
) -> ConductorTransportError:
    """The error for a lean transport's failure (``ConnectTimeout``, ``TimeoutError``, ``OSError``,
    ``ProtocolError``): a timeout names the timeout that ran out."""
    if isinstance(exc, ConnectTimeout):
        return transport_error(request, f"could not connect within {connect_timeout} s", timed_out=True)
    if isinstance(exc, TimeoutError):
        return transport_error(request, f"no complete answer within {read_timeout} s", timed_out=True)
    if isinstance(exc, BodyTooLarge):
        return too_large_error(request, exc)
    return transport_error(request, f"connection failed ({type(exc).__name__}: {exc})", timed_out=False)


def too_large_error(request: HttpRequest, exc: BodyTooLarge) -> ResponseTooLargeError:
    """The error for an answer whose body passed ``max_response_bytes``: names the limit and the size."""
    return ResponseTooLargeError(
        f"{request.method} {request.path}: {exc} (max_response_bytes={exc.limit})", limit=exc.limit, size=exc.size
    )


def log_answer(request: HttpRequest, status: int, body: bytes, seconds: float) -> None:
    """DEBUG line for one exchange (method, path, status, size, time; never headers or bodies);
    a poll's line is at TRACE, below DEBUG, since idle workers poll all the time."""
    level = TRACE if request.path.startswith("/tasks/poll") else logging.DEBUG
    if logger.isEnabledFor(level):
        logger.log(
            level, "%s %s -> %d (%d bytes, %.1f ms)", request.method, request.path, status, len(body), seconds * 1000.0
        )


# ----------------------------------------------------------------------------------------------
# Argument checks and encoding


def path_segment(name: str, value: str) -> str:
    """A path parameter, percent-encoded with no safe characters (``/`` becomes ``%2F``)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return quote(value, safe="")


def optional_text(name: str, value: str | None) -> str | None:
    """``None`` and ``""`` mean "not given"; anything else must be a string."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string or None, got {value!r}")
    return value


def whole_number(name: str, value: int, minimum: int) -> int:
    """An integer argument of at least ``minimum`` (``bool`` is not an integer here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_pool_size(pool_size: int) -> int:
    """A client's connection pool size; anything but an integer >= 1 raises ``ConfigurationError``."""
    if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
        raise ConfigurationError(f"pool_size={pool_size!r}: must be an integer >= 1")
    return pool_size


def query_params(*pairs: tuple[str, Any]) -> tuple[tuple[str, str], ...]:
    """Query parameters, leaving out those whose value is ``None``; booleans as ``true``/``false``."""
    out = []
    for key, value in pairs:
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        out.append((key, str(value)))
    return tuple(out)


def json_body(what: str, value: Any) -> bytes:
    """Compact UTF-8 JSON; a value JSON cannot express (an object, NaN) raises ``ValueError``."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{what} cannot be encoded as JSON: {exc}") from None


def json_request(
    method: str,
    path: str,
    what: str,
    value: Any,
    *,
    query: tuple[tuple[str, str], ...] = (),
    accept: str = JSON_CONTENT_TYPE,
) -> HttpRequest:
    """A request whose body is ``value`` as JSON (``what`` names it in an encoding error)."""
    return HttpRequest(
        method, path, query, json_body(what, value), content_type=JSON_CONTENT_TYPE, accept=accept
    )


def result_body(result: TaskResult) -> bytes:
    """The TaskResult body. Missing ids or status raise ``ValueError`` (the server answers 400/500)."""
    if not isinstance(result, TaskResult):
        raise ValueError(f"expected a TaskResult, got {type(result).__name__}")
    missing = [
        name
        for name in ("task_id", "workflow_instance_id", "status")
        if getattr(result, name) in (None, "")
    ]
    if missing:
        raise ValueError(f"TaskResult for task {result.task_id!r} has no {', '.join(missing)}")
    return json_body(f"TaskResult for task {result.task_id!r}", result.to_wire())


# ----------------------------------------------------------------------------------------------
# Answer readers (shared by the parsers)


def ensure_success(request: HttpRequest, status: int, body: bytes) -> None:
    """Raise the ``http_error_for`` a non-2xx answer; return quietly on 2xx."""
    if not 200 <= status < 300:
        raise http_error_for(status, body, method=request.method, path=request.path)


def _invalid(request: HttpRequest, message: str, body: bytes) -> InvalidResponseError:
    return InvalidResponseError(
        message, body=body.decode("utf-8", "replace"), method=request.method, path=request.path
    )


def _is_empty(status: int, body: bytes) -> bool:
    return status == 204 or not body.strip()


def _decode_json(request: HttpRequest, body: bytes) -> Any:
    """The body's JSON value; anything else raises ``InvalidResponseError`` saying what it was."""
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        if body.lstrip()[:1] == b"<":
            reason = "expected JSON, got an HTML/XML page"
        elif exc.pos >= len(exc.doc.rstrip()) or exc.msg.startswith("Unterminated string"):
            reason = f"the JSON body ends early (truncated after {len(body)} bytes)"
        else:
            reason = f"the body is not valid JSON ({exc.msg} at char {exc.pos})"
        raise _invalid(request, reason, body) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _invalid(request, f"the body is not readable JSON ({type(exc).__name__})", body) from None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _json_object(request: HttpRequest, body: bytes, what: str) -> dict[str, Any]:
    value = _decode_json(request, body)
    if not isinstance(value, dict):
        raise _invalid(request, f"expected {what} (a JSON object), got {_kind(value)}", body)
    return value


def _json_objects(request: HttpRequest, status: int, body: bytes, what: str) -> list[dict[str, Any]]:
    """The objects of a JSON list (204 or an empty body = none); non-object items are logged and skipped."""
    if _is_empty(status, body):
        return []
    value = _decode_json(request, body)
    if not isinstance(value, list):
        raise _invalid(request, f"expected a list of {what} objects, got {_kind(value)}", body)
    items = []
    for index, item in enumerate(value):
        if isinstance(item, dict):
            items.append(item)
        else:
            logger.warning(
                "%s %s: skipping item %d of the answer: expected a %s object, got %s",
                request.method, request.path, index, what, _kind(item),
            )
    return items


def _bare_id(request: HttpRequest, status: int, body: bytes, what: str) -> str:
    """A text/plain answer holding one id (taskId, workflowId)."""
    ensure_success(request, status, body)
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise _invalid(request, f"expected the {what} as UTF-8 text", body) from None
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    if not text or any(ch.isspace() for ch in text) or text[0] in "{[<":
        raise _invalid(request, f"expected the {what} as bare text", body)
    return text


# ----------------------------------------------------------------------------------------------
# Parsers


def parse_nothing(request: HttpRequest, status: int, body: bytes) -> None:
    ensure_success(request, status, body)


def parse_task(request: HttpRequest, status: int, body: bytes) -> Task:
    ensure_success(request, status, body)
    if _is_empty(status, body):
        raise _invalid(request, "expected a task, got an empty answer", body)
    return Task.from_dict(_json_object(request, body, "a task"))


def parse_optional_task(request: HttpRequest, status: int, body: bytes) -> Task | None:
    ensure_success(request, status, body)
    if _is_empty(status, body):
        return None
    value = _decode_json(request, body)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid(request, f"expected a task (a JSON object), got {_kind(value)}", body)
    return Task.from_dict(value)


def parse_tasks(request: HttpRequest, status: int, body: bytes) -> list[Task]:
    ensure_success(request, status, body)
    return [Task.from_dict(item) for item in _json_objects(request, status, body, "task")]


def parse_logs(request: HttpRequest, status: int, body: bytes) -> list[TaskExecLog]:
    ensure_success(request, status, body)
    return [TaskExecLog.from_dict(item) for item in _json_objects(request, status, body, "log entry")]


def parse_task_def(request: HttpRequest, status: int, body: bytes) -> TaskDef:
    ensure_success(request, status, body)
    return TaskDef.from_dict(_json_object(request, body, "a task definition"))


def parse_task_defs(request: HttpRequest, status: int, body: bytes) -> list[TaskDef]:
    ensure_success(request, status, body)
    return [TaskDef.from_dict(item) for item in _json_objects(request, status, body, "task definition")]


def parse_workflow(request: HttpRequest, status: int, body: bytes) -> dict[str, Any]:
    ensure_success(request, status, body)
    return _json_object(request, body, "a workflow")


def parse_task_id(request: HttpRequest, status: int, body: bytes) -> str:
    return _bare_id(request, status, body, "task id")


def parse_workflow_id(request: HttpRequest, status: int, body: bytes) -> str:
    return _bare_id(request, status, body, "workflow id")


def parse_count(request: HttpRequest, status: int, body: bytes) -> int:
    ensure_success(request, status, body)
    value = _decode_json(request, body)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _invalid(request, f"expected a queue size (a non-negative integer), got {_kind(value)}", body)
    return value
