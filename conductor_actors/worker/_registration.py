"""Registering a worker's task definition (and optionally its JSON schemas) with the server.

The steps are one generator of client calls (sans-I/O) driven by a sync driver for a
``ConductorClient`` and an async driver for an ``AsyncConductorClient``:

- ``register_schema`` on (function workers only): POST ``<task>_input`` and ``<task>_output``
  schemas and link them from the definition (``inputSchema``/``outputSchema``). A schema the
  ``task_def`` template already links is kept as is.
- ``overwrite_task_def`` on: ``update_task_def`` (PUT); on ``NotFoundError`` create it with
  ``register_task_defs``. Off: ``get_task_def``; create only on ``NotFoundError``.

A ``task_def`` template is copied and its name forced to the task name. Any failure is logged at
WARNING (naming the task and the error) and recorded in the report; nothing raises. The drivers
run in the calling thread or on the calling event loop.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from ..client import NotFoundError, TaskDef
from ._config import WorkerConfig
from ._schema import generate_input_json_schema_from_function, generate_output_json_schema_from_function
from ._worker import Worker, WorkerInterface

__all__ = ["RegistrationReport", "register_task_definition", "register_task_definition_async"]

logger = logging.getLogger("conductor_actors.worker")

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class RegistrationReport:
    """What registering one task definition did.

    ``action``: ``"updated"`` (PUT), ``"created"`` (POST), ``"kept"`` (exists, overwrite off),
    ``"disabled"`` (register_task_def off) or ``"failed"``. ``schemas`` lists the schema names
    saved; ``warnings`` every failure (each was also logged).
    """

    task_name: str
    action: str
    schemas: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.warnings


@dataclass(frozen=True)
class _ClientCall:
    """One call the driver makes: ``getattr(client, method)(*args)``."""

    method: str
    args: tuple[Any, ...]


_Steps = Generator[_ClientCall, Any, RegistrationReport]


class _Run:
    """The state of one registration: the task name and the warnings so far."""

    def __init__(self, task_name: str) -> None:
        self.task_name = task_name
        self.warnings: list[str] = []
        self.schemas: list[str] = []

    def warn(self, what: str, exc: BaseException) -> None:
        message = f"task {self.task_name!r}: {what} failed: {exc}"
        logger.warning("task definition registration: %s", message)
        self.warnings.append(message)

    def report(self, action: str) -> RegistrationReport:
        return RegistrationReport(self.task_name, action, tuple(self.schemas), tuple(self.warnings))


def _task_def(worker: WorkerInterface, task_name: str) -> TaskDef:
    template = worker.task_def_template if isinstance(worker, Worker) else None
    task_def = copy.deepcopy(template) if template is not None else TaskDef()
    task_def.name = task_name
    return task_def


def _schemas(worker: Worker, config: WorkerConfig, run: _Run) -> list[tuple[str, str, dict[str, Any]]]:
    """``(task_def attribute, schema name, schema)`` for each schema to register."""
    func, strict, name = worker.execute_function, config.strict_schema, run.task_name
    wanted = []
    for attribute, suffix, generate in (
        ("input_schema", "input", generate_input_json_schema_from_function),
        ("output_schema", "output", generate_output_json_schema_from_function),
    ):
        schema_name = f"{name}_{suffix}"
        try:
            schema = generate(func, schema_name, strict)
        except Exception as exc:
            run.warn(f"generating schema {schema_name!r}", exc)
            continue
        if schema is not None:
            wanted.append((attribute, schema_name, schema))
    return wanted


def _steps(worker: WorkerInterface, config: WorkerConfig) -> _Steps:
    task_name = worker.get_task_definition_name()
    run = _Run(task_name)
    if not config.register_task_def:
        return run.report("disabled")
    task_def = _task_def(worker, task_name)
    if config.register_schema and isinstance(worker, Worker):
        for attribute, schema_name, schema in _schemas(worker, config, run):
            if getattr(task_def, attribute) is not None:
                continue  # the template links its own schema
            body = {"name": schema_name, "version": SCHEMA_VERSION, "type": "JSON", "data": schema}
            try:
                yield _ClientCall("save_schema", (body,))
            except Exception as exc:
                run.warn(f"saving schema {schema_name!r}", exc)
                if isinstance(exc, NotFoundError):
                    break  # the server has no schema endpoint
                continue
            run.schemas.append(schema_name)
            setattr(task_def, attribute, {"name": schema_name, "version": SCHEMA_VERSION, "type": "JSON"})
    try:
        if config.overwrite_task_def:
            try:
                yield _ClientCall("update_task_def", (task_def,))
                return run.report("updated")
            except NotFoundError:
                pass
        else:
            try:
                yield _ClientCall("get_task_def", (task_name,))
                return run.report("kept")
            except NotFoundError:
                pass
        yield _ClientCall("register_task_defs", ([task_def],))
        return run.report("created")
    except Exception as exc:
        run.warn("registering the task definition", exc)
        return run.report("failed")


def _guarded(worker: WorkerInterface, config: WorkerConfig) -> _Steps:
    """``_steps``, with anything unexpected turned into a "failed" report."""
    try:
        return (yield from _steps(worker, config))
    except Exception as exc:
        run = _Run(str(getattr(worker, "task_definition_name", worker)))
        run.warn("registration", exc)
        return run.report("failed")


def register_task_definition(client: Any, worker: WorkerInterface, config: WorkerConfig) -> RegistrationReport:
    """Register ``worker``'s task definition with a ``ConductorClient``, in the calling thread.

    Never raises (failures are WARNING logs and ``report.warnings``).
    """
    steps = _guarded(worker, config)
    try:
        call = next(steps)
        while True:
            try:
                outcome = getattr(client, call.method)(*call.args)
            except Exception as exc:
                call = steps.throw(exc)
            else:
                call = steps.send(outcome)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def register_task_definition_async(
    client: Any, worker: WorkerInterface, config: WorkerConfig
) -> RegistrationReport:
    """Register ``worker``'s task definition with an ``AsyncConductorClient``, on the running loop.

    Never raises (failures are WARNING logs and ``report.warnings``).
    """
    steps = _guarded(worker, config)
    try:
        call = next(steps)
        while True:
            try:
                outcome = await getattr(client, call.method)(*call.args)
            except Exception as exc:
                call = steps.throw(exc)
            else:
                call = steps.send(outcome)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
