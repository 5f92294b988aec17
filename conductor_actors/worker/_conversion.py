"""JSON values -> annotated Python types (the input-binding rules), and the type-hint helpers.

Type hints are resolved with ``typing.get_type_hints`` so ``from __future__ import annotations``
works; an annotation that cannot be resolved (a name imported only under ``TYPE_CHECKING``) becomes
``Any`` with a warning instead of breaking the whole worker. Input binding and JSON-schema
generation share these helpers.

``converter_for(tp)`` returns a function ``(value, path) -> converted`` built once per type, or None
when the value passes through unchanged (``Any``, unannotated, unsupported annotations). Rules:
dataclasses (nested, with defaults), ``Optional``, ``list[T]``, ``dict[K, V]``, unions, enums,
``Literal``, and str/int/float/bool (int accepts integral floats and numeric strings, float accepts
ints and numeric strings, str accepts numbers, bool accepts "true"/"false"). A value that does not
fit raises ``ConversionError`` naming the input path, the expected type and what arrived. Pure
functions; any thread.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import functools
import inspect
import logging
import math
import operator
import sys
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, Literal, Union

__all__ = [
    "ConversionError",
    "Converter",
    "FieldPlan",
    "NoneType",
    "callable_signature",
    "convert_field",
    "converter_for",
    "describe_type",
    "describe_value",
    "field_has_default",
    "field_plan",
    "hint_target",
    "is_dataclass_type",
    "is_enum_type",
    "is_plain_class",
    "is_required",
    "make_union",
    "missing",
    "resolve_type_hints",
    "split_optional",
    "union_members",
]

logger = logging.getLogger("conductor_actors.worker")

NoneType = type(None)


def hint_target(func: Callable[..., Any]) -> Any:
    """The object whose annotations describe calling ``func`` (the function, or ``__call__``)."""
    if inspect.isfunction(func) or inspect.ismethod(func) or inspect.isclass(func):
        return func
    if isinstance(func, functools.partial):
        return hint_target(func.func)
    return type(func).__call__


def callable_signature(func: Callable[..., Any]) -> inspect.Signature:
    """``inspect.signature`` (follows functools.wraps); raises ``TypeError``/``ValueError``."""
    return inspect.signature(func)


def resolve_type_hints(obj: Any) -> dict[str, Any]:
    """The evaluated annotations of a function or class (``Annotated`` extras stripped)."""
    try:
        return typing.get_type_hints(obj)
    except Exception as exc:
        return _resolve_one_by_one(obj, exc)


def _resolve_one_by_one(obj: Any, error: Exception) -> dict[str, Any]:
    if inspect.isclass(obj):
        raw = {}
        for klass in reversed(obj.__mro__):
            raw.update(inspect.get_annotations(klass))
        module = sys.modules.get(obj.__module__)
        namespace = dict(vars(module)) if module is not None else {}
        namespace.update({obj.__name__: obj})
    else:
        raw = dict(getattr(obj, "__annotations__", {}) or {})
        namespace = dict(getattr(inspect.unwrap(obj), "__globals__", {}))
    hints: dict[str, Any] = {}
    for name, annotation in raw.items():
        if not isinstance(annotation, str):
            hints[name] = annotation
            continue
        try:
            hints[name] = eval(annotation, namespace)  # the user's own annotation text
        except Exception:
            logger.warning(
                "cannot resolve the annotation %r of %r on %s (%s); treating it as Any",
                annotation,
                name,
                getattr(obj, "__qualname__", obj),
                error,
            )
            hints[name] = Any
    return hints


def union_members(tp: Any) -> tuple[Any, ...] | None:
    """The members of ``Union[...]``/``A | B``, else None."""
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return typing.get_args(tp)
    return None


def split_optional(tp: Any) -> tuple[Any, bool]:
    """``(T, True)`` for ``Optional[T]`` / ``T | None``; ``(tp, False)`` otherwise."""
    members = union_members(tp)
    if members is None or NoneType not in members:
        return tp, tp is NoneType
    rest = tuple(m for m in members if m is not NoneType)
    if not rest:
        return NoneType, True
    return make_union(rest), True


def make_union(members: Sequence[Any]) -> Any:
    """``A | B | ...`` built at run time (a single member is returned as is)."""
    return functools.reduce(operator.or_, members)


def describe_type(tp: Any) -> str:
    """A short readable name for a type: ``float``, ``list[int]``, ``int | None``."""
    if tp is Any:
        return "Any"
    if tp is NoneType:
        return "None"
    members = union_members(tp)
    if members is not None:
        return " | ".join(describe_type(m) for m in members)
    origin = typing.get_origin(tp)
    if origin is not None:
        args = typing.get_args(tp)
        base = getattr(origin, "__name__", str(origin).replace("typing.", ""))
        return f"{base}[{', '.join(describe_type(a) for a in args)}]" if args else base
    if is_plain_class(tp):
        return tp.__name__
    return str(tp).replace("typing.", "")


def is_plain_class(tp: Any) -> bool:
    """True for a class, not a parametrised generic (``list[int]`` passes ``isinstance(.., type)``
    on Python 3.10)."""
    return isinstance(tp, type) and typing.get_origin(tp) is None


def is_enum_type(tp: Any) -> bool:
    """True for an ``enum.Enum`` subclass."""
    return is_plain_class(tp) and issubclass(tp, enum.Enum)


def is_dataclass_type(tp: Any) -> bool:
    """True for a dataclass class (not an instance)."""
    return is_plain_class(tp) and dataclasses.is_dataclass(tp)


Converter = Callable[[Any, str], Any]

_LIST_ORIGINS = frozenset({list, collections.abc.Sequence, collections.abc.MutableSequence, collections.abc.Iterable})
_DICT_ORIGINS = frozenset({dict, collections.abc.Mapping, collections.abc.MutableMapping})


class ConversionError(ValueError):
    """An input value does not fit its parameter's type; ``str()`` is the task's failure reason."""


def describe_value(value: Any) -> str:
    """``str 'abc'`` / ``list [1, 2]``: the type and a short repr of what arrived."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return "None" if value is None else f"{type(value).__name__} {text}"


def mismatch(path: str, expected: str, value: Any) -> ConversionError:
    return ConversionError(f"input '{path}': expected {expected}, got {describe_value(value)}")


def missing(path: str, expected: str, what: str = "input") -> ConversionError:
    return ConversionError(f"input '{path}': missing required {what} (expected {expected})")


def _to_str(value: Any, path: str) -> str:
    if type(value) is str:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise mismatch(path, "str", value)


def _number_from_text(value: str) -> float | None:
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _to_int(value: Any, path: str) -> int:
    if type(value) is int:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            number = _number_from_text(value)
            if number is not None and number.is_integer():
                return int(number)
    raise mismatch(path, "int", value)


def _to_float(value: Any, path: str) -> float:
    if type(value) is float:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        number = _number_from_text(value)
        if number is not None:
            return number
    raise mismatch(path, "float", value)


def _to_bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "false"):
            return text == "true"
    raise mismatch(path, "bool", value)


def _to_none(value: Any, path: str) -> None:
    if value is not None:
        raise mismatch(path, "None", value)


_SIMPLE: dict[Any, Converter] = {str: _to_str, int: _to_int, float: _to_float, bool: _to_bool, NoneType: _to_none}


def converter_for(tp: Any, memo: dict[Any, Converter | None] | None = None) -> Converter | None:
    """The converter for annotation ``tp`` (None = pass through). Raises nothing."""
    memo = {} if memo is None else memo
    try:
        if tp in memo:
            return memo[tp]
    except TypeError:  # an unhashable annotation object: build it without memoising
        return _build(tp, memo)
    conv = _build(tp, memo)
    memo[tp] = conv
    return conv


def _build(tp: Any, memo: dict[Any, Converter | None]) -> Converter | None:
    if tp is Any or tp is object:
        return None
    simple = _SIMPLE.get(tp)
    if simple is not None:
        return simple
    inner, nullable = split_optional(tp)
    if nullable and inner is not NoneType:
        return _optional(converter_for(inner, memo))
    members = union_members(tp)
    if members is not None:
        return _union(members, describe_type(tp), memo)
    if is_enum_type(tp):
        return _enum(tp)
    if is_dataclass_type(tp):
        return _dataclass(tp, memo)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Literal:
        return _literal(args, describe_type(tp))
    if tp in _LIST_ORIGINS or origin in _LIST_ORIGINS:
        return _list(converter_for(args[0], memo) if args else None, describe_type(tp))
    if tp in _DICT_ORIGINS or origin in _DICT_ORIGINS:
        key = converter_for(args[0], memo) if len(args) == 2 else None
        value = converter_for(args[1], memo) if len(args) == 2 else None
        return _dict(key, value, describe_type(tp))
    return None


def _optional(inner: Converter | None) -> Converter | None:
    if inner is None:
        return None

    def convert(value: Any, path: str) -> Any:
        return None if value is None else inner(value, path)

    return convert


def _union(members: tuple[Any, ...], expected: str, memo: dict[Any, Converter | None]) -> Converter | None:
    converters = [converter_for(m, memo) for m in members]
    if any(c is None for c in converters):
        return None
    exact = tuple(m for m in members if is_plain_class(m))

    def convert(value: Any, path: str) -> Any:
        if type(value) in exact:
            return value
        for conv in converters:
            try:
                return conv(value, path)  # type: ignore[misc]
            except ConversionError:
                continue
        raise mismatch(path, expected, value)

    return convert


def _enum(cls: type[enum.Enum]) -> Converter:
    expected = f"{cls.__name__} (one of {', '.join(repr(m.value) for m in cls)})"

    def convert(value: Any, path: str) -> Any:
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except (ValueError, TypeError):
            if isinstance(value, str) and value in cls.__members__:
                return cls[value]
        raise mismatch(path, expected, value)

    return convert


def _literal(choices: tuple[Any, ...], expected: str) -> Converter:
    def convert(value: Any, path: str) -> Any:
        if value in choices:
            return value
        raise mismatch(path, expected, value)

    return convert


def _list(item: Converter | None, expected: str) -> Converter:
    def convert(value: Any, path: str) -> Any:
        if not isinstance(value, list):
            raise mismatch(path, expected, value)
        if item is None:
            return value
        return [item(v, f"{path}[{i}]") for i, v in enumerate(value)]

    return convert


def _dict(key: Converter | None, item: Converter | None, expected: str) -> Converter:
    def convert(value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise mismatch(path, expected, value)
        if key is None and item is None:
            return value
        return {
            (k if key is None else key(k, f"{path}.{k}")): (v if item is None else item(v, f"{path}.{k}"))
            for k, v in value.items()
        }

    return convert


@dataclasses.dataclass(frozen=True)
class FieldPlan:
    """How one named value (a parameter or a dataclass field) is taken from a JSON object."""

    name: str
    convert: Converter | None
    expected: str
    required: bool
    #: None is accepted as the value (Optional, or the default is None).
    accepts_none: bool
    #: Missing and no default, but Optional: the value is None.
    none_when_missing: bool


def field_has_default(field: dataclasses.Field[Any]) -> bool:
    """Whether a dataclass field has a default (a value or a factory)."""
    return field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING


def is_required(tp: Any, has_default: bool) -> bool:
    """A named value must be present unless it has a default, is Optional, or is ``Any``."""
    return not has_default and not split_optional(tp)[1] and tp is not Any


def field_plan(name: str, tp: Any, has_default: bool, default: Any, memo: dict[Any, Converter | None]) -> FieldPlan:
    """Plan for a value named ``name`` annotated ``tp`` (``Any`` when unannotated)."""
    _, nullable = split_optional(tp)
    return FieldPlan(
        name=name,
        convert=converter_for(tp, memo),
        expected=describe_type(tp),
        required=is_required(tp, has_default),
        accepts_none=nullable or (has_default and default is None) or tp is Any,
        none_when_missing=not has_default and (nullable or tp is Any),
    )


def convert_field(plan: FieldPlan, value: Any, path: str) -> Any:
    """Convert a present value according to ``plan``."""
    if value is None and plan.accepts_none:
        return None
    return value if plan.convert is None else plan.convert(value, path)


class _DataclassConverter:
    """Builds a dataclass from a JSON object, converting each field (nested, defaults apply)."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.fields: list[FieldPlan] = []

    def __call__(self, value: Any, path: str) -> Any:
        if isinstance(value, self.cls):
            return value
        if not isinstance(value, dict):
            raise mismatch(path, self.cls.__name__, value)
        kwargs: dict[str, Any] = {}
        for plan in self.fields:
            sub_path = f"{path}.{plan.name}"
            if plan.name in value:
                kwargs[plan.name] = convert_field(plan, value[plan.name], sub_path)
            elif plan.required:
                raise missing(sub_path, plan.expected, "field")
            elif plan.none_when_missing:
                kwargs[plan.name] = None
        try:
            return self.cls(**kwargs)
        except Exception as exc:
            raise ConversionError(f"input '{path}': cannot build {self.cls.__name__}: {exc}") from exc


def _dataclass(cls: type, memo: dict[Any, Converter | None]) -> Converter:
    conv = _DataclassConverter(cls)
    memo[cls] = conv  # before the fields: a recursive dataclass refers back to this converter
    hints = resolve_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        default = f.default if f.default is not dataclasses.MISSING else dataclasses.MISSING
        conv.fields.append(field_plan(f.name, hints.get(f.name, Any), field_has_default(f), default, memo))
    return conv

