"""Input binding: parameters by name, type conversion, Task parameters, defaults, **kwargs.

This module uses ``from __future__ import annotations`` (every annotation is a string), so it also
shows that hints are resolved; ``test_binding_without_future_import`` covers plain annotations.
"""

# ruff: noqa: UP006, UP007, UP035, UP045 - the typing-module spellings are part of what is tested

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

import pytest

from conductor_actors.client import Task, TaskResultStatus
from conductor_actors.worker import BoundWorker, Worker, execute_async, execute_sync


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclass
class Address:
    city: str
    zip_code: str = "00000"


@dataclass
class Customer:
    name: str
    age: int
    address: Address
    tags: List[str] = field(default_factory=list)
    nickname: Optional[str] = None
    vip: bool = False


@dataclass
class Node:
    value: int
    children: list[Node] = field(default_factory=list)


def echo_types(
    s: str, i: int, f: float, b: bool, anything: Any, untyped, colour: Colour, level: Level
) -> dict:
    return {
        "s": [type(s).__name__, s],
        "i": [type(i).__name__, i],
        "f": [type(f).__name__, f],
        "b": [type(b).__name__, b],
        "anything": anything,
        "untyped": untyped,
        "colour": colour.name,
        "level": level.name,
    }


def take_customer(customer: Customer) -> dict:
    return {
        "type": type(customer).__name__,
        "address_type": type(customer.address).__name__,
        "city": customer.address.city,
        "zip": customer.address.zip_code,
        "age": customer.age,
        "tags": customer.tags,
        "nickname": customer.nickname,
        "vip": customer.vip,
    }


def take_collections(
    numbers: List[int], names: list[str], prices: Dict[str, float], mapping: dict[str, Address], raw: list
) -> dict:
    return {
        "numbers": numbers,
        "names": names,
        "prices": prices,
        "mapping": {k: [type(v).__name__, v.city] for k, v in mapping.items()},
        "raw": raw,
    }


def take_optionals(a: Optional[int], b: int | None = 5, c: Optional[Address] = None, d: str = None) -> dict:  # noqa: RUF013
    return {"a": a, "b": b, "c": None if c is None else c.city, "d": d}


def take_union(value: Union[int, str], other: int | float) -> dict:
    return {"value": [type(value).__name__, value], "other": [type(other).__name__, other]}


def take_task(task: Task, n: int = 0) -> dict:
    return {"task_id": task.task_id, "n": n}


def take_defaults(required: str, count: int = 3, label: str = "x") -> dict:
    return {"required": required, "count": count, "label": label}


def take_kwargs(known: int, **extra: Any) -> dict:
    return {"known": known, "extra": extra}


def take_typed_kwargs(**numbers: int) -> dict:
    return {"numbers": numbers}


def ignores_extras(only: int) -> dict:
    return {"only": only}


def positional_only(first: int, /, second: int = 2) -> dict:
    return {"first": first, "second": second}


def take_tree(tree: Node) -> dict:
    def total(node: Node) -> int:
        return node.value + sum(total(c) for c in node.children)

    return {"total": total(tree)}


def test_simple_types_convert(run_task):
    outcome = run_task(
        echo_types,
        {
            "s": 12.5,
            "i": "42",
            "f": 3,
            "b": "TRUE",
            "anything": {"k": [1]},
            "untyped": [None],
            "colour": "blue",
            "level": 2,
            "extra_key_is_ignored": 1,
        },
    )
    assert outcome.failed is False, outcome.result.reason_for_incompletion
    assert outcome.result.output_data == {
        "s": ["str", "12.5"],
        "i": ["int", 42],
        "f": ["float", 3.0],
        "b": ["bool", True],
        "anything": {"k": [1]},
        "untyped": [None],
        "colour": "BLUE",
        "level": "HIGH",
    }


@pytest.mark.parametrize(
    "given, expected",
    [({"i": 7.0}, 7), ({"i": " 8 "}, 8), ({"i": "9.0"}, 9), ({"f": "2.5"}, 2.5), ({"b": "false"}, False)],
)
def test_lenient_number_and_bool_forms(run_task, given, expected):
    data = {"s": "s", "i": 1, "f": 1.0, "b": True, "anything": 0, "untyped": 0, "colour": "red", "level": 1}
    data.update(given)
    out = run_task(echo_types, data).result.output_data
    key = next(iter(given))
    assert out[key][1] == expected


def test_enum_accepts_member_names(run_task):
    data = {"s": "s", "i": 1, "f": 1.0, "b": True, "anything": 0, "untyped": 0, "colour": "RED", "level": "LOW"}
    out = run_task(echo_types, data).result.output_data
    assert (out["colour"], out["level"]) == ("RED", "LOW")


def test_nested_dataclasses_with_defaults(run_task):
    outcome = run_task(take_customer, {"customer": {"name": "Ann", "age": "31", "address": {"city": "Oslo"}}})
    assert outcome.result.output_data == {
        "type": "Customer",
        "address_type": "Address",
        "city": "Oslo",
        "zip": "00000",
        "age": 31,
        "tags": [],
        "nickname": None,
        "vip": False,
    }


def test_recursive_dataclass(run_task):
    tree = {"value": 1, "children": [{"value": 2}, {"value": 3, "children": [{"value": "4"}]}]}
    assert run_task(take_tree, {"tree": tree}).result.output_data == {"total": 10}


def test_lists_and_dicts_convert_their_items(run_task):
    outcome = run_task(
        take_collections,
        {
            "numbers": ["1", 2.0, 3],
            "names": [1, "b"],
            "prices": {"a": 1, "b": "2.5"},
            "mapping": {"home": {"city": "Rome"}},
            "raw": [1, "x", None],
        },
    )
    assert outcome.result.output_data == {
        "numbers": [1, 2, 3],
        "names": ["1", "b"],
        "prices": {"a": 1.0, "b": 2.5},
        "mapping": {"home": ["Address", "Rome"]},
        "raw": [1, "x", None],
    }


def test_optionals(run_task):
    assert run_task(take_optionals, {}).result.output_data == {"a": None, "b": 5, "c": None, "d": None}
    out = run_task(take_optionals, {"a": "3", "b": None, "c": {"city": "Lima"}, "d": None}).result.output_data
    assert out == {"a": 3, "b": None, "c": "Lima", "d": None}


def test_unions_keep_exact_matches_then_convert(run_task):
    assert run_task(take_union, {"value": "5", "other": 2}).result.output_data == {
        "value": ["str", "5"],
        "other": ["int", 2],
    }
    assert run_task(take_union, {"value": 5, "other": 2.5}).result.output_data == {
        "value": ["int", 5],
        "other": ["float", 2.5],
    }
    assert run_task(take_union, {"value": 1.0, "other": "7"}).result.output_data == {
        "value": ["int", 1],
        "other": ["int", 7],
    }


def test_task_parameter_receives_the_task(run_task):
    assert run_task(take_task, {"n": "4", "task": "ignored"}).result.output_data == {"task_id": "task-1", "n": 4}


def test_defaults_apply_for_missing_keys(run_task):
    assert run_task(take_defaults, {"required": "r", "label": "y"}).result.output_data == {
        "required": "r",
        "count": 3,
        "label": "y",
    }


def test_kwargs_receive_the_extra_keys(run_task):
    out = run_task(take_kwargs, {"known": 1, "a": 2, "b": [3]}).result.output_data
    assert out == {"known": 1, "extra": {"a": 2, "b": [3]}}
    assert run_task(take_typed_kwargs, {"x": "1", "y": 2.0}).result.output_data == {"numbers": {"x": 1, "y": 2}}


def test_extra_keys_are_ignored_without_kwargs(run_task):
    assert run_task(ignores_extras, {"only": 1, "other": 2}).result.output_data == {"only": 1}


def test_positional_only_parameters(run_task):
    assert run_task(positional_only, {"first": 5}).result.output_data == {"first": 5, "second": 2}


# --- contract violations ------------------------------------------------------------------


@pytest.mark.parametrize(
    "func, data, reason",
    [
        (take_defaults, {}, "input 'required': missing required input (expected str)"),
        (take_union, {"value": 1, "other": "abc"}, "input 'other': expected int | float, got str 'abc'"),
        (ignores_extras, {"only": "abc"}, "input 'only': expected int, got str 'abc'"),
        (ignores_extras, {"only": 1.5}, "input 'only': expected int, got float 1.5"),
        (ignores_extras, {"only": True}, "input 'only': expected int, got bool True"),
        (ignores_extras, {"only": None}, "input 'only': expected int, got None"),
        (
            take_customer,
            {"customer": {"name": "A", "age": 1, "address": {"city": "X"}, "vip": "maybe"}},
            "input 'customer.vip': expected bool, got str 'maybe'",
        ),
        (
            take_customer,
            {"customer": {"name": "A", "address": {"city": "X"}}},
            "input 'customer.age': missing required field (expected int)",
        ),
        (take_customer, {"customer": "Ann"}, "input 'customer': expected Customer, got str 'Ann'"),
        (
            take_collections,
            {"numbers": [1, "two"], "names": [], "prices": {}, "mapping": {}, "raw": []},
            "input 'numbers[1]': expected int, got str 'two'",
        ),
        (
            take_collections,
            {"numbers": [], "names": [], "prices": {"a": "x"}, "mapping": {}, "raw": []},
            "input 'prices.a': expected float, got str 'x'",
        ),
        (
            take_collections,
            {"numbers": {}, "names": [], "prices": {}, "mapping": {}, "raw": []},
            "input 'numbers': expected list[int], got dict {}",
        ),
        (
            echo_types,
            {"s": [], "i": 1, "f": 1, "b": True, "anything": 1, "untyped": 1, "colour": "red", "level": 1},
            "input 's': expected str, got list []",
        ),
    ],
)
def test_contract_violations_fail_terminally_naming_the_input(run_task, func, data, reason):
    outcome = run_task(func, data)
    assert outcome.result.status is TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert outcome.failed is True
    assert outcome.result.reason_for_incompletion == reason
    assert isinstance(outcome.cause, ValueError)
    assert outcome.result.output_data == {}
    assert outcome.duration == 0.0


def test_enum_violation_lists_the_choices(run_task):
    data = {"s": "s", "i": 1, "f": 1.0, "b": True, "anything": 0, "untyped": 0, "colour": "green", "level": 1}
    reason = run_task(echo_types, data).result.reason_for_incompletion
    assert reason == "input 'colour': expected Colour (one of 'red', 'blue'), got str 'green'"


@pytest.mark.parametrize("data", [[1, 2], "text", 5])
def test_input_that_is_not_an_object_is_a_contract_violation(run_task, task_factory, data):
    outcome = run_task(ignores_extras, task=task_factory(data))
    assert outcome.result.status is TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert outcome.result.reason_for_incompletion.startswith("task input must be a JSON object")


PLAIN_MODULE = """
from dataclasses import dataclass
from typing import Optional, List

@dataclass
class Point:
    x: float
    y: float = 0.0

def plain(p: Point, names: List[str], n: Optional[int] = None) -> dict:
    return {"x": p.x, "y": p.y, "names": names, "n": n, "ptype": type(p).__name__}

async def plain_async(p: Point, names: List[str], n: Optional[int] = None) -> dict:
    return plain(p, names, n)
"""


def test_binding_without_future_import(write_module, flavour, task_factory):
    write_module("plain_hints_mod.py", PLAIN_MODULE)
    import plain_hints_mod

    func = plain_hints_mod.plain if flavour == "sync" else plain_hints_mod.plain_async
    bound = BoundWorker(Worker("plain", func), "w")
    task = task_factory({"p": {"x": "1.5"}, "names": [1, 2], "n": "7"})
    outcome = execute_sync(bound, task, lambda: False) if flavour == "sync" else asyncio.run(
        execute_async(bound, task, lambda: False)
    )
    assert outcome.result.output_data == {"x": 1.5, "y": 0.0, "names": ["1", "2"], "n": 7, "ptype": "Point"}


UNRESOLVABLE_MODULE = """
# ruff: noqa: UP006, UP007, UP035, UP045 - the typing-module spellings are part of what is tested

from __future__ import annotations
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from decimal import Decimal

def uses_hidden_type(amount: Decimal, count: int) -> dict:
    return {"amount": amount, "count": count}
"""


def test_unresolvable_annotation_passes_through_with_a_warning(write_module, task_factory, caplog):
    write_module("hidden_hint_mod.py", UNRESOLVABLE_MODULE)
    import hidden_hint_mod

    with caplog.at_level("WARNING", logger="conductor_actors.worker"):
        bound = BoundWorker(Worker("hidden", hidden_hint_mod.uses_hidden_type), "w")
    assert "Decimal" in caplog.text
    outcome = execute_sync(bound, task_factory({"amount": "1.25", "count": "2"}), lambda: False)
    assert outcome.result.output_data == {"amount": "1.25", "count": 2}
