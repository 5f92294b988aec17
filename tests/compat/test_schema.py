"""``generate_json_schema_from_function`` returns the official ``{"input": ..., "output": ...}``, and
the output schema describes the return annotation as the official generator does."""

# ruff: noqa: UP006, UP007, UP035, UP045 - the typing-module spellings are what official-SDK code writes

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Union

from conductor_actors.worker import TaskInProgress, generate_json_schema_from_function

DRAFT = "http://json-schema.org/draft-07/schema#"


@dataclass
class Receipt:
    order_id: str
    total: float = 0.0


def charge(order_id: str, amount: float, note: Optional[str] = None) -> dict:
    return {}


def shout(text: str) -> str:
    return text.upper()


def count(items: List[int]) -> int:
    return len(items)


def receipt(order_id: str) -> Receipt:
    return Receipt(order_id)


def maybe_later(order_id: str) -> Union[dict, TaskInProgress]:
    return {}


def nothing(order_id: str) -> None:
    return None


def unannotated_return(order_id: str):  # no return annotation: the point of the test
    return {}


def typed_dict(order_id: str) -> Dict[str, int]:
    return {}


def test_the_official_shape_with_input_and_output() -> None:
    schema = generate_json_schema_from_function(charge, "charge")
    assert set(schema) == {"input", "output"}
    assert schema["input"] == {
        "$schema": DRAFT,
        "type": "object",
        "properties": {
            "order_id": {"type": "string"},
            "amount": {"type": "number"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["order_id", "amount"],
        "additionalProperties": True,
    }
    assert schema["output"] == {"$schema": DRAFT, "type": "object"}
    assert generate_json_schema_from_function(charge, "charge", strict_schema=True)["input"][
        "additionalProperties"] is False


def test_a_scalar_return_type_is_described_as_itself() -> None:
    assert generate_json_schema_from_function(shout, "shout")["output"] == {"$schema": DRAFT, "type": "string"}
    assert generate_json_schema_from_function(count, "count")["output"] == {"$schema": DRAFT, "type": "integer"}


def test_object_return_types() -> None:
    assert generate_json_schema_from_function(receipt, "receipt")["output"] == {
        "$schema": DRAFT,
        "type": "object",
        "properties": {"order_id": {"type": "string"}, "total": {"type": "number"}},
        "required": ["order_id"],
        "additionalProperties": True,
    }
    assert generate_json_schema_from_function(maybe_later, "later")["output"] == {"$schema": DRAFT, "type": "object"}
    assert generate_json_schema_from_function(typed_dict, "typed")["output"] == {
        "$schema": DRAFT, "type": "object", "additionalProperties": {"type": "integer"}}


def test_no_output_schema_without_a_describable_return() -> None:
    assert generate_json_schema_from_function(nothing, "nothing")["output"] is None
    assert generate_json_schema_from_function(unannotated_return, "bare")["output"] is None
