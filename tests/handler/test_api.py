"""``TaskHandler`` from code: life cycle, status, several processes per worker, the registry scan and
the official SDK's restart keywords."""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _support.cli_apps import (
    CRASH_EXIT_CODE,
    WAIT,
    one_task_workflow,
    spawned_children,
    start_workflows,
    wait_until,
)

from conductor_actors import Configuration, TaskHandler, Worker, worker_task
from conductor_actors.handler import TaskHandlerError
from conductor_actors.settings import RecoverySettings
from conductor_actors.worker import WorkerDiscoveryError

if TYPE_CHECKING:
    from conductor_actors.devserver import DevServer
    from conductor_actors.settings import SupervisionSettings

    from .conftest import MakeHandler, Scenario


def sleepy_worker(scenario: Scenario, flavour: str, name: str, **options: Any) -> Worker:
    """A ``Worker`` for task ``name`` running the sleepy twin of ``flavour``."""
    sleepy = scenario("sleepy")
    function = sleepy.sleepy_sync if flavour == "sync" else sleepy.sleepy_async
    options.setdefault("poll_interval", 20)
    return Worker(name, function, **options)


def run_workflows(server: DevServer, task: str, count: int, seconds: float = 0.0) -> list[dict[str, Any]]:
    """Start ``count`` one-task workflows of ``task``, wait until they all completed, return their tasks."""
    ids = start_workflows(server, one_task_workflow(server, task, ["seconds", "index"]),
                          ({"seconds": seconds, "index": i} for i in range(count)))
    assert server.wait_for_workflows(ids, WAIT) == dict.fromkeys(ids, "COMPLETED")
    return [server.get_workflow(i)["tasks"][0] for i in ids]


def child_pids() -> set[int]:
    """Pids of the worker processes this (the test) process runs now."""
    return spawned_children(os.getpid())


def test_context_manager_starts_and_stops_cleanly(
    make_handler: MakeHandler, dev_server: DevServer, scenario: Scenario, flavour: str
) -> None:
    """``with TaskHandler(...)`` starts the worker process (work completes inside the block) and
    stops it on exit: exit code 0, no process alive afterwards, every child state "stopped"."""
    handler = make_handler([sleepy_worker(scenario, flavour, "h_ctx")])
    with handler as entered:
        assert entered is handler
        assert handler.wait_ready(WAIT)
        pid = handler.status()[0].pid
        tasks = run_workflows(dev_server, "h_ctx", 5)
        assert {t["outputData"]["pid"] for t in tasks} == {pid}
    assert handler.join_processes(0) == 0
    assert [(s.state, s.alive) for s in handler.status()] == [("stopped", False)]
    assert pid not in child_pids()


def test_start_processes_is_idempotent(make_handler: MakeHandler, scenario: Scenario) -> None:
    """A second ``start_processes()`` (also inside a ``with`` block) starts nothing more."""
    handler = make_handler([sleepy_worker(scenario, "sync", "h_once")])
    with handler:
        handler.start_processes()
        assert handler.wait_ready(WAIT)
        handler.start_processes()
        statuses = handler.status()
        assert len(statuses) == 1 and statuses[0].restarts == 0
        assert child_pids() == {statuses[0].pid}
    assert handler.join_processes(0) == 0


def test_join_before_start_is_an_error(make_handler: MakeHandler, scenario: Scenario) -> None:
    """``join_processes()`` before ``start_processes()`` raises TaskHandlerError (nothing runs)."""
    handler = make_handler([sleepy_worker(scenario, "sync", "h_unstarted")])
    with pytest.raises(TaskHandlerError, match="before start_processes"):
        handler.join_processes(0)
    assert handler.status() == [] and not handler.is_healthy()


def test_configuration_set_before_the_start_reaches_every_part_and_is_frozen_after(
    make_handler: MakeHandler, scenario: Scenario, dev_server: DevServer, tmp_path: Path
) -> None:
    """Assigning ``handler.configuration`` before the start points the worker processes and the
    outbox at the new server; once the workers started, assigning it is an error."""
    handler = make_handler([sleepy_worker(scenario, "sync", "h_config")],
                           configuration=Configuration(server_api_url="http://127.0.0.1:9/api"),
                           recovery=RecoverySettings(state_dir=str(tmp_path / "state")))
    assert handler.recovery is not None
    replacement = Configuration(server_api_url=dev_server.url)
    handler.configuration = replacement
    assert handler.configuration is replacement
    assert handler.recovery.configuration is replacement
    assert [settings.configuration for settings in handler.worker_settings()] == [replacement]
    with handler:
        assert handler.wait_ready(WAIT)
        with pytest.raises(TaskHandlerError, match="cannot change once the worker processes started"):
            handler.configuration = Configuration(server_api_url="http://127.0.0.1:9/api")
        assert run_workflows(dev_server, "h_config", 1)[0]["status"] == "COMPLETED"
    assert handler.recovery.configuration is replacement


def test_zero_workers_is_an_error(make_handler: MakeHandler) -> None:
    """A handler with no worker at all refuses to start, in both spellings, naming the cause."""
    handler = make_handler([])
    assert handler.workers == []
    with pytest.raises(TaskHandlerError, match="no workers to run"):
        handler.start_processes()
    with pytest.raises(TaskHandlerError, match="no workers to run"), handler:
        pass


def test_status_health_and_sdk_status_follow_a_restart(
    make_handler: MakeHandler, scenario: Scenario, flavour: str
) -> None:
    """status(), is_healthy() and get_worker_process_status() report the running process, its
    SIGKILL (unhealthy during the 1 s restart backoff; restart count, last exit) and the fresh
    process that replaces it."""
    handler = make_handler([sleepy_worker(scenario, flavour, "h_status")],
                           restart_backoff_seconds=1.0, restart_backoff_max_seconds=1.0)
    with handler:
        assert handler.wait_ready(WAIT)
        wait_until(handler.is_healthy, "a healthy handler")
        [status] = handler.status()
        assert (status.key, status.task_type, status.state, status.alive, status.restarts) == (
            "h_status", "h_status", "up", True, 0)
        assert status.last_exit is None and status.last_heartbeat_age is not None
        [sdk] = handler.get_worker_process_status()
        assert {k: sdk[k] for k in ("worker", "key", "pid", "alive", "state", "exitcode", "restart_count")} == {
            "worker": "h_status", "key": "h_status", "pid": status.pid, "alive": True, "state": "up",
            "exitcode": None, "restart_count": 0}

        os.kill(status.pid, signal.SIGKILL)
        wait_until(lambda: not handler.is_healthy(), "an unhealthy handler")
        assert handler.status()[0].state in ("restarting", "starting")
        wait_until(lambda: handler.status()[0].restarts == 1 and handler.status()[0].state == "up",
                   "the restarted process to be up")
        wait_until(handler.is_healthy, "healthy again")
        [after] = handler.get_worker_process_status()
        assert after["pid"] != status.pid and after["alive"] is True
        assert (after["exitcode"], after["restart_count"]) == ("SIGKILL", 1)


def test_worker_with_two_processes_runs_both(
    make_handler: MakeHandler, dev_server: DevServer, scenario: Scenario, flavour: str
) -> None:
    """``processes=2``: two worker processes (keys ``name#1`` and ``name#2``) both take tasks."""
    handler = make_handler([sleepy_worker(scenario, flavour, "h_two", processes=2, thread_count=2)])
    with handler:
        assert handler.wait_ready(WAIT)
        statuses = handler.status()
        assert [s.key for s in statuses] == ["h_two#1", "h_two#2"]
        pids = {s.pid for s in statuses}
        assert len(pids) == 2 and child_pids() == pids
        tasks = run_workflows(dev_server, "h_two", 40, seconds=0.05)
    assert {t["outputData"]["pid"] for t in tasks} == pids


def test_explicit_worker_and_scanned_registration_do_not_duplicate(
    make_handler: MakeHandler, dev_server: DevServer, scenario: Scenario
) -> None:
    """A task registered by ``@worker_task`` and also passed explicitly runs once: the explicit
    worker (and its settings) wins, one process, and work completes on it."""
    sleepy = scenario("sleepy")
    worker_task(task_definition_name="h_both", thread_count=1)(sleepy.sleepy_sync)
    explicit = Worker("h_both", sleepy.sleepy_sync, poll_interval=20, thread_count=3)
    handler = make_handler([explicit], scan_for_annotated_workers=True)
    assert [w.get_task_definition_name() for w in handler.workers].count("h_both") == 1
    assert next(w for w in handler.workers if w.get_task_definition_name() == "h_both") is explicit
    assert handler.configs[id(explicit)].thread_count == 3
    with handler:
        assert handler.wait_ready(WAIT)
        assert [s.key for s in handler.status() if s.task_type == "h_both"] == ["h_both"]
        run_workflows(dev_server, "h_both", 3)


def test_restart_on_failure_false_stops_the_tree_on_a_crash(
    make_handler: MakeHandler, dev_server: DevServer, scenario: Scenario, flavour: str
) -> None:
    """The official SDK's ``restart_on_failure=False``: a worker process that crashes is not
    restarted; the handler stops everything and reports exit code 1, naming the worker."""
    crash_loop = scenario("crash_loop")
    function = crash_loop.crash_sync if flavour == "sync" else crash_loop.crash_async
    crasher = Worker("h_crash", function, poll_interval=20)
    bystander = sleepy_worker(scenario, flavour, "h_bystander")
    handler = make_handler([crasher, bystander], restart_on_failure=False)
    assert handler.supervision.max_restarts == 0
    handler.start_processes()
    assert handler.wait_ready(WAIT)
    start_workflows(dev_server, one_task_workflow(dev_server, "h_crash", ["index"]), [{"index": 0}])
    assert handler.join_processes(WAIT) == 1
    reason = handler.exit_reason or ""
    assert reason.startswith(f"worker 'h_crash' exited unexpectedly: exit code {CRASH_EXIT_CODE}; giving up"), reason
    states = {s.key: (s.state, s.alive, s.restarts) for s in handler.status()}
    assert states == {"h_crash": ("failed", False, 0), "h_bystander": ("stopped", False, 0)}


@pytest.mark.parametrize(
    ("keywords", "expected"),
    [
        ({"monitor_processes": False}, {"max_restarts": 0}),
        ({"restart_on_failure": False}, {"max_restarts": 0}),
        ({"restart_backoff_seconds": 0.25, "restart_backoff_max_seconds": 4},
         {"restart_backoff_base": 0.25, "restart_backoff_cap": 4.0}),
        ({"restart_max_attempts": 5}, {"max_restarts": 5}),
        ({"restart_max_attempts": 0, "monitor_interval_seconds": 2}, {}),
    ],
)
def test_official_restart_keywords_map_onto_the_supervision_settings(
    make_handler: MakeHandler, scenario: Scenario, fast_supervision: SupervisionSettings,
    keywords: dict[str, Any], expected: dict[str, Any],
) -> None:
    """Each restart keyword of the official SDK changes exactly the supervision field handler.py
    documents (0 attempts and monitor_interval_seconds change nothing)."""
    handler = make_handler([sleepy_worker(scenario, "sync", "h_keywords")], **keywords)
    changed = {name: getattr(handler.supervision, name) for name in expected}
    assert changed == expected
    untouched = {f.name for f in dataclasses.fields(fast_supervision)} - set(expected)
    assert {n: getattr(handler.supervision, n) for n in untouched} == {
        n: getattr(fast_supervision, n) for n in untouched}


def test_unknown_keyword_is_a_type_error(scenario: Scenario) -> None:
    """A keyword neither ours nor the official SDK's raises TypeError naming it."""
    with pytest.raises(TypeError, match="restart_politely"):
        TaskHandler([sleepy_worker(scenario, "sync", "h_typo")], scan_for_annotated_workers=False,
                    restart_politely=True)


def test_a_module_that_fails_to_import_is_reported_before_a_bad_setting() -> None:
    """Modules are imported before the settings are read, so a module that cannot be imported is
    the error reported even when an environment value is bad too."""
    with pytest.raises(WorkerDiscoveryError, match="no_such_module_for_the_handler"):
        TaskHandler(import_modules=["no_such_module_for_the_handler"], scan_for_annotated_workers=False,
                    env={"CONDUCTOR_ACTORS_MAX_RESTARTS": "many"})
