"""``build_tree_settings``: code, environment and command line merged in one place, with the
precedence docs/configuration.md gives (a section from code as given; else the environment;
command-line options over the environment). No processes are started."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from conductor_actors._logging import TRACE
from conductor_actors.settings import (
    CommandLine,
    MetricsSettings,
    RecoverySettings,
    RuntimeSettings,
    SupervisionSettings,
    build_tree_settings,
)

ENV = {
    "CONDUCTOR_ACTORS_SHUTDOWN_GRACE": "7",
    "CONDUCTOR_ACTORS_SHUTDOWN_FLUSH": "2",
    "CONDUCTOR_ACTORS_MAX_RESTARTS": "4",
    "CONDUCTOR_ACTORS_MAX_TASKS": "9",
    "CONDUCTOR_ACTORS_RECOVERY_MAX_AGE": "60",
    "CONDUCTOR_ACTORS_RECOVERY_STATE_DIR": "/from/env",
}


def test_the_environment_fills_the_sections_not_given() -> None:
    tree = build_tree_settings(env=ENV, log_level="INFO")
    assert (tree.supervision.shutdown_grace, tree.supervision.max_restarts) == (7.0, 4)
    assert tree.runtime.max_tasks == 9
    assert tree.recovery is not None and (tree.recovery.max_age, tree.recovery.state_dir) == (60.0, "/from/env")
    assert tree.metrics is None


def test_a_section_from_code_is_used_as_given() -> None:
    supervision = SupervisionSettings(max_restarts=1)
    recovery = RecoverySettings(max_age=5.0)
    metrics = MetricsSettings(http_port=0)
    tree = build_tree_settings(
        supervision=supervision, recovery=recovery, metrics=metrics, env=ENV, log_level="INFO",
        command_line=CommandLine(shutdown_timeout=3.0, state_dir="/from/cli"),
    )
    assert tree.supervision is supervision
    assert tree.recovery is recovery
    assert tree.metrics is metrics


def test_command_line_options_override_the_environment() -> None:
    tree = build_tree_settings(
        env=ENV, log_level="INFO",
        command_line=CommandLine(shutdown_timeout=3.0, state_dir="/from/cli", metrics_port=0),
    )
    assert tree.supervision.shutdown_grace == 3.0 and tree.supervision.max_restarts == 4
    assert tree.recovery is not None and (tree.recovery.state_dir, tree.recovery.max_age) == ("/from/cli", 60.0)
    assert tree.metrics == MetricsSettings(http_port=0, file_name="metrics.prom")
    in_dir = build_tree_settings(env={}, log_level="INFO", command_line=CommandLine(metrics_dir="/m"))
    assert in_dir.metrics == MetricsSettings(directory="/m", file_name="metrics.prom")


def test_the_runtime_takes_the_trees_shutdown_budget() -> None:
    runtime = RuntimeSettings(shutdown_grace=50.0, shutdown_flush=40.0, max_tasks=3)
    tree = build_tree_settings(runtime=runtime, env=ENV, log_level="INFO")
    assert (tree.runtime.shutdown_grace, tree.runtime.shutdown_flush, tree.runtime.max_tasks) == (7.0, 2.0, 3)


@pytest.mark.parametrize(("recovery", "command_line", "env"), [
    (False, CommandLine(), {}),
    (None, CommandLine(no_recovery=True), {}),
    (True, CommandLine(), {"CONDUCTOR_ACTORS_RECOVERY_ENABLED": "false"}),
    (RecoverySettings(enabled=False), CommandLine(), {}),
])
def test_recovery_can_be_switched_off(
    recovery: RecoverySettings | bool | None, command_line: CommandLine, env: dict[str, str]
) -> None:
    assert build_tree_settings(recovery=recovery, command_line=command_line, env=env, log_level="INFO").recovery is None


def test_no_recovery_still_reads_the_environments_recovery_values() -> None:
    with pytest.raises(ValueError, match="CONDUCTOR_ACTORS_RECOVERY_MAX_AGE"):
        build_tree_settings(
            env={"CONDUCTOR_ACTORS_RECOVERY_MAX_AGE": "soon"}, log_level="INFO",
            command_line=CommandLine(no_recovery=True),
        )


def test_supervision_changes_replace_fields_of_either_source() -> None:
    from_env = build_tree_settings(env=ENV, supervision_changes={"max_restarts": 0}, log_level="INFO")
    assert (from_env.supervision.max_restarts, from_env.supervision.shutdown_grace) == (0, 7.0)
    given = build_tree_settings(
        supervision=SupervisionSettings(), supervision_changes={"restart_backoff_base": 2.0}, env={}, log_level="INFO"
    )
    assert given.supervision.restart_backoff_base == 2.0


def test_log_options() -> None:
    tree = build_tree_settings(env={}, log_level="debug", log_format="json", log_tasks=True)
    assert (tree.log_level, tree.log_format, tree.log_tasks) == (logging.DEBUG, "json", True)
    assert build_tree_settings(env={}, log_level=logging.WARNING).log_level == logging.WARNING
    with pytest.raises(ValueError, match="log_level='loud'"):
        build_tree_settings(env={}, log_level="loud")


def test_trace_is_a_level_name_without_importing_logging_first() -> None:
    # A fresh interpreter: nothing has imported the module that registers TRACE yet.
    code = (
        "from conductor_actors.settings import build_tree_settings\n"
        "print(build_tree_settings(env={}, log_level='TRACE').log_level)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, str(TRACE)), done.stderr
