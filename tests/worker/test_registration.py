"""Task-definition registration against the embedded dev server (sync and async clients)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from _support.ports import free_port

from conductor_actors.client import AsyncConductorClient, ConductorClient, Configuration, TaskDef
from conductor_actors.worker import (
    RegistrationReport,
    Worker,
    WorkerConfig,
    WorkerInterface,
    register_task_definition,
    register_task_definition_async,
    resolve_worker_config,
)


@dataclass
class Parcel:
    weight: float
    label: str = ""


def ship(parcel: Parcel, express: bool = False) -> dict:
    return {"shipped": True}


class ClassShipper(WorkerInterface):
    def execute(self, task):
        return None


def register(flavour: str, url: str, worker: Any, config: WorkerConfig) -> RegistrationReport:
    configuration = Configuration(server_api_url=url, connect_timeout=2.0, read_timeout=5.0)
    if flavour == "sync":
        with ConductorClient(configuration) as client:
            return register_task_definition(client, worker, config)

    async def run() -> RegistrationReport:
        client = AsyncConductorClient(configuration)
        try:
            return await register_task_definition_async(client, worker, config)
        finally:
            await client.aclose()

    return asyncio.run(run())


def config_for(worker: Any, **overrides: Any) -> WorkerConfig:
    return resolve_worker_config(worker, env={}).with_overrides(register_task_def=True, **overrides)


def server_def(server: Any, name: str) -> TaskDef:
    with ConductorClient(Configuration(server_api_url=server.url)) as client:
        return client.get_task_def(name)


def calls(server: Any) -> dict[str, int]:
    stats = server.stats()
    return {k: v for k, v in stats.items() if k in ("taskdef_update", "taskdefs_register", "taskdef_get",
                                                     "schema_save") and v}


TEMPLATE = TaskDef(name="ignored", retry_count=7, timeout_seconds=600, response_timeout_seconds=120,
                   description="from code")


def test_overwrite_on_creates_a_missing_definition(flavour, dev_server):
    worker = Worker("ship", ship, task_def_template=TEMPLATE)
    report = register(flavour, dev_server.url, worker, config_for(worker))
    assert (report.task_name, report.action, report.ok) == ("ship", "created", True)
    stored = server_def(dev_server, "ship")
    assert (stored.name, stored.retry_count, stored.timeout_seconds) == ("ship", 7, 600)
    assert stored.description == "from code"
    assert TEMPLATE.name == "ignored"  # the template itself is not changed
    assert calls(dev_server) == {"taskdef_update": 1, "taskdefs_register": 1, "taskdef_get": 1}


def test_overwrite_on_replaces_an_existing_definition(flavour, dev_server):
    dev_server.register_task_def({"name": "ship", "retryCount": 1, "description": "by hand"})
    worker = Worker("ship", ship, task_def_template=TEMPLATE)
    report = register(flavour, dev_server.url, worker, config_for(worker))
    assert report.action == "updated" and report.ok
    stored = server_def(dev_server, "ship")
    assert (stored.retry_count, stored.description) == (7, "from code")
    assert calls(dev_server) == {"taskdef_update": 1, "taskdef_get": 1}


def test_overwrite_off_keeps_an_existing_definition(flavour, dev_server):
    dev_server.register_task_def({"name": "ship", "retryCount": 1, "description": "by hand"})
    worker = Worker("ship", ship, task_def_template=TEMPLATE, overwrite_task_def=False)
    report = register(flavour, dev_server.url, worker, config_for(worker))
    assert report.action == "kept" and report.ok
    stored = server_def(dev_server, "ship")
    assert (stored.retry_count, stored.description) == (1, "by hand")
    assert calls(dev_server) == {"taskdef_get": 2}  # ours, then the check above


def test_overwrite_off_creates_a_missing_definition(flavour, dev_server):
    worker = Worker("ship", ship, overwrite_task_def=False)
    report = register(flavour, dev_server.url, worker, config_for(worker))
    assert report.action == "created"
    stored = server_def(dev_server, "ship")
    assert (stored.name, stored.retry_count) == ("ship", 3)  # a plain definition, server defaults


def test_schemas_are_saved_and_linked(flavour, dev_server):
    worker = Worker("ship", ship, register_schema=True)
    report = register(flavour, dev_server.url, worker, config_for(worker, strict_schema=True))
    assert report.ok and report.schemas == ("ship_input", "ship_output")
    stored = server_def(dev_server, "ship")
    assert stored.input_schema == {"name": "ship_input", "version": 1, "type": "JSON"}
    assert stored.output_schema == {"name": "ship_output", "version": 1, "type": "JSON"}
    assert calls(dev_server)["schema_save"] == 2


def test_a_failing_schema_endpoint_only_warns(flavour, dev_server, caplog):
    dev_server.faults.add("schema_save", status=404)
    worker = Worker("ship", ship, register_schema=True)
    with caplog.at_level("WARNING", logger="conductor_actors.worker"):
        report = register(flavour, dev_server.url, worker, config_for(worker))
    assert report.action == "created" and not report.ok and report.schemas == ()
    assert "ship_input" in report.warnings[0]
    assert calls(dev_server)["schema_save"] == 1  # a 404 means no schema endpoint: stop trying
    stored = server_def(dev_server, "ship")
    assert stored.input_schema is None and stored.output_schema is None
    assert "'ship'" in caplog.text and "ship_input" in caplog.text


def test_a_failing_registration_only_warns(flavour, dev_server, caplog):
    dev_server.faults.add("taskdef_update", status=500)
    worker = Worker("ship", ship)
    with caplog.at_level("WARNING", logger="conductor_actors.worker"):
        report = register(flavour, dev_server.url, worker, config_for(worker))
    assert report.action == "failed" and not report.ok
    assert "HTTP 500" in report.warnings[0]
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warnings and "'ship'" in warnings[0].getMessage() and "HTTP 500" in warnings[0].getMessage()


def test_an_unreachable_server_only_warns(flavour, caplog):
    port = free_port()  # a port nothing listens on
    worker = Worker("ship", ship, overwrite_task_def=False)
    with caplog.at_level("WARNING", logger="conductor_actors.worker"):
        report = register(flavour, f"http://127.0.0.1:{port}/api", worker, config_for(worker))
    assert report.action == "failed" and report.warnings
    assert "registering the task definition failed" in caplog.text


def test_disabled_registration_sends_nothing(flavour, dev_server):
    worker = Worker("ship", ship)
    config = resolve_worker_config(worker, env={})
    report = register(flavour, dev_server.url, worker, config)
    assert report.action == "disabled"
    assert calls(dev_server) == {}


def test_class_based_workers_register_a_plain_definition(flavour, dev_server):
    worker = ClassShipper("class_ship")
    report = register(flavour, dev_server.url, worker, config_for(worker, register_schema=True))
    assert report.action == "created" and report.schemas == ()
    stored = server_def(dev_server, "class_ship")
    assert stored.input_schema is None
    assert "schema_save" not in calls(dev_server)


def test_registration_never_raises_for_a_broken_client(flavour):
    class Broken:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("no client here")

    worker = Worker("ship", ship)
    config = config_for(worker)
    if flavour == "sync":
        report = register_task_definition(Broken(), worker, config)
    else:
        report = asyncio.run(register_task_definition_async(Broken(), worker, config))
    assert report.action == "failed" and "no client here" in report.warnings[0]


def test_report_is_frozen():
    report = RegistrationReport("t", "created")
    with pytest.raises(AttributeError):
        report.action = "x"  # type: ignore[misc]
    assert report.ok is True
