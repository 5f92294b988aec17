"""Worker modules for the real-process tests of the CLI and ``TaskHandler``, one module per scenario.

``python -m conductor_actors _support.cli_apps.<scenario>`` runs them (with the tests directory as
the working directory). Each scenario module defines its worker functions as ``def``/``async def``
twins at module level and registers ONE of them with ``@worker_task`` semantics, chosen by the
``CLI_APPS_FLAVOUR`` environment variable ("sync", the default, or "async"), so one parametrised
test drives both flavours through the same command line (``pair`` registers one worker of each
flavour). Handler tests build ``Worker`` objects from the twins directly.

Importing a scenario registers its worker in the process-wide registry (that is what the CLI's
scan finds); worker processes re-import the module with the same environment. Tests take the task
names from here (``*_TASK``) instead of importing a scenario, so the test process's registry stays
clean; handler tests import the scenarios they need inside an isolated registry.

The test side of these scenarios shares a few helpers kept here too: ``FAST_ENV`` (small runtime
and supervision numbers), ``wait_until`` (poll a condition with a deadline) and ``process_gone``
(from ``_support.waiting``), ``spawned_children`` and the dev-server workflow helpers.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from conductor_actors import worker_task

from ..waiting import WAIT, process_gone, wait_until

__all__ = [
    "BOOM_IN_CHILD_TASK",
    "CRASH_EXIT_CODE",
    "CRASH_TASK",
    "FAILING_TASK",
    "FAST_ENV",
    "FLAVOURS",
    "FLAVOUR_VARIABLE",
    "PAIR_ASYNC_TASK",
    "PAIR_SYNC_TASK",
    "SLEEPY_TASK",
    "SLOW_TASK",
    "WAIT",
    "WEDGE_TASK",
    "current_flavour",
    "one_task_workflow",
    "process_gone",
    "register_flavoured",
    "spawned_children",
    "start_workflows",
    "wait_until",
]

#: The environment variable that picks the flavour a scenario registers.
FLAVOUR_VARIABLE = "CLI_APPS_FLAVOUR"
FLAVOURS = ("sync", "async")
#: ``CONDUCTOR_ACTORS_*`` runtime and supervision settings small enough for a scenario to take seconds.
FAST_ENV: dict[str, str] = {
    "CONDUCTOR_ACTORS_RESTART_BACKOFF_BASE": "0.05",
    "CONDUCTOR_ACTORS_RESTART_BACKOFF_CAP": "0.2",
    "CONDUCTOR_ACTORS_RESTART_JITTER": "0",
    "CONDUCTOR_ACTORS_MAX_RESTARTS": "10",
    "CONDUCTOR_ACTORS_RESTART_WINDOW": "60",
    "CONDUCTOR_ACTORS_HEARTBEAT_TIMEOUT": "10",
    "CONDUCTOR_ACTORS_HEARTBEAT_INTERVAL": "0.2",
    "CONDUCTOR_ACTORS_KILL_TIMEOUT": "0.5",
    "CONDUCTOR_ACTORS_SHUTDOWN_GRACE": "3",
    "CONDUCTOR_ACTORS_SHUTDOWN_FLUSH": "1",
    "CONDUCTOR_ACTORS_UPDATE_RETRY_DELAYS": "0.05,0.1",
}

#: Task types of the scenarios' workers.
SLEEPY_TASK = "cli_sleepy"
SLOW_TASK = "cli_slow"
PAIR_SYNC_TASK = "cli_pair_sync"
PAIR_ASYNC_TASK = "cli_pair_async"
CRASH_TASK = "cli_crash_loop"
WEDGE_TASK = "cli_wedge"
BOOM_IN_CHILD_TASK = "cli_boom_in_child"
FAILING_TASK = "cli_failing"
#: The exit code a crash_loop worker process dies with.
CRASH_EXIT_CODE = 1


def current_flavour() -> str:
    """The flavour asked for by ``CLI_APPS_FLAVOUR`` ("sync" when unset); raises ``ValueError``
    naming the variable for anything else."""
    value = os.environ.get(FLAVOUR_VARIABLE, "sync")
    if value not in FLAVOURS:
        raise ValueError(f"{FLAVOUR_VARIABLE}={value!r}: expected one of {', '.join(FLAVOURS)}")
    return value


def register_flavoured(
    task_name: str, sync_function: Callable[..., Any], async_function: Callable[..., Any], **options: Any
) -> None:
    """Register the twin of the current flavour as the worker of ``task_name`` (``worker_task``
    keywords in ``options``). Runs while the scenario module is imported."""
    chosen = sync_function if current_flavour() == "sync" else async_function
    worker_task(task_definition_name=task_name, **options)(chosen)


# -- the test side ------------------------------------------------------------------------------


def spawned_children(parent: int) -> set[int]:
    """Pids of the live processes ``parent`` started with multiprocessing's spawn (worker processes;
    not its resource tracker), as ``ps --ppid`` lists them."""
    listing = subprocess.run(["ps", "-ww", "--ppid", str(parent), "-o", "pid=,stat=,args="],
                             capture_output=True, text=True, check=False).stdout
    pids = set()
    for line in listing.splitlines():
        pid, state, args = line.split(None, 2)
        if "spawn_main" in args and not state.startswith("Z"):
            pids.add(int(pid))
    return pids


def one_task_workflow(server: Any, task_type: str, parameters: Sequence[str], *, name: str | None = None) -> str:
    """Register a workflow of one SIMPLE task of ``task_type`` on the dev ``server`` whose inputs
    ``parameters`` are taken from the workflow input; returns the workflow name."""
    workflow_name = name or f"{task_type}_flow"
    server.register_workflow({
        "name": workflow_name,
        "version": 1,
        "schemaVersion": 2,
        "tasks": [{
            "name": task_type,
            "taskReferenceName": "only",
            "inputParameters": {p: f"${{workflow.input.{p}}}" for p in parameters},
        }],
    })
    return workflow_name


def start_workflows(server: Any, workflow_name: str, inputs: Iterable[Mapping[str, Any]]) -> list[str]:
    """Start one workflow per input on the dev ``server``; returns their ids in order."""
    return [server.start_workflow(workflow_name, dict(item)) for item in inputs]
