"""``python -m conductor_actors MODULE`` runs every worker the module defines, as
``TaskHandler(workers=[...], scan_for_annotated_workers=True)`` would: ``@worker_task`` functions,
module-level ``Worker(...)`` objects and ``WorkerInterface`` instances (subclasses' too, alone or
in a list). Real CLI processes against the test's dev server, both flavours."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from _support.cli_apps import WAIT, one_task_workflow
from _support.cli_tree import CliTree, hermetic_env, run_to_end
from _support.compat_apps import CLASS_TASK, DECORATED_TASK, FUNCTION_TASK, LISTED_TASK, OBJECT_TASKS

from conductor_actors.cli import EXIT_OK, EXIT_USAGE

pytestmark = pytest.mark.slow

MODULE = "_support.compat_apps.objects"


def test_the_cli_runs_module_level_worker_objects_and_decorated_functions(
        flavour: str, dev_server: Any, tmp_path: Path, runs: list[CliTree]) -> None:
    env = hermetic_env(tmp_path / "state", server_url=dev_server.url, flavour=flavour)
    run = CliTree(["-m", "conductor_actors", MODULE], env, tmp_path / "cli.log")
    runs.append(run)
    ids = {task: dev_server.start_workflow(one_task_workflow(dev_server, task, ["n"]), {"n": index + 1})
           for index, task in enumerate(OBJECT_TASKS)}
    statuses = dev_server.wait_for_workflows(ids.values(), timeout=WAIT)
    assert set(statuses.values()) == {"COMPLETED"}, (statuses, run.log()[-4000:])
    outputs = {task: dev_server.get_workflow(ids[task])["tasks"][0]["outputData"] for task in OBJECT_TASKS}
    expected = {task: (index + 1) * 3 for index, task in enumerate(OBJECT_TASKS)}
    assert {task: out["value"] for task, out in outputs.items()} == expected
    assert {out["flavour"] for out in outputs.values()} == {flavour}
    listed = "ListedTripler" if flavour == "sync" else "ListedAsyncTripler"
    assert outputs[FUNCTION_TASK]["by"] == "Worker object"
    assert outputs[CLASS_TASK]["by"] == ("Tripler" if flavour == "sync" else "AsyncTripler")
    assert outputs[LISTED_TASK]["by"] == listed
    assert outputs[DECORATED_TASK]["by"] == "@worker_task"
    assert run.stop(signal.SIGTERM) == EXIT_OK


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_to_end(args, hermetic_env(tmp_path / "state", server_url="http://127.0.0.1:9/api"))


def test_list_names_every_worker_the_module_defines(tmp_path: Path) -> None:
    done = _cli(tmp_path, "--list", MODULE)
    assert done.returncode == EXIT_OK, done
    for task in OBJECT_TASKS:
        assert f"Conductor Worker[name={task}," in done.stdout, done.stdout


def test_two_different_objects_for_one_task_are_a_usage_error_of_one_line(tmp_path: Path) -> None:
    done = _cli(tmp_path, "--list", "_support.compat_apps.duplicate_objects")
    assert done.returncode == EXIT_USAGE, done
    [line] = done.stderr.strip().splitlines()
    expected = "conductor_actors: error: two different workers were given for task 'compat_duplicate'"
    assert line.startswith(expected), line
