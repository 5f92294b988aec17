"""The Conductor calls, without I/O: one builder per call.

Each builder checks its arguments (``ValueError`` naming a bad one, before anything is sent) and
returns a ``Call``: the frozen ``HttpRequest`` to send (method, percent-encoded path relative to
the API root, query, body, the headers that matter) and the parser from ``_answers`` that turns
the answer's ``(status, body bytes)`` into the result or raises from the client error tree. The
clients (``_clients``) only move bytes: they send ``call.request`` and hand the answer to
``call.result``. ``transport_error``, ``lean_transport_error`` and ``too_large_error`` name a call
that got no answer, for the transports.

Pure functions and frozen data; safe to use from any thread or event loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode

from ._answers import (
    TaskBatch,
    ensure_success,
    parse_count,
    parse_logs,
    parse_nothing,
    parse_optional_task,
    parse_task,
    parse_task_def,
    parse_task_defs,
    parse_task_id,
    parse_tasks,
    parse_workflow,
    parse_workflow_id,
)
from ._config import AuthenticationSettings, ConfigurationError
from ._errors import (
    ConductorTimeoutError,
    ConductorTransportError,
    InvalidResponseError,
    ResponseTooLargeError,
)
from ._http11 import BodyTooLarge, ConnectTimeout, ProtocolError
from ._models import Task, TaskDef, TaskExecLog, TaskResult

__all__ = [
    "JSON_CONTENT_TYPE",
    "TEXT_CONTENT_TYPE",
    "Call",
    "HttpRequest",
    "Parser",
    "add_task_log",
    "batch_poll",
    "get_queue_size",
    "get_task",
    "get_task_def",
    "get_task_defs",
    "get_task_logs",
    "get_token",
    "get_workflow",
    "json_body",
    "json_request",
    "lean_transport_error",
    "optional_text",
    "path_segment",
    "poll",
    "query_params",
    "register_task_defs",
    "register_workflow_def",
    "result_body",
    "save_schema",
    "start_workflow",
    "too_large_error",
    "transport_error",
    "update_task",
    "update_task_def",
    "update_task_v2",
    "whole_number",
]

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
        return connect_timeout_error(request, connect_timeout)
    if isinstance(exc, TimeoutError):
        return read_timeout_error(request, read_timeout)
    if isinstance(exc, BodyTooLarge):
        return too_large_error(request, exc)
    return transport_error(request, f"connection failed ({type(exc).__name__}: {exc})", timed_out=False)


def connect_timeout_error(
    request: HttpRequest, seconds: float | None, detail: str | None = None
) -> ConductorTransportError:
    """No connection within ``seconds`` (``detail``: what the transport said, if anything)."""
    return transport_error(request, f"could not connect within {seconds} s" + _detail(detail), timed_out=True)


def read_timeout_error(
    request: HttpRequest, seconds: float | None, detail: str | None = None
) -> ConductorTransportError:
    """No complete answer within ``seconds`` (``detail``: what the transport said, if anything)."""
    return transport_error(request, f"no complete answer within {seconds} s" + _detail(detail), timed_out=True)


def broken_answer_error(request: HttpRequest, exc: ProtocolError) -> ConductorTransportError:
    """The error for an answer our reader refused: too large (names the limit), or broken."""
    if isinstance(exc, BodyTooLarge):
        return too_large_error(request, exc)
    return transport_error(request, f"broken answer ({exc})", timed_out=False)


def _detail(detail: str | None) -> str:
    return "" if detail is None else f" ({detail})"


def too_large_error(request: HttpRequest, exc: BodyTooLarge) -> ResponseTooLargeError:
    """The error for an answer whose body passed ``max_response_bytes``: names the limit and the size."""
    return ResponseTooLargeError(
        f"{request.method} {request.path}: {exc} (max_response_bytes={exc.limit})", limit=exc.limit, size=exc.size
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


#: Made once: ``json.dumps`` with any option builds a new encoder for every call.
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def json_body(what: str, value: Any) -> bytes:
    """Compact UTF-8 JSON; a value JSON cannot express (an object, NaN) raises ``ValueError``."""
    try:
        return _JSON.encode(value).encode("utf-8")
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


#: How long the server itself waits inside a single poll and inside update-v2 (count 1, 100 ms).
_SERVER_SINGLE_POLL_SECONDS = 0.1


# ----------------------------------------------------------------------------------------------
# Task endpoints


def batch_poll(
    task_type: str,
    *,
    count: int = 1,
    timeout_ms: int = 100,
    worker_id: str | None = None,
    domain: str | None = None,
) -> Call[TaskBatch]:
    """``GET /tasks/poll/batch/{type}``: up to ``count`` tasks, waiting up to ``timeout_ms`` on the server.

    A list item that is not a JSON object is logged and skipped; a task with a status the runtime
    does not know is still returned (``Task.status`` is a plain string). A task that cannot be
    decoded does not cost the others: it is listed in the answer's ``TaskBatch.undecodable``.
    """
    path = "/tasks/poll/batch/" + path_segment("task_type", task_type)
    query = query_params(
        ("workerid", optional_text("worker_id", worker_id)),
        ("count", whole_number("count", count, 1)),
        ("timeout", whole_number("timeout_ms", timeout_ms, 0)),
        ("domain", optional_text("domain", domain)),
    )
    request = HttpRequest(
        "GET", path, query, long_poll_seconds=timeout_ms / 1000.0, template="/tasks/poll/batch/{taskType}"
    )
    return Call(request, parse_tasks)


def poll(task_type: str, *, worker_id: str | None = None, domain: str | None = None) -> Call[Task | None]:
    """``GET /tasks/poll/{type}``: one task, or ``None`` (204) when the queue is empty; a task that
    cannot be decoded raises ``UndecodableTaskError``."""
    path = "/tasks/poll/" + path_segment("task_type", task_type)
    query = query_params(
        ("workerid", optional_text("worker_id", worker_id)),
        ("domain", optional_text("domain", domain)),
    )
    return Call(
        HttpRequest(
            "GET", path, query, long_poll_seconds=_SERVER_SINGLE_POLL_SECONDS, template="/tasks/poll/{taskType}"
        ),
        parse_optional_task,
    )


def update_task(result: TaskResult) -> Call[str]:
    """``POST /tasks`` (v1): the answer is the task id as bare text."""
    body = result_body(result)
    return Call(
        HttpRequest("POST", "/tasks", body=body, content_type=JSON_CONTENT_TYPE, accept="text/plain"),
        parse_task_id,
    )


def update_task_v2(result: TaskResult) -> Call[Task | None]:
    """``POST /tasks/update-v2``: the next task of the same type, or ``None`` (204).

    A next task that cannot be decoded raises ``UndecodableTaskError`` (not retryable): the result
    was accepted, and the error carries what could be read of that task.
    """
    body = result_body(result)
    request = HttpRequest(
        "POST",
        "/tasks/update-v2",
        body=body,
        content_type=JSON_CONTENT_TYPE,
        long_poll_seconds=_SERVER_SINGLE_POLL_SECONDS,
    )
    return Call(request, parse_optional_task)


def add_task_log(task_id: str, message: str) -> Call[None]:
    """``POST /tasks/{id}/log``: the server stores the raw body, so the message is sent as plain text
    (a newline arrives as a newline, unlike the official SDK's JSON-escaped form)."""
    path = f"/tasks/{path_segment('task_id', task_id)}/log"
    if not isinstance(message, str):
        raise ValueError(f"a task log message must be a string, got {type(message).__name__}")
    body = message.encode("utf-8")
    request = HttpRequest(
        "POST", path, body=body, content_type=TEXT_CONTENT_TYPE, accept="*/*", template="/tasks/{taskId}/log"
    )
    return Call(request, parse_nothing)


def get_task_logs(task_id: str) -> Call[list[TaskExecLog]]:
    """``GET /tasks/{id}/log``: the task's log lines (204 = none)."""
    path = f"/tasks/{path_segment('task_id', task_id)}/log"
    return Call(HttpRequest("GET", path, template="/tasks/{taskId}/log"), parse_logs)


def get_task(task_id: str) -> Call[Task]:
    """``GET /tasks/{id}``: the task (404 ``NotFoundError`` when unknown)."""
    path = "/tasks/" + path_segment("task_id", task_id)
    return Call(HttpRequest("GET", path, template="/tasks/{taskId}"), parse_task)


def get_queue_size(task_type: str, domain: str | None = None) -> Call[int]:
    """``GET /tasks/queue/size?taskType=&domain=``: how many tasks wait in that queue."""
    path_segment("task_type", task_type)
    query = query_params(("taskType", task_type), ("domain", optional_text("domain", domain)))
    return Call(HttpRequest("GET", "/tasks/queue/size", query), parse_count)


# ----------------------------------------------------------------------------------------------
# Metadata


def _task_def_dict(task_def: TaskDef) -> dict[str, Any]:
    if not isinstance(task_def, TaskDef):
        raise ValueError(f"expected a TaskDef, got {type(task_def).__name__}")
    if not task_def.name:
        raise ValueError("a TaskDef needs a name")
    return task_def.to_wire()


def register_task_defs(defs: Sequence[TaskDef]) -> Call[None]:
    """``POST /metadata/taskdefs`` with a list (an upsert on the server)."""
    if isinstance(defs, (TaskDef, str, bytes)) or not isinstance(defs, Sequence):
        raise ValueError(f"register_task_defs expects a list of TaskDef, got {type(defs).__name__}")
    body = [_task_def_dict(d) for d in defs]
    return Call(json_request("POST", "/metadata/taskdefs", "task definitions", body, accept="*/*"), parse_nothing)


def update_task_def(task_def: TaskDef) -> Call[None]:
    """``PUT /metadata/taskdefs`` with one definition (404 when it does not exist)."""
    body = _task_def_dict(task_def)
    request = json_request("PUT", "/metadata/taskdefs", f"task definition {task_def.name!r}", body, accept="*/*")
    return Call(request, parse_nothing)


def get_task_def(name: str) -> Call[TaskDef]:
    """``GET /metadata/taskdefs/{name}`` (404 ``NotFoundError`` when unknown)."""
    path = "/metadata/taskdefs/" + path_segment("name", name)
    return Call(HttpRequest("GET", path, template="/metadata/taskdefs/{name}"), parse_task_def)


def get_task_defs() -> Call[list[TaskDef]]:
    """``GET /metadata/taskdefs``: every task definition."""
    return Call(HttpRequest("GET", "/metadata/taskdefs"), parse_task_defs)


def save_schema(schema: Mapping[str, Any]) -> Call[None]:
    """``POST /schema`` with one schema object (``name``, ``version``, ``type``, ``data``)."""
    if not isinstance(schema, Mapping):
        raise ValueError(f"a schema must be a JSON object, got {type(schema).__name__}")
    return Call(json_request("POST", "/schema", "schema", dict(schema), accept="*/*"), parse_nothing)


def register_workflow_def(definition: Mapping[str, Any], *, overwrite: bool = True) -> Call[None]:
    """``POST /metadata/workflow?overwrite=`` with one workflow definition."""
    if not isinstance(definition, Mapping):
        raise ValueError(f"a workflow definition must be a JSON object, got {type(definition).__name__}")
    request = json_request(
        "POST",
        "/metadata/workflow",
        "workflow definition",
        dict(definition),
        query=query_params(("overwrite", bool(overwrite))),
        accept="*/*",
    )
    return Call(request, parse_nothing)


# ----------------------------------------------------------------------------------------------
# Workflows


def start_workflow(
    name: str,
    input: Mapping[str, Any] | None = None,
    *,
    version: int | None = None,
    correlation_id: str | None = None,
    task_to_domain: Mapping[str, str] | None = None,
    priority: int | None = None,
) -> Call[str]:
    """``POST /workflow`` with a StartWorkflowRequest; the answer is the workflow id as bare text."""
    path_segment("name", name)
    if input is not None and not isinstance(input, Mapping):
        raise ValueError(f"workflow input must be a JSON object, got {type(input).__name__}")
    if version is not None:
        whole_number("version", version, 1)
    if priority is not None:
        whole_number("priority", priority, 0)
    start: dict[str, Any] = {"name": name, "input": dict(input or {})}
    for key, value in (
        ("version", version),
        ("correlationId", optional_text("correlation_id", correlation_id)),
        ("taskToDomain", dict(task_to_domain) if task_to_domain is not None else None),
        ("priority", priority),
    ):
        if value is not None:
            start[key] = value
    request = json_request("POST", "/workflow", f"start request of workflow {name!r}", start, accept="text/plain")
    return Call(request, parse_workflow_id)


def get_workflow(workflow_id: str, *, include_tasks: bool = True) -> Call[dict[str, Any]]:
    """``GET /workflow/{id}?includeTasks=``: the workflow as a JSON object."""
    path = "/workflow/" + path_segment("workflow_id", workflow_id)
    query = query_params(("includeTasks", bool(include_tasks)))
    return Call(HttpRequest("GET", path, query, template="/workflow/{workflowId}"), parse_workflow)


# ----------------------------------------------------------------------------------------------
# Token


def get_token(settings: AuthenticationSettings | None) -> Call[str]:
    """``POST /token`` with ``{"keyId","keySecret"}``; the answer is ``{"token": "..."}``.

    ``settings`` ``None`` (no credentials configured) raises ``ConfigurationError``.

    The request never carries ``X-Authorization``. Errors never hold the secret or the token: the
    secret is blanked out of an error body the server might echo it in, and a malformed 2xx answer
    (which may hold a token) is reported without its body.
    """
    if settings is None:
        raise ConfigurationError(
            "a token needs credentials: set Configuration(authentication_settings=...) or "
            "CONDUCTOR_AUTH_KEY and CONDUCTOR_AUTH_SECRET"
        )
    body = json_body("token request", {"keyId": settings.key_id, "keySecret": settings.key_secret})
    request = HttpRequest(
        "POST", "/token", body=body, content_type=JSON_CONTENT_TYPE, authenticated=False
    )
    secret = settings.key_secret.encode("utf-8")

    def parse(request: HttpRequest, status: int, answer: bytes) -> str:
        ensure_success(request, status, answer.replace(secret, b"***"))
        try:
            value = json.loads(answer)
        except (ValueError, RecursionError):
            value = None
        token = value.get("token") if isinstance(value, dict) else None
        if not isinstance(token, str) or not token:
            raise InvalidResponseError(
                'expected {"token": "<non-empty string>"} (body withheld: it may hold a token)',
                method=request.method,
                path=request.path,
            )
        return token

    return Call(request, parse)
