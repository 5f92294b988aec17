"""Metrics: one Prometheus registry in the parent, fed by every worker process.

``MetricsSettings`` says where metrics go (HTTP ``/metrics`` and ``/health``, or a file);
``CATALOG`` lists every metric. The parent's MetricsActor (``MetricsSink``) loads
``prometheus_client`` only when metrics are on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..settings import MetricsSettings, MetricsSettingsError
from ._accumulator import MetricsAccumulator, MetricsDelta
from ._catalog import CATALOG, MetricKind, MetricSpec

if TYPE_CHECKING:
    from ._actor import MetricsSink

__all__ = [
    "CATALOG",
    "MetricKind",
    "MetricSpec",
    "MetricsAccumulator",
    "MetricsDelta",
    "MetricsSettings",
    "MetricsSettingsError",
    "MetricsSink",
]


def __getattr__(name: str) -> Any:
    if name == "MetricsSink":
        from ._actor import MetricsSink

        globals()[name] = MetricsSink
        return MetricsSink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
