"""``docs/metrics.md`` cannot drift from the code: every metric of the catalog has a row with its
type and labels (and the page documents no metric the catalog lacks), and every
``MetricsSettings`` field has a row with its default."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from conductor_actors import MetricsSettings
from conductor_actors.metrics._catalog import CATALOG, MetricSpec

PAGE = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
KINDS = ("counter", "gauge", "histogram")


def table_rows() -> dict[str, list[str]]:
    """Rows of the page's tables whose first cell is one code name: name -> the other cells."""
    rows: dict[str, list[str]] = {}
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`([A-Za-z_][A-Za-z0-9_]*)`", cells[0]) if line.startswith("|") else None
        if match:
            rows[match.group(1)] = cells[1:]
    return rows


@pytest.mark.parametrize("metric", CATALOG, ids=[m.name for m in CATALOG])
def test_every_metric_has_a_row_with_its_type_and_labels(metric: MetricSpec) -> None:
    row = table_rows().get(metric.name)
    assert row is not None, f"{metric.name} is not documented in {PAGE.name}"
    kind, labels, meaning = row[0], row[1], row[2]
    assert kind == metric.kind.value
    assert re.findall(r"`([^`]+)`", labels) == list(metric.labels)
    assert meaning, f"{metric.name} has no meaning"


def test_the_page_documents_no_metric_the_catalog_lacks() -> None:
    documented = {name for name, cells in table_rows().items() if cells and cells[0] in KINDS}
    assert documented == {m.name for m in CATALOG}


@pytest.mark.parametrize("field", dataclasses.fields(MetricsSettings), ids=lambda f: f.name)
def test_every_setting_has_a_row_with_its_default(field: dataclasses.Field[object]) -> None:
    row = table_rows().get(field.name)
    assert row is not None, f"MetricsSettings.{field.name} is not documented in {PAGE.name}"
    # The default as a user sees it: a field resolved when built (``directory``) shows its resolved
    # value, with the home directory written as ``~``.
    default = str(getattr(MetricsSettings(), field.name)).replace(os.path.expanduser("~") + "/", "~/")
    assert row[0].strip("`") == default
