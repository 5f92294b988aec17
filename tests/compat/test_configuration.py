"""Official ``Configuration`` and ``MetricsSettings`` arguments are accepted: the ones that change
nothing here log one warning saying so; none is a ``TypeError``."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from conductor_actors import Configuration, MetricsSettings

CONFIG_LOGGER = "conductor_actors.client"


def warnings_of(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno == logging.WARNING]


def test_debug_false_is_accepted_quietly(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    config = Configuration(debug=False, env={})
    assert config.debug is False and config.log_level == logging.INFO
    assert warnings_of(caplog, CONFIG_LOGGER) == []


def test_arguments_that_change_nothing_log_one_warning_naming_them(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    config = Configuration(debug=True, log_level="WARNING", register_schema=True, env={})
    (warning,) = warnings_of(caplog, CONFIG_LOGGER)
    assert "debug=True" in warning and "log_level='WARNING'" in warning and "register_schema=True" in warning
    assert "changes nothing" in warning and "TaskHandler(log_level=" in warning
    assert (config.debug, config.log_level, config.register_schema) == (True, logging.WARNING, True)


def test_the_official_positional_order_is_accepted() -> None:
    config = Configuration("http://conductor.example:8080", False, None, None, 30, None, 10, env={})
    assert config.host == "http://conductor.example:8080/api"
    assert config.log_level == logging.DEBUG
    assert config.auth_token_ttl_msec == 30 * 60 * 1000


def test_the_official_attributes_exist_with_the_official_values() -> None:
    config = Configuration(server_api_url="http://conductor.example/api", env={})
    assert config.ui_host == "http://conductor.example"
    assert (config.verify_ssl, config.proxy, config.cert_file, config.key_file) == (True, None, None, None)
    assert config.logger_format == "%(asctime)s %(name)-12s %(levelname)-8s %(message)s"
    assert (config.temp_folder_path, config.register_schema, config.token_update_time) == (None, None, 0)
    assert config.auth_token_ttl_msec == 45 * 60 * 1000 and isinstance(config.auth_token_ttl_msec, int)
    config.debug = True
    assert config.log_level == logging.DEBUG
    config.update_token("token")
    assert config.AUTH_TOKEN == "token" and config.token_update_time > 0
    assert Configuration.get_logging_formatted_name("x").endswith("] x")


def test_host_can_be_assigned_as_in_the_official_sdk() -> None:
    config = Configuration(env={})
    config.host = "https://conductor.example/api"
    assert (config.host, config.server_api_url) == ("https://conductor.example/api",) * 2
    with pytest.raises(ValueError, match="host="):
        config.host = "conductor.example/api"


def test_the_log_level_and_schema_variables_are_read_as_in_the_official_sdk() -> None:
    config = Configuration(env={"CONDUCTOR_LOG_LEVEL": "error", "CONDUCTOR_REGISTER_SCHEMAS": "yes"})
    assert (config.log_level, config.register_schema) == (logging.ERROR, True)


def test_metrics_settings_without_arguments_use_the_official_default_directory() -> None:
    settings = MetricsSettings()
    assert settings.directory == f"{Path.home()}/tmp/"
    assert (settings.file_name, settings.update_interval, settings.http_port) == ("metrics.log", 0.1, None)
    assert not settings.http_mode
    assert MetricsSettings("/var/metrics", "m.log", 0.5).directory == "/var/metrics"


def test_metrics_cleaning_flags_are_accepted_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    settings = MetricsSettings(http_port=0, clean_directory=True, clean_dead_pids=True)
    assert settings.clean_directory and settings.clean_dead_pids
    (warning,) = warnings_of(caplog, "conductor_actors.metrics")
    assert "clean_directory=True" in warning and "clean_dead_pids=True" in warning and "nothing" in warning
