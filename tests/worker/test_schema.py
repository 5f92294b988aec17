"""JSON schemas (draft-07) generated from type hints."""

# ruff: noqa: UP006, UP007, UP035, UP045 - the typing-module spellings are part of what is tested

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Literal, Optional, Union

from conductor_actors.client import Task
from conductor_actors.worker import TaskInProgress, generate_output_json_schema_from_function
from conductor_actors.worker._registration import generate_input_json_schema_from_function

DRAFT = "http://json-schema.org/draft-07/schema#"


@dataclass
class OrderInfo:
    order_id: str
    amount: float
    customer_id: int


def process_order(order: OrderInfo, priority: int = 1) -> dict:
    return {"status": "processed", "order_id": order.order_id}


def test_feature_document_order_info_example():
    assert generate_input_json_schema_from_function(process_order, "process_order_input") == {
        "$schema": DRAFT,
        "type": "object",
        "properties": {
            "order": {
                "type": "object",
                "properties": {
                    "order_id": {"type": "string"},
                    "amount": {"type": "number"},
                    "customer_id": {"type": "integer"},
                },
                "required": ["order_id", "amount", "customer_id"],
                "additionalProperties": True,
            },
            "priority": {"type": "integer"},
        },
        "required": ["order"],
        "additionalProperties": True,
    }
    assert generate_output_json_schema_from_function(process_order, "process_order_output") == {
        "$schema": DRAFT,
        "type": "object",
    }


def test_strict_schema_forbids_additional_properties():
    schema = generate_input_json_schema_from_function(process_order, "process_order_input", strict_schema=True)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["order"]["additionalProperties"] is False


class Tier(enum.Enum):
    GOLD = "gold"
    SILVER = "silver"


@dataclass
class Address:
    city: str
    zip_code: str = "0000"


@dataclass
class Customer:
    name: str
    address: Address
    nickname: Optional[str]
    tags: List[str] = field(default_factory=list)


def many_types(
    text: str,
    flag: bool,
    items: List[int],
    lookup: Dict[str, float],
    free: dict,
    anything: Any,
    untyped,
    maybe: Optional[str],
    either: Union[int, str],
    pipe: int | None,
    tier: Tier,
    mode: Literal["fast", "slow"],
    when: datetime,
    customer: Customer,
    task: Task,
    bare_list: list = None,  # noqa: RUF013
    *args: Any,
    **kwargs: Any,
) -> None:
    return None


def test_every_supported_type():
    schema = generate_input_json_schema_from_function(many_types, "many_input")
    props = schema["properties"]
    assert props["text"] == {"type": "string"}
    assert props["flag"] == {"type": "boolean"}
    assert props["items"] == {"type": "array", "items": {"type": "integer"}}
    assert props["lookup"] == {"type": "object", "additionalProperties": {"type": "number"}}
    assert props["free"] == {"type": "object"}  # a free-form dict, as the official generator writes it
    assert props["anything"] == {} and props["untyped"] == {}
    assert props["maybe"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert props["either"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert props["pipe"] == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert props["tier"] == {"enum": ["gold", "silver"]}
    assert props["mode"] == {"enum": ["fast", "slow"]}
    assert props["when"] == {}  # unsupported: permissive, the rest of the schema is kept
    assert props["bare_list"] == {"anyOf": [{"type": "array"}, {"type": "null"}]}  # default None: nullable
    assert props["customer"] == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "address": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "zip_code": {"type": "string"}},
                "required": ["city"],
                "additionalProperties": True,
            },
            "nickname": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "address"],
        "additionalProperties": True,
    }
    assert "task" not in props and "args" not in props and "kwargs" not in props
    # Optional and defaulted parameters are not required; Any/unannotated are not either
    assert schema["required"] == ["text", "flag", "items", "lookup", "free", "either", "tier", "mode", "when",
                                  "customer"]
    assert schema["additionalProperties"] is True  # **kwargs accepts extra input even when strict
    assert generate_input_json_schema_from_function(many_types, "x", strict_schema=True)["additionalProperties"] is True


def no_parameters() -> int:
    return 1


def test_no_parameters_and_scalar_output():
    assert generate_input_json_schema_from_function(no_parameters, "none_input") == {
        "$schema": DRAFT,
        "type": "object",
        "properties": {},
        "additionalProperties": True,
    }
    assert generate_output_json_schema_from_function(no_parameters, "none_output") == {
        "$schema": DRAFT,
        "type": "object",
        "properties": {"result": {"type": "integer"}},
        "required": ["result"],
        "additionalProperties": True,
    }


@dataclass
class Receipt:
    total: float
    lines: List[str] = field(default_factory=list)


def returns_union(x: int) -> Union[Receipt, TaskInProgress, None]:
    return None


def returns_typed_dict(x: int) -> Dict[str, int]:
    return {}


def returns_nothing(x: int) -> None:
    return None


def returns_progress_only(x: int) -> TaskInProgress:
    return TaskInProgress()


def unannotated_return(x: int):
    return {}


def returns_list(x: int) -> List[str]:
    return []


def test_output_schemas():
    assert generate_output_json_schema_from_function(returns_union, "o", strict_schema=True) == {
        "$schema": DRAFT,
        "type": "object",
        "properties": {"total": {"type": "number"}, "lines": {"type": "array", "items": {"type": "string"}}},
        "required": ["total"],
        "additionalProperties": False,
    }
    assert generate_output_json_schema_from_function(returns_typed_dict, "o") == {
        "$schema": DRAFT,
        "type": "object",
        "additionalProperties": {"type": "integer"},
    }
    assert generate_output_json_schema_from_function(returns_list, "o")["properties"] == {
        "result": {"type": "array", "items": {"type": "string"}}
    }
    for func in (returns_nothing, returns_progress_only, unannotated_return):
        assert generate_output_json_schema_from_function(func, "o") is None


@dataclass
class TreeNode:
    value: int
    children: List[TreeNode] = field(default_factory=list)


def takes_tree(tree: TreeNode) -> dict:
    return {}


def test_recursive_dataclass_does_not_loop():
    tree = generate_input_json_schema_from_function(takes_tree, "tree_input")["properties"]["tree"]
    assert tree["properties"]["children"] == {"type": "array", "items": {}}


class NoSignature:
    __signature__ = "not a signature"  # inspect.signature raises TypeError

    def __call__(self, x: int) -> dict:
        return {}


def test_uninspectable_callable_gives_none(caplog):
    with caplog.at_level("WARNING", logger="conductor_actors.worker"):
        assert generate_input_json_schema_from_function(NoSignature(), "odd_input") is None
        assert generate_output_json_schema_from_function(NoSignature(), "odd_output") is None
    assert "odd_input" in caplog.text


PLAIN = """
from dataclasses import dataclass
from typing import Optional

@dataclass
class Item:
    sku: str
    qty: int = 1

def plain(item: Item, note: Optional[str] = None) -> Item:
    return item
"""


def test_schema_without_future_import(write_module):
    write_module("plain_schema_mod.py", PLAIN)
    import plain_schema_mod

    schema = generate_input_json_schema_from_function(plain_schema_mod.plain, "plain_input")
    assert schema["properties"]["item"]["properties"] == {"sku": {"type": "string"}, "qty": {"type": "integer"}}
    assert schema["required"] == ["item"]
    output = generate_output_json_schema_from_function(plain_schema_mod.plain, "plain_output")
    assert output["required"] == ["sku"]
