"""``docs/migrating.md``: every official name is in the import table, and every name the table
promises in conductor_actors imports from where the table says."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "migrating.md"

#: Every official import path and name worker code touches (official SDK 2.0): module -> names.
OFFICIAL: dict[str, tuple[str, ...]] = {
    "conductor.client.worker.worker_task": ("worker_task", "WorkerTask"),
    "conductor.client": ("worker_task", "TaskHandler", "Configuration", "WorkerInterface", "Task", "TaskResult",
                         "TaskResultStatus", "TaskDef", "TaskExecLog"),
    "conductor.client.automator.task_handler": ("TaskHandler", "get_registered_workers",
                                                "get_registered_worker_names", "register_decorated_fn"),
    "conductor.client.configuration.configuration": ("Configuration",),
    "conductor.client.configuration.settings.authentication_settings": ("AuthenticationSettings",),
    "conductor.client.configuration.settings.metrics_settings": ("MetricsSettings",),
    "conductor.client.worker.worker": ("Worker",),
    "conductor.client.worker.worker_interface": ("WorkerInterface",),
    "conductor.client.worker.exception": ("NonRetryableException",),
    "conductor.client.worker.worker_loader": ("WorkerLoader", "scan_for_workers", "auto_discover_workers"),
    "conductor.client.worker.worker_config": ("resolve_worker_config", "get_worker_config_summary",
                                              "get_worker_config_oneline"),
    "conductor.client.context": ("get_task_context", "TaskContext", "TaskInProgress"),
    "conductor.client.context.task_context": ("get_task_context", "TaskContext", "TaskInProgress"),
    "conductor.client.event.task_runner_events": ("TaskRunnerEvent", "PollStarted", "PollCompleted", "PollFailure",
                                                  "TaskExecutionStarted", "TaskExecutionCompleted",
                                                  "TaskExecutionFailure", "TaskUpdateFailure"),
    "conductor.client.event.listeners": ("TaskRunnerEventsListener", "WorkflowEventsListener", "TaskEventsListener",
                                         "MetricsCollector"),
    "conductor.client.event": ("TaskRunnerEventsListener", "register_task_runner_listener"),
    "conductor.client.event.sync_event_dispatcher": ("SyncEventDispatcher",),
    "conductor.client.telemetry.metrics_collector": ("MetricsCollector",),
    "conductor.client.telemetry.metrics_factory": ("create_metrics_collector", "create_metrics_collector_for_parent"),
    "conductor.client.telemetry.canonical_metrics_collector": ("CanonicalMetricsCollector",),
    "conductor.client.telemetry.legacy_metrics_collector": ("LegacyMetricsCollector",),
    "conductor.client.automator.task_runner": ("TaskRunner",),
    "conductor.client.automator.async_task_runner": ("AsyncTaskRunner",),
    "conductor.client.automator.lease_tracker": ("LeaseManager",),
    "conductor.client.automator.json_schema_generator": ("generate_json_schema_from_function",),
    "conductor.client.http.models.task": ("Task",),
    "conductor.client.http.models.task_result": ("TaskResult",),
    "conductor.client.http.models.task_result_status": ("TaskResultStatus",),
    "conductor.client.http.models.task_def": ("TaskDef",),
    "conductor.client.http.models.task_exec_log": ("TaskExecLog",),
}

_CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Row:
    """One row of the import table: ``module``: names, for each side."""

    official_module: str
    official_names: tuple[str, ...]
    ours_module: str
    ours_names: tuple[str, ...]
    offered: bool

    @property
    def label(self) -> str:
        return f"{self.official_module}: {', '.join(self.official_names)}"


def _spans(cell: str) -> tuple[str, tuple[str, ...]]:
    spans = _CODE.findall(cell)
    assert len(spans) >= 2, f"a table cell must read `module`: `Name`, ...; got {cell!r}"
    return spans[0], tuple(spans[1:])


def import_table() -> list[Row]:
    """The rows of the table under ``## Imports``."""
    section = GUIDE.read_text().split("\n## Imports\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        official, ours = line.strip().strip("|").split("|")[:2]
        official_module, official_names = _spans(official)
        ours_module, ours_names = _spans(ours)
        rows.append(Row(official_module, official_names, ours_module, ours_names, "not offered" not in ours))
    return rows


ROWS = import_table()


def test_the_table_lists_every_official_name() -> None:
    """Each official module and name appears in the table, mapped to ours or marked not offered."""
    listed = {(row.official_module, name) for row in ROWS for name in row.official_names}
    missing = [f"{module}.{name}" for module, names in OFFICIAL.items() for name in names
               if (module, name) not in listed]
    assert not missing, f"official names missing from the import table of {GUIDE.name}: {missing}"
    assert len(ROWS) >= len(OFFICIAL)


@pytest.mark.parametrize("row", ROWS, ids=[row.label for row in ROWS])
def test_every_name_in_the_ours_column_imports_from_where_the_table_says(row: Row) -> None:
    """``from <ours module> import <name>`` works for every name of the row (for a name we do not
    offer: the replacement the table names)."""
    module = importlib.import_module(row.ours_module)
    absent = [name for name in row.ours_names if not hasattr(module, name)]
    assert not absent, f"{row.ours_module} has no {absent} (row {row.label})"
    if row.ours_module == "conductor_actors":
        assert set(row.ours_names) <= set(module.__all__), "the root package exports its names in __all__"


def test_offered_names_keep_the_official_spelling() -> None:
    """Where we offer a counterpart, it has the official name (only the runners differ)."""
    renamed = {"TaskRunner", "AsyncTaskRunner"}
    for row in ROWS:
        if row.offered and not set(row.official_names) & renamed:
            assert set(row.official_names) <= set(row.ours_names), row.label
