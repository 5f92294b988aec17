"""Type-hint helpers shared by input binding and JSON-schema generation.

Hints are resolved with ``typing.get_type_hints`` so ``from __future__ import annotations`` works;
an annotation that cannot be resolved (a name imported only under ``TYPE_CHECKING``) becomes
``Any`` with a warning instead of breaking the whole worker. Pure functions; any thread.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import logging
import operator
import sys
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, Union

__all__ = [
    "NoneType",
    "callable_signature",
    "describe_type",
    "hint_target",
    "is_dataclass_type",
    "is_enum_type",
    "is_plain_class",
    "make_union",
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
