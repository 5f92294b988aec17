"""Reading the answers of Conductor calls, without I/O: ``(request, status, body) -> result``.

- A non-2xx raises ``http_error_for`` (``AuthorizationError``, ``NotFoundError``,
  ``ConductorHTTPError`` with the server's message); a 2xx whose body is not JSON, is truncated or
  has the wrong shape raises ``InvalidResponseError``. Never a bare
  ``KeyError``/``JSONDecodeError``/``TypeError``.
- Tasks that cannot be decoded: one task in an answer that ``json`` cannot read (nested too deep,
  invalid UTF-8, an integer over the interpreter's digit limit, broken JSON) does not cost the
  others. A batch answer is then split into its elements by a small iterative scanner and each is
  decoded on its own (``TaskBatch.undecodable`` lists the ones that failed); the single task of
  a poll or update-v2 answer raises ``UndecodableTaskError``. Both carry an ``UndecodableTask``:
  why it failed and the ids that could still be read.

The parsers only read the request's method and path, for their messages (``Asked``); the calls
that use them are built in ``_calls``. Pure functions and frozen data; safe to use from any thread
or event loop.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ._errors import InvalidResponseError, http_error_for
from ._models import Task, TaskDef, TaskExecLog

__all__ = [
    "Asked",
    "TaskBatch",
    "UndecodableTask",
    "UndecodableTaskError",
    "ensure_success",
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
]

logger = logging.getLogger("conductor_actors.client")


class Asked(Protocol):
    """What a parser knows of the request it reads the answer of (``_calls.HttpRequest`` is one)."""

    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...


def ensure_success(request: Asked, status: int, body: bytes) -> None:
    """Raise the ``http_error_for`` a non-2xx answer; return quietly on 2xx."""
    if not 200 <= status < 300:
        raise http_error_for(status, body, method=request.method, path=request.path)


def _invalid(request: Asked, message: str, body: bytes) -> InvalidResponseError:
    return InvalidResponseError(
        message, body=body.decode("utf-8", "replace"), method=request.method, path=request.path
    )


def _is_empty(status: int, body: bytes) -> bool:
    return status == 204 or not body.strip()


def _invalid_json(request: Asked, body: bytes, exc: Exception) -> InvalidResponseError:
    """The error for a body ``json.loads`` refused with ``exc``, saying what the body was."""
    if isinstance(exc, json.JSONDecodeError):
        if body.lstrip()[:1] == b"<":
            reason = "expected JSON, got an HTML/XML page"
        elif exc.pos >= len(exc.doc.rstrip()) or exc.msg.startswith("Unterminated string"):
            reason = f"the JSON body ends early (truncated after {len(body)} bytes)"
        else:
            reason = f"the body is not valid JSON ({exc.msg} at char {exc.pos})"
        return _invalid(request, reason, body)
    if isinstance(exc, UnicodeDecodeError):
        detail = _bad_bytes(exc, _text_start(body))
    elif isinstance(exc, RecursionError):
        detail = "nested deeper than the decoder can follow"
    else:  # e.g. an integer with more digits than the interpreter converts
        detail = f"{type(exc).__name__}: {exc}"[:300]
    return _invalid(request, f"the body is not readable JSON ({detail})", body)


def _text_start(body: bytes) -> int:
    """Where ``json`` starts decoding ``body`` as text: after a UTF-8 byte order mark, if any."""
    return len(_UTF8_BOM) if body.startswith(_UTF8_BOM) else 0


def _bad_bytes(exc: UnicodeDecodeError, offset: int) -> str:
    """Where the text of an answer is not valid in the encoding ``json`` read it with (UTF-8, unless
    its first bytes looked like UTF-16 or UTF-32); ``offset``: where the decoded text began."""
    encoding = exc.encoding.upper().replace("_", "-").removesuffix("-SIG")
    return f"invalid {encoding} at byte {offset + exc.start} of the answer"


def _decode_json(request: Asked, body: bytes) -> Any:
    """The body's JSON value; anything else raises ``InvalidResponseError`` saying what it was."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _invalid_json(request, body, exc) from None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _json_object(request: Asked, body: bytes, what: str) -> dict[str, Any]:
    value = _decode_json(request, body)
    if not isinstance(value, dict):
        raise _invalid(request, f"expected {what} (a JSON object), got {_kind(value)}", body)
    return value


def _json_objects(request: Asked, status: int, body: bytes, what: str) -> list[dict[str, Any]]:
    """The objects of a JSON list (204 or an empty body = none); non-object items are logged and skipped."""
    if _is_empty(status, body):
        return []
    return _objects_in(request, _decode_json(request, body), body, what)


def _objects_in(request: Asked, value: Any, body: bytes, what: str) -> list[dict[str, Any]]:
    """The objects of the decoded list ``value``; non-object items are logged and skipped."""
    if not isinstance(value, list):
        raise _invalid(request, f"expected a list of {what} objects, got {_kind(value)}", body)
    items = []
    for index, item in enumerate(value):
        if isinstance(item, dict):
            items.append(item)
        else:
            _skip_item(request, index, what, item)
    return items


def _skip_item(request: Asked, index: int, what: str, item: Any) -> None:
    logger.warning(
        "%s %s: skipping item %d of the answer: expected a %s object, got %s",
        request.method, request.path, index, what, _kind(item),
    )


def _bare_id(request: Asked, status: int, body: bytes, what: str) -> str:
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
# Tasks that cannot be decoded


@dataclass(frozen=True)
class UndecodableTask:
    """A task in a server answer that could not be decoded, and what could still be read of it.

    ``reason`` says what was wrong (``invalid UTF-8 at byte 812 of the answer``). ``task_id``,
    ``workflow_instance_id`` and ``task_type`` are the string values of the task object's own
    top-level keys when they could be read, else None. ``position`` is the task's index in a batch
    answer (None for the one task of a single answer), ``size`` the length of its JSON text in
    bytes. It never holds the task's input.
    """

    reason: str
    task_id: str | None = None
    workflow_instance_id: str | None = None
    task_type: str | None = None
    position: int | None = None
    size: int = 0

    @property
    def addressable(self) -> bool:
        """True when both ids could be read, so a result can be sent for the task."""
        return bool(self.task_id) and bool(self.workflow_instance_id)

    def describe(self) -> str:
        """What is known of the task, for messages: ids (or that they could not be read), type,
        place in the answer and size."""
        known = [
            f"{name} {value!r}" if value else f"{name} unreadable"
            for name, value in (("taskId", self.task_id), ("workflowInstanceId", self.workflow_instance_id))
        ]
        if self.task_type:
            known.append(f"taskType {self.task_type!r}")
        where = "" if self.position is None else f"item {self.position} of the answer, "
        return f"{', '.join(known)} ({where}{self.size} bytes)"


class TaskBatch(list[Task]):
    """The tasks of a batch-poll answer: a plain list of the ``Task`` objects that could be decoded,
    plus ``undecodable``, the tasks of the same answer that could not (in answer order; usually
    empty). The server leased all of them to the poller."""

    __slots__ = ("undecodable",)

    def __init__(self, tasks: Iterable[Task] = (), undecodable: Iterable[UndecodableTask] = ()) -> None:
        super().__init__(tasks)
        self.undecodable: tuple[UndecodableTask, ...] = tuple(undecodable)


class UndecodableTaskError(InvalidResponseError):
    """The one task of a poll or update-v2 answer could not be decoded; ``task`` says why and holds
    the ids that could be read. Not retryable: the server leased that task with this answer and
    does not send it again (after update-v2, the result that was sent has been accepted)."""

    retryable = False

    def __init__(self, request: Asked, task: UndecodableTask, body: bytes) -> None:
        super().__init__(
            f"the task in the answer could not be decoded: {task.reason}; {task.describe()}",
            body=body[:4096].decode("utf-8", "replace"), method=request.method, path=request.path,
        )
        self.task = task


#: One token of the structure scan: a whole JSON string (escapes included), a quote opening a
#: string that never closes, or a structural character. What lies between tokens (numbers,
#: literals, blanks) is skipped. The scan works on bytes: every byte it looks for is ASCII, which
#: never occurs inside a multi-byte UTF-8 sequence, so invalid UTF-8 cannot mislead it.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|["\[\]{}:,]', re.DOTALL)
_DIGITS = re.compile(rb"[0-9]+")
_BLANK = b" \t\r\n"
_UTF8_BOM = b"\xef\xbb\xbf"
_QUOTE, _COLON, _COMMA = ord('"'), ord(":"), ord(",")
_OPENERS = frozenset(b"[{")
_CLOSERS = frozenset(b"]}")
#: Keys whose string value is read from a task that cannot be decoded -> ``UndecodableTask`` field.
_ID_KEYS = {"taskId": "task_id", "workflowInstanceId": "workflow_instance_id", "taskType": "task_type"}
#: Longest JSON string (bytes) read as a key or an id; ids are short, a huge value is not decoded.
_ID_LIMIT = 1024


def _skip_blank(body: bytes, position: int, end: int | None = None) -> int:
    """The first position from ``position`` (before ``end``) that is not JSON whitespace."""
    stop = len(body) if end is None else end
    while position < stop and body[position] in _BLANK:
        position += 1
    return position


def _trimmed(body: bytes, start: int, end: int, depth: int) -> tuple[int, int, int]:
    """``(start, end, depth)`` with the whitespace around ``body[start:end]`` left out."""
    start = _skip_blank(body, start, end)
    while end > start and body[end - 1] in _BLANK:
        end -= 1
    return start, end, depth


def _scan(body: bytes, opener: bytes) -> tuple[int, int, int, list[tuple[int, int, int]]] | None:
    """The one JSON array or object (``opener``: ``b"["`` or ``b"{"``) that ``body`` holds, as
    ``(start, end, depth, elements)``: ``depth`` is how many brackets nest in it, ``elements`` where
    each of its top-level elements lies (an array's items, an object's key/value pairs) as
    ``(start, end, depth)`` without the whitespace around it. None when ``body`` holds anything
    else (another value, a string or bracket that never closes, anything but whitespace after it).

    Iterative, so any depth is fine, and linear in the body's size. Brackets are counted, not
    paired: a mismatch shows when the element is decoded.
    """
    start = _skip_blank(body, _text_start(body))
    if body[start:start + 1] != opener:
        return None
    elements: list[tuple[int, int, int]] = []
    depth = deepest = overall = 0  # deepest: in the current element; overall: in the whole value
    element_start = start + 1
    for token in _TOKEN.finditer(body, start):
        at = token.start()
        char = body[at]
        if char == _QUOTE:
            if token.end() - at == 1:
                return None  # a string that never closes: the answer ends early
        elif char in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif char in _CLOSERS:
            depth -= 1
            if depth == 0:
                if elements or _skip_blank(body, element_start, at) < at:  # "[]" has no element
                    elements.append(_trimmed(body, element_start, at, deepest - 1))
                end = token.end()
                if _skip_blank(body, end) != len(body):
                    return None
                return start, end, max(overall, deepest), elements
        elif char == _COMMA and depth == 1:
            elements.append(_trimmed(body, element_start, at, deepest - 1))
            overall = max(overall, deepest)
            element_start, deepest = token.end(), 1
    return None  # the value never closes: the answer ends early


def _split_array(body: bytes) -> list[tuple[int, int, int]] | None:
    """Where each element of the JSON array ``body`` lies: ``(start, end, depth)`` in order (see
    ``_scan``; an object of scalars has depth 1). None when ``body`` is not one complete array."""
    scanned = _scan(body, b"[")
    return None if scanned is None else scanned[3]


def _whole_object(body: bytes) -> tuple[int, int, int] | None:
    """``(start, end, depth)`` of the one JSON object ``body`` holds; None when it holds anything
    else or the object never closes (see ``_scan``)."""
    scanned = _scan(body, b"{")
    return None if scanned is None else scanned[:3]


def _json_text(body: bytes, start: int, end: int) -> str | None:
    """The JSON string token ``body[start:end]`` as text: None when it is too long to be an id,
    empty, not valid, or holds a lone surrogate (it could not be sent back)."""
    if end - start > _ID_LIMIT:
        return None
    try:
        text = json.loads(body[start:end])
        if not isinstance(text, str) or not text:
            return None
        text.encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeDecodeError/UnicodeEncodeError are ValueErrors
        return None
    return text


def _readable_ids(body: bytes, start: int, end: int) -> dict[str, str]:
    """The string values of ``taskId``, ``workflowInstanceId`` and ``taskType`` among the top-level
    keys of the JSON object in ``body[start:end]`` that can be read, by ``UndecodableTask`` field.

    A tolerant scan: keys nested deeper (inside ``inputData``) are not the task's, a value that is
    not a readable string is left out, and nothing after a string that never closes is trusted.
    """
    found: dict[str, str] = {}
    depth = 0
    key: str | None = None  # the last top-level string while it may be a key
    value_of: str | None = None  # the field whose value comes next
    value_from = start
    for token in _TOKEN.finditer(body, start, end):
        at = token.start()
        char = body[at]
        if char == _QUOTE:
            if token.end() - at == 1:
                break
            if depth != 1:
                continue
            if value_of is not None:
                if _skip_blank(body, value_from, at) == at:
                    text = _json_text(body, at, token.end())
                    if text is not None:
                        found[value_of] = text
                value_of = None
            else:
                key = _json_text(body, at, token.end())
        elif char == _COLON:
            value_of = _ID_KEYS.get(key) if depth == 1 and key is not None else None
            value_from = token.end()
            key = None
        else:
            if char in _OPENERS:
                depth += 1
            elif char in _CLOSERS:
                depth -= 1
            key = value_of = None
    return found


def _longest_integer(body: bytes, start: int, end: int) -> int:
    """The most digits in a row in ``body[start:end]`` outside JSON strings."""
    longest = 0
    position = start
    for token in _TOKEN.finditer(body, start, end):
        for run in _DIGITS.finditer(body, position, token.start()):
            longest = max(longest, run.end() - run.start())
        position = token.end()
    for run in _DIGITS.finditer(body, position, end):
        longest = max(longest, run.end() - run.start())
    return longest


def _undecodable_reason(exc: Exception, body: bytes, start: int, end: int, depth: int, offset: int) -> str:
    """Why ``json`` refused the task in ``body[start:end]`` with ``exc``; ``offset`` is where the
    text it was decoding began in ``body`` and ``depth`` the nesting the scan counted."""
    if isinstance(exc, RecursionError):
        return f"JSON nested {depth} levels deep, deeper than the decoder can follow"
    if isinstance(exc, UnicodeDecodeError):
        return _bad_bytes(exc, offset)
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg} at char {exc.pos} of its text)"
    digit_limit = getattr(sys, "get_int_max_str_digits", None)  # Python 3.10.7 and later
    limit = digit_limit() if digit_limit is not None else 0
    digits = _longest_integer(body, start, end)
    if limit and digits > limit:
        return f"an integer with {digits} digits, more than the {limit} the decoder accepts"
    return f"{type(exc).__name__}: {exc}"[:300]


def _undecodable(
    body: bytes, start: int, end: int, reason: str, position: int | None
) -> UndecodableTask:
    ids = _readable_ids(body, start, end)
    return UndecodableTask(reason, **ids, position=position, size=end - start)


def _salvage_tasks(request: Asked, body: bytes) -> TaskBatch | None:
    """The tasks of a batch answer that ``json`` refused as a whole, decoded one element at a
    time; None when the body is not one complete JSON array."""
    elements = _split_array(body)
    if elements is None:
        return None
    tasks: list[Task] = []
    undecodable: list[UndecodableTask] = []
    for position, (start, end, depth) in enumerate(elements):
        try:
            item = json.loads(body[start:end])
        except (ValueError, RecursionError) as exc:
            reason = _undecodable_reason(exc, body, start, end, depth, start)
            undecodable.append(_undecodable(body, start, end, reason, position))
            continue
        if isinstance(item, dict):
            tasks.append(Task.from_dict(item))
        else:
            _skip_item(request, position, "task", item)
    return TaskBatch(tasks, undecodable)


# ----------------------------------------------------------------------------------------------
# Parsers


def parse_nothing(request: Asked, status: int, body: bytes) -> None:
    ensure_success(request, status, body)


def parse_task(request: Asked, status: int, body: bytes) -> Task:
    ensure_success(request, status, body)
    if _is_empty(status, body):
        raise _invalid(request, "expected a task, got an empty answer", body)
    return Task.from_dict(_json_object(request, body, "a task"))


def parse_optional_task(request: Asked, status: int, body: bytes) -> Task | None:
    """The one task of a poll or update-v2 answer, or None; ``UndecodableTaskError`` when the answer
    is one JSON object that cannot be decoded (a body that is not even that: ``InvalidResponseError``)."""
    ensure_success(request, status, body)
    if _is_empty(status, body):
        return None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        extent = _whole_object(body)
        if extent is None:
            raise _invalid_json(request, body, exc) from None
        start, end, depth = extent
        reason = _undecodable_reason(exc, body, start, end, depth, _text_start(body))
        raise UndecodableTaskError(request, _undecodable(body, start, end, reason, None), body) from None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid(request, f"expected a task (a JSON object), got {_kind(value)}", body)
    return Task.from_dict(value)


def parse_tasks(request: Asked, status: int, body: bytes) -> TaskBatch:
    """The tasks of a batch answer. When ``json`` cannot decode the body as a whole, a body that is
    one complete array is decoded element by element: the tasks that decode are returned, the
    others are listed in ``undecodable``; any other body raises ``InvalidResponseError``."""
    ensure_success(request, status, body)
    if _is_empty(status, body):
        return TaskBatch()
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        error = _invalid_json(request, body, exc)
    else:
        return TaskBatch(Task.from_dict(item) for item in _objects_in(request, value, body, "task"))
    # Outside the except block, so the failed attempt's traceback (holding the body decoded to
    # text) is freed before the elements are decoded.
    salvaged = _salvage_tasks(request, body)
    if salvaged is None:
        raise error
    return salvaged


def parse_logs(request: Asked, status: int, body: bytes) -> list[TaskExecLog]:
    ensure_success(request, status, body)
    return [TaskExecLog.from_dict(item) for item in _json_objects(request, status, body, "log entry")]


def parse_task_def(request: Asked, status: int, body: bytes) -> TaskDef:
    ensure_success(request, status, body)
    return TaskDef.from_dict(_json_object(request, body, "a task definition"))


def parse_task_defs(request: Asked, status: int, body: bytes) -> list[TaskDef]:
    ensure_success(request, status, body)
    return [TaskDef.from_dict(item) for item in _json_objects(request, status, body, "task definition")]


def parse_workflow(request: Asked, status: int, body: bytes) -> dict[str, Any]:
    ensure_success(request, status, body)
    return _json_object(request, body, "a workflow")


def parse_task_id(request: Asked, status: int, body: bytes) -> str:
    return _bare_id(request, status, body, "task id")


def parse_workflow_id(request: Asked, status: int, body: bytes) -> str:
    return _bare_id(request, status, body, "workflow id")


def parse_count(request: Asked, status: int, body: bytes) -> int:
    ensure_success(request, status, body)
    value = _decode_json(request, body)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _invalid(request, f"expected a queue size (a non-negative integer), got {_kind(value)}", body)
    return value
