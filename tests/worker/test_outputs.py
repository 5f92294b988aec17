"""Outputs: dataclasses nested anywhere in what a worker returns become dicts; enums become their
values; what JSON cannot carry is named."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

from conductor_actors.client import TaskResult, TaskResultStatus
from conductor_actors.worker import TaskInProgress, get_task_context


@dataclass
class OrderInfo:
    order_id: str
    amount: float


@dataclass
class Shipment:
    order: OrderInfo
    parcels: list[OrderInfo] = field(default_factory=list)
    tags: tuple[str, ...] = ()


class Colour(enum.Enum):
    RED = "red"


class Size(str, enum.Enum):
    LARGE = "large"


class Priority(enum.IntEnum):
    HIGH = 1


@dataclass
class Stamped:
    when: Any


@dataclass
class Node:
    name: str
    next: Any = None


ORDER = {"order_id": "o-1", "amount": 9.5}


def returns_dataclass_in_dict() -> dict:
    return {"order": OrderInfo("o-1", 9.5), "status": "processed"}


def returns_list_of_dataclasses() -> list:
    return [OrderInfo("o-1", 9.5), OrderInfo("o-2", 1.0)]


def returns_deep_mixture() -> dict:
    shipment = Shipment(OrderInfo("o-1", 9.5), parcels=[OrderInfo("o-2", 1.0)], tags=("fragile",))
    return {"batches": [{"shipments": (shipment,)}], "count": 1}


def returns_in_progress_with_dataclass() -> TaskInProgress:
    return TaskInProgress(callback_after_seconds=5, output={"order": OrderInfo("o-1", 9.5)})


def returns_task_result_with_dataclass() -> TaskResult:
    return TaskResult(status=TaskResultStatus.COMPLETED, output_data={"orders": [OrderInfo("o-1", 9.5)]})


def sets_output_with_dataclass() -> dict:
    get_task_context().set_output({"progress": OrderInfo("o-1", 9.5)})
    return {"done": True}


def sets_output_with_dataclass_then_fails() -> dict:
    get_task_context().set_output({"partial": [OrderInfo("o-1", 9.5)]})
    raise RuntimeError("late failure")


def returns_json_enums_nested() -> dict:
    return {"size": Size.LARGE, "priority": [Priority.HIGH]}


def returns_plain_enum_nested() -> dict:
    return {"order": {"colour": Colour.RED}}


def returns_plain_enum() -> Colour:
    return Colour.RED


class Opaque:
    """An object JSON cannot carry."""


def returns_opaque_in_dataclass_in_list() -> list:
    return [Stamped(Opaque())]


def returns_cycle_through_dataclass() -> dict:
    first = Node("a")
    first.next = Node("b", next={"back": first})
    return {"head": first}


def wire_output(outcome: Any) -> Any:
    """The output as the server will receive it (the update request's JSON body)."""
    return json.loads(json.dumps(outcome.result.to_wire()))["outputData"]


def test_a_dataclass_in_a_returned_dict_becomes_a_dict(run_task):
    outcome = run_task(returns_dataclass_in_dict)
    assert outcome.result.status is TaskResultStatus.COMPLETED and outcome.failed is False
    expected = {"order": ORDER, "status": "processed"}
    assert outcome.result.output_data == expected
    assert wire_output(outcome) == expected
    assert outcome.output_size_bytes == len(json.dumps(expected, separators=(",", ":")).encode())


def test_a_returned_list_of_dataclasses_becomes_a_list_of_dicts(run_task):
    outcome = run_task(returns_list_of_dataclasses)
    assert outcome.result.output_data == {"result": [ORDER, {"order_id": "o-2", "amount": 1.0}]}
    assert outcome.failed is False


def test_dataclasses_inside_dataclasses_lists_and_tuples_are_converted(run_task):
    outcome = run_task(returns_deep_mixture)
    shipment = {"order": ORDER, "parcels": [{"order_id": "o-2", "amount": 1.0}], "tags": ["fragile"]}
    assert outcome.result.output_data == {"batches": [{"shipments": [shipment]}], "count": 1}
    assert wire_output(outcome) == outcome.result.output_data


def test_task_in_progress_output_is_converted(run_task):
    outcome = run_task(returns_in_progress_with_dataclass)
    assert outcome.result.status is TaskResultStatus.IN_PROGRESS
    assert outcome.result.output_data == {"order": ORDER}


def test_a_returned_task_result_output_is_converted(run_task):
    outcome = run_task(returns_task_result_with_dataclass)
    assert outcome.result.output_data == {"orders": [ORDER]}


def test_set_output_values_are_converted(run_task):
    assert run_task(sets_output_with_dataclass).result.output_data == {"progress": ORDER, "done": True}


def test_set_output_values_are_converted_when_the_task_fails(run_task):
    result = run_task(sets_output_with_dataclass_then_fails).result
    assert result.status is TaskResultStatus.FAILED
    assert result.output_data == {"partial": [ORDER]}
    assert not any("set_output data dropped" in log.log for log in result.logs)


def test_str_and_int_enums_stay_json_values(run_task):
    outcome = run_task(returns_json_enums_nested)
    assert outcome.failed is False
    assert wire_output(outcome) == {"size": "large", "priority": [1]}


def test_a_plain_enum_becomes_its_value_nested_or_not(run_task):
    nested = run_task(returns_plain_enum_nested)
    assert nested.result.status is TaskResultStatus.COMPLETED and wire_output(nested) == {"order": {"colour": "red"}}
    top = run_task(returns_plain_enum)
    assert top.result.status is TaskResultStatus.COMPLETED and wire_output(top) == {"result": "red"}


def test_a_non_json_value_inside_a_nested_dataclass_is_named_with_its_path(run_task):
    outcome = run_task(returns_opaque_in_dataclass_in_list)
    assert outcome.result.status is TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert outcome.failed is True
    assert outcome.result.reason_for_incompletion == (
        "output is not JSON-serialisable: value at 'result[0].when' has type Opaque"
    )
    assert outcome.result.output_data == {}


def test_a_circular_reference_through_a_dataclass_is_named(run_task):
    outcome = run_task(returns_cycle_through_dataclass)
    assert outcome.result.status is TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert outcome.result.reason_for_incompletion == (
        "output is not JSON-serialisable: value at 'head.next.next.back' is a circular reference"
    )
