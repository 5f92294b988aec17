"""Concurrency settings that cannot work are start-up errors naming the bound, wherever they come
from: the decorator, ``Worker``/``WorkerInterface`` objects (arguments or class attributes), the
environment (through ``resolve_worker_config`` and the command line) and ``RuntimeSettings``.

A ``def`` worker runs one thread per slot, so its ``thread_count`` is capped at
``MAX_SYNC_THREAD_COUNT``; an ``async def`` worker runs coroutines and may go up to
``MAX_ASYNC_THREAD_COUNT``. ``processes`` is capped at ``MAX_PROCESSES`` for both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conductor_actors import RuntimeSettings
from conductor_actors.settings import MAX_UPDATER_CONCURRENCY, RuntimeSettingsError
from conductor_actors.worker import Worker, WorkerConfigError, WorkerInterface, resolve_worker_config, worker_task
from conductor_actors.worker._config import MAX_ASYNC_THREAD_COUNT, MAX_PROCESSES, MAX_SYNC_THREAD_COUNT

TESTS_DIR = Path(__file__).resolve().parents[1]
#: The largest thread_count of each flavour.
BOUND = {"sync": MAX_SYNC_THREAD_COUNT, "async": MAX_ASYNC_THREAD_COUNT}


def work_sync(n: int = 0) -> dict[str, Any]:
    return {"n": n}


async def work_async(n: int = 0) -> dict[str, Any]:
    return {"n": n}


FUNCTIONS = {"sync": work_sync, "async": work_async}


class SyncClassWorker(WorkerInterface):
    task_definition_name = "bounded_class"

    def execute(self, task: Any) -> dict[str, Any]:
        return {}


class AsyncClassWorker(WorkerInterface):
    task_definition_name = "bounded_class"

    async def execute(self, task: Any) -> dict[str, Any]:
        return {}


CLASSES = {"sync": SyncClassWorker, "async": AsyncClassWorker}


def test_the_bounds_leave_room_for_async_workers() -> None:
    assert 1000 <= MAX_SYNC_THREAD_COUNT < MAX_ASYNC_THREAD_COUNT
    assert MAX_ASYNC_THREAD_COUNT >= 10_000


def test_the_decorator_accepts_the_bound_and_refuses_one_more(flavour: str) -> None:
    worker_task(task_definition_name=f"bounded_{flavour}", thread_count=BOUND[flavour])(FUNCTIONS[flavour])
    with pytest.raises(WorkerConfigError) as info:
        worker_task(task_definition_name=f"over_{flavour}", thread_count=BOUND[flavour] + 1)(FUNCTIONS[flavour])
    assert f"thread_count={BOUND[flavour] + 1}" in str(info.value)
    assert f"must be at most {BOUND[flavour]}" in str(info.value)
    assert f"over_{flavour}" in str(info.value)


@pytest.mark.parametrize("value", [99_999_999, 2**63])
def test_an_absurd_thread_count_names_the_bound_in_both_flavours(flavour: str, value: int) -> None:
    with pytest.raises(WorkerConfigError) as info:
        Worker("absurd", FUNCTIONS[flavour], thread_count=value)
    assert f"thread_count={value}" in str(info.value) and str(MAX_ASYNC_THREAD_COUNT) in str(info.value)
    assert str(MAX_SYNC_THREAD_COUNT) in str(info.value)


def test_a_sync_worker_names_its_own_bound_and_the_async_one() -> None:
    with pytest.raises(WorkerConfigError) as info:
        Worker("threads", work_sync, thread_count=MAX_SYNC_THREAD_COUNT + 1)
    message = str(info.value)
    assert message.startswith(f"thread_count={MAX_SYNC_THREAD_COUNT + 1}: thread_count must be at most "
                              f"{MAX_SYNC_THREAD_COUNT} for a def worker"), message
    assert f"async def worker may have up to {MAX_ASYNC_THREAD_COUNT}" in message
    assert Worker("coroutines", work_async, thread_count=MAX_SYNC_THREAD_COUNT + 1).thread_count == (
        MAX_SYNC_THREAD_COUNT + 1)


def test_class_based_workers_are_bounded_by_argument_and_by_attribute(flavour: str) -> None:
    cls = CLASSES[flavour]
    assert cls(thread_count=BOUND[flavour]).thread_count == BOUND[flavour]
    with pytest.raises(WorkerConfigError, match=f"at most {BOUND[flavour]}"):
        cls(thread_count=BOUND[flavour] + 1)
    attribute = type("Attributed", (cls,), {"thread_count": BOUND[flavour] + 1})
    with pytest.raises(WorkerConfigError, match=f"thread_count={BOUND[flavour] + 1}: .*at most {BOUND[flavour]}"):
        resolve_worker_config(attribute(), env={})


@pytest.mark.parametrize("variable", ["CONDUCTOR_WORKER_ALL_THREAD_COUNT", "conductor.worker.envy.thread_count"])
def test_the_environment_is_bounded_by_the_flavour(flavour: str, variable: str) -> None:
    worker = Worker("envy", FUNCTIONS[flavour])
    assert resolve_worker_config(worker, env={variable: str(BOUND[flavour])}).thread_count == BOUND[flavour]
    with pytest.raises(WorkerConfigError) as info:
        resolve_worker_config(worker, env={variable: str(BOUND[flavour] + 1)})
    assert str(info.value).startswith(f"{variable}=")
    assert f"must be at most {BOUND[flavour]}" in str(info.value)


def test_processes_are_bounded(flavour: str) -> None:
    assert Worker("many", FUNCTIONS[flavour], processes=MAX_PROCESSES).processes == MAX_PROCESSES
    with pytest.raises(WorkerConfigError, match=f"processes={MAX_PROCESSES + 1}: processes must be at most "
                                                f"{MAX_PROCESSES}"):
        Worker("many", FUNCTIONS[flavour], processes=MAX_PROCESSES + 1)
    variable = "CONDUCTOR_WORKER_ALL_PROCESSES"
    with pytest.raises(WorkerConfigError, match=f"{variable}='100000': processes must be at most {MAX_PROCESSES}"):
        resolve_worker_config(Worker("many", FUNCTIONS[flavour]), env={variable: "100000"})


def test_the_updater_pool_is_bounded() -> None:
    assert RuntimeSettings(updater_concurrency=MAX_UPDATER_CONCURRENCY).updater_concurrency == MAX_UPDATER_CONCURRENCY
    with pytest.raises(RuntimeSettingsError, match=f"updater_concurrency=100000: must be at most "
                                                   f"{MAX_UPDATER_CONCURRENCY}"):
        RuntimeSettings(updater_concurrency=100_000)


def _cli(*args: str, flavour: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.upper().startswith("CONDUCTOR")}
    environ.update(env, CLI_APPS_FLAVOUR=flavour, CONDUCTOR_SERVER_URL="http://127.0.0.1:9/api")
    return subprocess.run(
        [sys.executable, "-m", "conductor_actors", *args], cwd=TESTS_DIR, env=environ, capture_output=True,
        text=True, timeout=60, stdin=subprocess.DEVNULL,
    )


def test_the_command_line_refuses_an_absurd_thread_count_before_starting(flavour: str) -> None:
    """The report's case: ``thread_count=99999999`` exits 2 at once with one line naming the bound,
    and no worker process is started (it used to grow to 1.5 GB without ever becoming ready)."""
    variable = "CONDUCTOR_WORKER_ALL_THREAD_COUNT"
    done = _cli("_support.cli_apps.sleepy", flavour=flavour, env={variable: "99999999"})
    assert done.returncode == 2, done
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"conductor_actors: error: {variable}='99999999': thread_count must be at most "
                           f"{MAX_ASYNC_THREAD_COUNT}"), line
    assert "started (pid" not in done.stderr


def test_the_command_line_applies_the_bound_of_the_flavour(flavour: str) -> None:
    variable = "CONDUCTOR_WORKER_ALL_THREAD_COUNT"
    value = str(MAX_SYNC_THREAD_COUNT + 1)
    done = _cli("--list", "_support.cli_apps.sleepy", flavour=flavour, env={variable: value})
    if flavour == "sync":
        assert done.returncode == 2, done
        assert f"{variable}={value}: thread_count must be at most {MAX_SYNC_THREAD_COUNT} for a def worker" in (
            done.stderr), done
    else:
        assert done.returncode == 0, done
        assert value in done.stdout, done
