"""The metrics code ships with the package, and what users need from it is importable publicly."""

from __future__ import annotations

import importlib
import importlib.util

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
