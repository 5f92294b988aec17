"""Metrics: one Prometheus registry in the parent, fed by every worker process.

``MetricsSettings`` says where metrics go (HTTP ``/metrics`` and ``/health``, or a file);
``CATALOG`` lists every metric; worker processes record into a ``MetricsAccumulator``. The parent's
MetricsActor (``MetricsSink``) loads ``prometheus_client`` only when metrics are on, so importing
this package never does.
"""

from __future__ import annotations

from ..settings import MetricsSettings, MetricsSettingsError
from ._actor import MetricsSink
from ._catalog import CATALOG, MetricKind, MetricsAccumulator, MetricsDelta, MetricSpec

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
