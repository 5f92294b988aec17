"""Dates, UUIDs, decimals, enums, sets and bytes in a worker's output reach the server the way the
official SDK sends them (its API client's serialiser), in both flavours; an object JSON cannot
carry still fails the task for good, naming its type and where it is. Real HTTP to the dev server."""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from dataclasses import dataclass
from typing import Any

from _support.cli_apps import one_task_workflow

from conductor_actors import Worker
from conductor_actors.testing import InProcessWorkers, run_task


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@dataclass
class Shipment:
    shipped_at: datetime.datetime
    tracking: uuid.UUID


WHEN = datetime.datetime(2024, 5, 6, 7, 8, 9, 123000)
ID = uuid.UUID("12345678-1234-5678-1234-567812345678")

#: What the official SDK's serialiser sends for each value.
EXPECTED = {
    "when": "2024-05-06T07:08:09.123000",
    "aware": "2024-05-06T07:08:09+00:00",
    "day": "2024-05-06",
    "clock": "07:08:09",
    "wait": "0:01:30",
    "id": "12345678-1234-5678-1234-567812345678",
    "price": "19.90",
    "colour": "red",
    "level": 3,
    "tags": "{'a'}",
    "frozen": "frozenset({1})",
    "text": "héllo",
    "binary": "/w==",
    "pair": [1, "two"],
    "shipments": [{"shipped_at": "2024-05-06T07:08:09.123000", "tracking": "12345678-1234-5678-1234-567812345678"}],
}


def rich_output(order_id: str) -> dict:
    return {
        "when": WHEN,
        "aware": WHEN.replace(microsecond=0, tzinfo=datetime.timezone.utc),
        "day": WHEN.date(),
        "clock": WHEN.time().replace(microsecond=0),
        "wait": datetime.timedelta(seconds=90),
        "id": ID,
        "price": decimal.Decimal("19.90"),
        "colour": Colour.RED,
        "level": Level.HIGH,
        "tags": {"a"},
        "frozen": frozenset({1}),
        "text": "héllo".encode(),
        "binary": b"\xff",
        "pair": (1, "two"),
        "shipments": [Shipment(WHEN, ID)],
    }


async def rich_output_async(order_id: str) -> dict:
    return rich_output(order_id)


def returns_a_date(order_id: str) -> datetime.date:
    return WHEN.date()


async def returns_a_date_async(order_id: str) -> datetime.date:
    return WHEN.date()


class Opaque:
    """An object JSON cannot carry: the official SDK would send its attributes or its str()."""


def returns_an_object(order_id: str) -> dict:
    return {"ok": True, "nested": [{"thing": Opaque()}]}


async def returns_an_object_async(order_id: str) -> dict:
    return returns_an_object(order_id)


def by_flavour(flavour: str, sync_function: Any, async_function: Any) -> Any:
    return sync_function if flavour == "sync" else async_function


def test_official_conversions_reach_the_server(dev_server: Any, flavour: str) -> None:
    rich, dated = f"compat_rich_{flavour}", f"compat_date_{flavour}"
    flows = {name: one_task_workflow(dev_server, name, ["order_id"]) for name in (rich, dated)}
    with InProcessWorkers(dev_server) as workers:
        workers(Worker(rich, by_flavour(flavour, rich_output, rich_output_async)),
                Worker(dated, by_flavour(flavour, returns_a_date, returns_a_date_async)))
        runs = {name: workers.run_workflow(flow, {"order_id": "o-1"}) for name, flow in flows.items()}
    assert {name: run["status"] for name, run in runs.items()} == dict.fromkeys(flows, "COMPLETED"), runs
    assert runs[rich]["tasks"][0]["outputData"] == EXPECTED
    assert runs[dated]["tasks"][0]["outputData"] == {"result": "2024-05-06"}


def test_an_object_json_cannot_carry_still_fails_for_good(flavour: str) -> None:
    result = run_task(by_flavour(flavour, returns_an_object, returns_an_object_async), {"order_id": "o-1"})
    assert result.status.name == "FAILED_WITH_TERMINAL_ERROR"
    assert result.reason_for_incompletion == (
        "output is not JSON-serialisable: value at 'nested[0].thing' has type Opaque")
    # the conversions happen before the check, so a date beside it is not what is reported
    mixed = run_task(lambda order_id: {"day": WHEN.date(), "thing": Opaque()}, {"order_id": "o-1"})
    assert mixed.reason_for_incompletion == "output is not JSON-serialisable: value at 'thing' has type Opaque"
