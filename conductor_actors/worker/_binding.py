"""Binding a task's input to a worker function's parameters (the plan is built once per process).

Parameters are bound by name from ``task.input_data`` and converted by their annotation (see
``_conversion``); a parameter annotated ``Task`` receives the task itself; defaults apply for
missing keys; extra keys are ignored unless the function takes ``**kwargs``, which then receives
them. Unlike the official SDK, a single unannotated parameter gets its input value, not the Task.
Pure functions; the plan is immutable and may be shared by threads.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ..client import Task
from ._conversion import (
    ConversionError,
    Converter,
    FieldPlan,
    convert_field,
    field_plan,
    missing,
)
from ._introspection import callable_signature, hint_target, resolve_type_hints

__all__ = ["InputBinder"]


class _Param:
    __slots__ = ("default", "field", "is_task", "positional")

    def __init__(self, plan: FieldPlan, positional: bool, is_task: bool, default: Any) -> None:
        self.field = plan
        self.positional = positional
        self.is_task = is_task
        self.default = default


class InputBinder:
    """The precomputed plan for calling ``func`` with a task's input.

    Raises ``TypeError``/``ValueError`` when ``func`` has no inspectable signature.
    """

    __slots__ = ("_names", "_params", "_var_keyword")

    def __init__(self, func: Callable[..., Any]) -> None:
        signature = callable_signature(func)
        hints = resolve_type_hints(hint_target(func))
        memo: dict[Any, Converter | None] = {}
        params: list[_Param] = []
        var_keyword: FieldPlan | None = None
        for p in signature.parameters.values():
            tp = hints.get(p.name, Any) if p.annotation is not inspect.Parameter.empty else Any
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                continue
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                var_keyword = field_plan(p.name, tp, True, None, memo)
                continue
            has_default = p.default is not inspect.Parameter.empty
            is_task = tp is Task
            params.append(
                _Param(
                    field_plan(p.name, Any if is_task else tp, has_default, p.default if has_default else None, memo),
                    positional=p.kind is inspect.Parameter.POSITIONAL_ONLY,
                    is_task=is_task,
                    default=p.default,
                )
            )
        self._params = tuple(params)
        self._names = frozenset(p.field.name for p in params)
        self._var_keyword = var_keyword

    def bind(self, task: Task) -> tuple[list[Any], dict[str, Any]]:
        """Positional and keyword arguments for ``task``.

        Raises ``ConversionError`` (message = the task's failure reason) when the input is not a JSON
        object, a required input is missing, or a value cannot be converted.
        """
        data = task.input_data
        if data is None:
            data = {}
        elif not isinstance(data, dict):
            raise ConversionError(f"task input must be a JSON object, got {type(data).__name__}")
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param in self._params:
            plan = param.field
            if param.is_task:
                value: Any = task
            elif plan.name in data:
                value = convert_field(plan, data[plan.name], plan.name)
            elif plan.required:
                raise missing(plan.name, plan.expected)
            elif plan.none_when_missing:
                value = None
            elif param.positional:
                value = param.default
            else:
                continue
            if param.positional:
                args.append(value)
            else:
                kwargs[plan.name] = value
        extra = self._var_keyword
        if extra is not None:
            for key, raw in data.items():
                if key not in self._names:
                    kwargs[key] = convert_field(extra, raw, key)
        return args, kwargs
