"""The metrics code ships with the package, and what users need from it is importable publicly."""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys

import conductor_actors


def test_metrics_is_a_regular_package_exporting_its_settings() -> None:
    spec = importlib.util.find_spec("conductor_actors.metrics")
    assert spec is not None and spec.origin is not None and spec.origin.endswith("__init__.py"), spec
    module = importlib.import_module("conductor_actors.metrics")
    assert {"MetricsSettings", "MetricsSettingsError"} <= set(module.__all__)


def test_the_settings_are_public() -> None:
    from conductor_actors.settings import MetricsSettings

    assert conductor_actors.MetricsSettings is MetricsSettings
    assert "MetricsSettings" in conductor_actors.__all__


_WITHOUT_METRICS_PROBE = """
import json, sys
import conductor_actors.handler
from conductor_actors import metrics
from conductor_actors.runtime import child_main

accumulator = metrics.MetricsAccumulator()
accumulator.observe("task_poll_time_seconds", ("t", "SUCCESS"), 0.01)
accumulator.inc("task_poll_total", ("t",))
print(json.dumps({"recorded": bool(accumulator.drain()), "sink": metrics.MetricsSink.__name__,
                  "prometheus_client": "prometheus_client" in sys.modules}))
"""


def test_worker_processes_and_a_parent_without_metrics_never_load_prometheus_client() -> None:
    """Checked in a fresh interpreter: the parent's modules, the worker's entry point and the
    accumulator it records into."""
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_METRICS_PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"recorded": True, "sink": "MetricsSink", "prometheus_client": False}
