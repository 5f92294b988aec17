"""Errors the dev server answers with, in the Conductor server's ``ErrorResponse`` shape.

Handlers raise :class:`ApiError`; the dispatcher turns it into the JSON error body
``{"status":N,"message":"...","instance":"<host>","retryable":false}`` (plus extra fields such as
``validationErrors`` or an auth ``error`` code). Pure data and encoding; safe from any thread.
"""

from __future__ import annotations

import json
import socket
from typing import Any

__all__ = [
    "INSTANCE",
    "ApiError",
    "ValidationFailure",
    "encode_json",
    "error_body",
]

#: The ``instance`` field of every error body: the real server puts its host name there.
INSTANCE = socket.gethostname() or "conductor-devserver"

#: Compact JSON, the way Jackson writes it. NaN/Infinity are refused (they are not JSON).
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def encode_json(value: Any) -> bytes:
    """Serialise ``value`` to compact UTF-8 JSON bytes. Raises ``ValueError``/``TypeError`` if not JSON."""
    return _ENCODER.encode(value).encode("utf-8")


class ApiError(Exception):
    """An HTTP error answer: ``status``, ``message`` and optional extra body fields.

    ``retryable`` defaults to true for 5xx (the server's ``TransientException``) and false otherwise.
    """

    def __init__(
        self, status: int, message: str, *, retryable: bool | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retryable = status >= 500 if retryable is None else retryable
        self.extra = extra or {}

    def body(self) -> bytes:
        """The JSON error body for this error."""
        return error_body(self.status, self.message, retryable=self.retryable, **self.extra)


class ValidationFailure(ApiError):
    """A bean-validation failure: 400 with ``validationErrors`` naming each bad field."""

    def __init__(self, errors: list[tuple[str, str, Any]]) -> None:
        detail = [{"path": path, "message": message, "invalidValue": value} for path, message, value in errors]
        super().__init__(
            400, "Validation failed, check below errors for detail.", extra={"validationErrors": detail}
        )
        self.errors = errors

    def __str__(self) -> str:
        return "; ".join(f"{path}: {message}" for path, message, _ in self.errors)


def error_body(status: int, message: str, *, retryable: bool | None = None, **extra: Any) -> bytes:
    """The server's ``ErrorResponse`` JSON for ``status`` and ``message``; ``extra`` fields are appended."""
    body: dict[str, Any] = {"status": status, "message": message, "instance": INSTANCE}
    body.update(extra)
    body["retryable"] = status >= 500 if retryable is None else retryable
    return encode_json(body)
