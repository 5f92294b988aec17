"""Registering a worker's task definition (and optionally its JSON schemas) with the server, and
the JSON schemas (draft-07) of a worker function's input and output, from its type hints.

Registration is one generator of client calls (sans-I/O) driven by a sync driver for a
``ConductorClient`` and an async driver for an ``AsyncConductorClient``:

- ``register_schema`` on (function workers only): POST ``<task>_input`` and ``<task>_output``
  schemas and link them from the definition (``inputSchema``/``outputSchema``). A schema the
  ``task_def`` template already links is kept as is.
- ``overwrite_task_def`` on: ``update_task_def`` (PUT); on ``NotFoundError`` create it with
  ``register_task_defs``. Off: ``get_task_def``; create only on ``NotFoundError``.

A ``task_def`` template is copied and its name forced to the task name. Any failure is logged at
WARNING (naming the task and the error) and recorded in the report; nothing raises. The drivers
run in the calling thread or on the calling event loop.

Schemas: ``generate_json_schema_from_function`` answers as the official SDK's generator does:
``{"input": ..., "output": ...}``, all or nothing per schema (its helpers ``_type_to_json_schema``,
``_generate_input_schema`` and ``_generate_output_schema`` keep their official names), with string
annotations resolved first. The schemas registered with a task definition go further
(``generate_input_json_schema_from_function`` / ``generate_output_json_schema_from_function``): the
input schema is an object with one property per parameter (parameters annotated ``Task``,
``*args`` and ``**kwargs`` are left out); a parameter is required unless it has a default or is
Optional (a parameter whose default is None is nullable too). The output schema describes the
task's output as the runtime builds it: a dict or dataclass return is the object itself, any other
value is wrapped as ``{"result": ...}``; ``TaskInProgress`` and None are filtered out of a Union
return. ``additionalProperties`` is ``not strict_schema`` on the parameter object and on
dataclasses (free-form ``dict`` values always allow extra keys). An unsupported annotation gives
the permissive ``{}`` for that property rather than dropping the schema. Works with
``from __future__ import annotations``. Pure functions.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import logging
import typing
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ..client import NotFoundError, Task, TaskDef, TaskResult
from ._config import WorkerConfig
from ._conversion import (
    NoneType,
    callable_signature,
    field_has_default,
    hint_target,
    is_dataclass_type,
    is_enum_type,
    is_required,
    make_union,
    resolve_type_hints,
    split_optional,
    union_members,
)
from ._worker import TaskInProgress, Worker, WorkerInterface

__all__ = [
    "RegistrationReport",
    "generate_input_json_schema_from_function",
    "generate_json_schema_from_function",
    "generate_output_json_schema_from_function",
    "register_task_definition",
    "register_task_definition_async",
]

logger = logging.getLogger("conductor_actors.worker")

DRAFT_07 = "http://json-schema.org/draft-07/schema#"

_SIMPLE: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    NoneType: {"type": "null"},
}
_ARRAY_ORIGINS = (list, tuple, set, frozenset, typing.Sequence, typing.MutableSequence)
_OBJECT_ORIGINS = (dict, typing.Mapping, typing.MutableMapping)
_NOT_OUTPUT = (TaskInProgress, TaskResult, NoneType)


class _SchemaBuilder:
    """Builds property schemas; remembers the dataclasses being expanded (recursion gives ``{}``)."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self._expanding: set[type] = set()

    def schema(self, tp: Any) -> dict[str, Any]:
        simple = _SIMPLE.get(tp)
        if simple is not None:
            return dict(simple)
        if tp is Any or tp is object:
            return {}
        members = union_members(tp)
        if members is not None:
            return {"anyOf": [self.schema(m) for m in members]}
        if is_enum_type(tp):
            return {"enum": [m.value for m in tp]}
        if is_dataclass_type(tp):
            return self._dataclass(tp)
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is Literal:
            return {"enum": list(args)}
        if tp in _ARRAY_ORIGINS or origin in _ARRAY_ORIGINS:
            items = args[0] if args and origin is not tuple else None
            return {"type": "array", "items": self.schema(items)} if items is not None else {"type": "array"}
        if tp in _OBJECT_ORIGINS or origin in _OBJECT_ORIGINS:
            value = self.schema(args[1]) if len(args) == 2 else {}
            # a free-form object is just "object", as in the official generator
            return {"type": "object", "additionalProperties": value} if value else {"type": "object"}
        return {}

    def object_schema(self, fields: list[tuple[str, Any, bool]]) -> dict[str, Any]:
        """An object with ``(name, type, has_default)`` fields (Optional or defaulted = not required)."""
        properties: dict[str, Any] = {}
        required: list[str] = []
        for name, tp, has_default in fields:
            properties[name] = self.schema(tp)
            if is_required(tp, has_default):
                required.append(name)
        return _object_schema(properties, required, self.strict)

    def _dataclass(self, cls: type) -> dict[str, Any]:
        if cls in self._expanding:
            return {}
        self._expanding.add(cls)
        try:
            hints = resolve_type_hints(cls)
            return self.object_schema(
                [(f.name, hints.get(f.name, Any), field_has_default(f)) for f in dataclasses.fields(cls) if f.init]
            )
        finally:
            self._expanding.discard(cls)


def _object_schema(properties: dict[str, Any], required: list[str], strict: bool) -> dict[str, Any]:
    """An object schema with these properties (extra keys refused when ``strict``)."""
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": not strict}
    if required:
        schema["required"] = required
    return schema


def _uninspectable(func: Callable[..., Any], schema_name: str, exc: Exception) -> None:
    logger.warning("cannot generate schema %r: %r has no inspectable signature (%s)", schema_name, func, exc)


def _inspect(func: Callable[..., Any], schema_name: str) -> tuple[inspect.Signature, dict[str, Any]] | None:
    try:
        return callable_signature(func), resolve_type_hints(hint_target(func))
    except (TypeError, ValueError) as exc:
        _uninspectable(func, schema_name, exc)
        return None


def generate_json_schema_from_function(
    func: Callable[..., Any], schema_name: str, strict_schema: bool = False
) -> dict[str, Any] | None:
    """``{"input": <schema>, "output": <schema>}`` for ``func``, as the official generator answers
    (``schema_name`` is used in log messages), or None when ``func`` has no inspectable signature.

    Its rules: ``input`` is None as soon as one parameter is unannotated or has an annotation it
    cannot describe (a Union of several types, a plain class, ``Task``); ``output`` describes the
    return annotation itself (``-> str`` gives ``{"type": "string"}``; from a Union, the first dict
    or dataclass member), or is None without one. Annotations written as strings
    (``from __future__ import annotations``) are resolved first, where the official generator
    gives up. The schemas registered with a task definition go further (see
    ``generate_input_json_schema_from_function`` and ``generate_output_json_schema_from_function``).
    """
    try:
        signature = callable_signature(func)
    except (TypeError, ValueError) as exc:
        _uninspectable(func, schema_name, exc)
        return None
    signature = _with_resolved_strings(func, signature)
    return {
        "input": _generate_input_schema(signature, schema_name, strict_schema),
        "output": _generate_output_schema(signature.return_annotation, schema_name, strict_schema),
    }


def _with_resolved_strings(func: Callable[..., Any], signature: inspect.Signature) -> inspect.Signature:
    """``signature`` with its string annotations evaluated (others are kept exactly as written, so
    ``-> None`` stays None as the official generator sees it)."""
    annotations = [p.annotation for p in signature.parameters.values()] + [signature.return_annotation]
    if not any(isinstance(a, str) for a in annotations):
        return signature
    hints = resolve_type_hints(hint_target(func))
    parameters = [
        p.replace(annotation=hints.get(p.name, p.annotation)) if isinstance(p.annotation, str) else p
        for p in signature.parameters.values()
    ]
    returned = signature.return_annotation
    if isinstance(returned, str):
        returned = hints.get("return", returned)
        if returned is NoneType:
            returned = None
    return signature.replace(parameters=parameters, return_annotation=returned)


def generate_input_json_schema_from_function(
    func: Callable[..., Any], schema_name: str, strict_schema: bool = False
) -> dict[str, Any] | None:
    """The draft-07 input schema for ``func`` (``schema_name`` is used in log messages), or None
    when ``func`` has no inspectable signature."""
    inspected = _inspect(func, schema_name)
    if inspected is None:
        return None
    signature, hints = inspected
    fields: list[tuple[str, Any, bool]] = []
    takes_kwargs = False
    for p in signature.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            takes_kwargs = True
            continue
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        tp = hints.get(p.name, Any) if p.annotation is not inspect.Parameter.empty else Any
        if tp is Task:
            continue
        if p.default is None and tp is not Any and not split_optional(tp)[1]:
            tp = make_union([tp, NoneType])  # `x: str = None` accepts null (as Python 3.10 infers)
        fields.append((p.name, tp, p.default is not inspect.Parameter.empty))
    schema = {"$schema": DRAFT_07, **_SchemaBuilder(strict_schema).object_schema(fields)}
    if takes_kwargs:
        schema["additionalProperties"] = True  # **kwargs accepts any extra input
    return schema


def generate_output_json_schema_from_function(
    func: Callable[..., Any], schema_name: str, strict_schema: bool = False
) -> dict[str, Any] | None:
    """The draft-07 schema of the task output ``func`` produces, or None when its return type
    says nothing (missing, ``Any``, or only None/TaskInProgress/TaskResult)."""
    inspected = _inspect(func, schema_name)
    if inspected is None:
        return None
    tp = inspected[1].get("return", Any)
    members = union_members(tp)
    if members is not None:
        kept = [m for m in members if m not in _NOT_OUTPUT]
        if not kept:
            return None
        tp = make_union(kept)
    elif tp in _NOT_OUTPUT or tp is Any:
        return None
    builder = _SchemaBuilder(strict_schema)
    inner, _ = split_optional(tp)
    if is_dataclass_type(inner) or inner in _OBJECT_ORIGINS or typing.get_origin(inner) in _OBJECT_ORIGINS:
        body = builder.schema(inner)
    else:
        body = builder.object_schema([("result", tp, False)])
    return {"$schema": DRAFT_07, **body}


# The official generator's private helpers, under their official names and signatures, for code
# and tests written against it. They keep its all-or-nothing rule: None for an annotation it cannot
# describe (a Union of several types, a tuple, a plain class, a dataclass with such a field), and
# the whole input schema is None when one parameter is unannotated or cannot be described. The
# generator above describes those instead (see generate_json_schema_from_function).
_OFFICIAL_SIMPLE: dict[Any, dict[str, Any]] = {**_SIMPLE, dict: {"type": "object"}, list: {"type": "array"}}


def _type_to_json_schema(type_hint: Any, strict_schema: bool = False) -> dict[str, Any] | None:
    """The official generator's schema for one annotation, or None where it gives up."""
    origin = typing.get_origin(type_hint)
    members = union_members(type_hint)
    if members is not None:
        kept = [m for m in members if m is not NoneType]
        if len(kept) != 1:
            return None
        inner = _type_to_json_schema(kept[0], strict_schema)
        if inner is None or inner == {}:
            return inner
        return {"anyOf": [inner, {"type": "null"}]}
    if origin is list:
        args = typing.get_args(type_hint)
        items = _type_to_json_schema(args[0], strict_schema) if args else None
        return {"type": "array", "items": items} if items else {"type": "array"}
    if origin is dict:
        args = typing.get_args(type_hint)
        value = _type_to_json_schema(args[1], strict_schema) if len(args) == 2 and args[0] is str else None
        return {"type": "object", "additionalProperties": value} if value else {"type": "object"}
    try:
        simple = _OFFICIAL_SIMPLE.get(type_hint)
    except TypeError:  # an unhashable annotation describes nothing known
        return None
    if simple is not None:
        return dict(simple)
    if is_dataclass_type(type_hint):
        hints = resolve_type_hints(type_hint)
        fields = ((f.name, hints.get(f.name, f.type), not field_has_default(f)) for f in dataclasses.fields(type_hint))
        return _official_object(fields, strict_schema)
    if type_hint is Any:
        return {}
    return None


def _generate_input_schema(
    sig: inspect.Signature, schema_name: str, strict_schema: bool = False
) -> dict[str, Any] | None:
    """The official generator's input schema for ``sig`` (``schema_name`` is unused there too):
    None as soon as one parameter is unannotated or cannot be described (an unannotated one's
    ``Parameter.empty`` describes nothing)."""
    fields = (
        (name, p.annotation, p.default is inspect.Parameter.empty and not split_optional(p.annotation)[1])
        for name, p in sig.parameters.items()
    )
    body = _official_object(fields, strict_schema)
    return None if body is None else {"$schema": DRAFT_07, **body}


def _official_object(fields: Iterable[tuple[str, Any, bool]], strict_schema: bool) -> dict[str, Any] | None:
    """The official generator's object of ``(name, annotation, required)`` fields: None as soon as
    one field cannot be described."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, annotation, is_required_field in fields:
        field_schema = _type_to_json_schema(annotation, strict_schema)
        if field_schema is None:
            return None
        properties[name] = field_schema
        if is_required_field:
            required.append(name)
    return _object_schema(properties, required, strict_schema)


def _generate_output_schema(
    return_annotation: Any, schema_name: str, strict_schema: bool = False
) -> dict[str, Any] | None:
    """The official generator's output schema for a return annotation: the first dict or dataclass
    member of a Union, None without an annotation or where it gives up."""
    if return_annotation is inspect.Signature.empty:
        return None
    members = union_members(return_annotation)
    if members is not None:
        for member in members:
            if member is dict or typing.get_origin(member) is dict or is_dataclass_type(member):
                return_annotation = member
                break
    body = _type_to_json_schema(return_annotation, strict_schema)
    return None if body is None else {"$schema": DRAFT_07, **body}


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


class _Driven:
    """The steps of one registration as a driver sees them: ``call`` is the next client call (None
    once done, ``report`` then set); the driver answers it with ``reply`` or ``fail``."""

    def __init__(self, worker: WorkerInterface, config: WorkerConfig) -> None:
        self._steps = _guarded(worker, config)
        self.report: RegistrationReport | None = None
        self.call: _ClientCall | None = None
        self._resume(self._steps.send, None)

    def result(self) -> RegistrationReport:
        assert self.report is not None, "the registration has not ended"  # the loop ends only then
        return self.report

    def reply(self, outcome: Any) -> None:
        self._resume(self._steps.send, outcome)

    def fail(self, exc: Exception) -> None:
        self._resume(self._steps.throw, exc)

    def _resume(self, step: Callable[[Any], _ClientCall], value: Any) -> None:
        try:
            self.call = step(value)
        except StopIteration as done:
            self.call, self.report = None, done.value


def register_task_definition(client: Any, worker: WorkerInterface, config: WorkerConfig) -> RegistrationReport:
    """Register ``worker``'s task definition with a ``ConductorClient``, in the calling thread.

    Never raises (failures are WARNING logs and ``report.warnings``).
    """
    driven = _Driven(worker, config)
    while (call := driven.call) is not None:
        try:
            outcome = getattr(client, call.method)(*call.args)
        except Exception as exc:
            driven.fail(exc)
        else:
            driven.reply(outcome)
    return driven.result()


async def register_task_definition_async(
    client: Any, worker: WorkerInterface, config: WorkerConfig
) -> RegistrationReport:
    """Register ``worker``'s task definition with an ``AsyncConductorClient``, on the running loop.

    Never raises (failures are WARNING logs and ``report.warnings``).
    """
    driven = _Driven(worker, config)
    while (call := driven.call) is not None:
        try:
            outcome = await getattr(client, call.method)(*call.args)
        except Exception as exc:
            driven.fail(exc)
        else:
            driven.reply(outcome)
    return driven.result()
