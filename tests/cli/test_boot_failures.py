"""A worker that cannot boot stops the CLI with exit 3 and a message naming it, never a restart loop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from _support.cli_apps import BOOM_IN_CHILD_TASK

from conductor_actors.cli import EXIT_BOOT_FAILURE

if TYPE_CHECKING:
    from .conftest import StartCli

#: A boot failure is reported within this many seconds (one spawn at most, no retries).
QUICK = 10.0


def test_module_raising_on_import_exits_3_naming_the_module(cli: StartCli, flavour: str) -> None:
    """The module raises while the parent imports it: exit 3 within seconds, the first error line
    names the module and the exception, and no worker process is ever started."""
    run = cli("_support.cli_apps.boom_on_import", flavour=flavour)
    assert run.wait_exit(QUICK) == EXIT_BOOT_FAILURE, run.tail()
    log = run.log()
    first_error = next(line for line in log.splitlines() if "error:" in line)
    assert first_error == (
        "conductor_actors: error: importing worker module '_support.cli_apps.boom_on_import' failed: "
        "RuntimeError: boom_on_import refuses to be imported (on purpose, for the CLI tests)"
    ), log
    assert "started (pid" not in log


def test_worker_failing_to_boot_in_its_process_exits_3_naming_the_worker(cli: StartCli, flavour: str) -> None:
    """The module imports in the parent but raises in the worker process: the child's boot fails,
    the CLI exits 3 within seconds with a reason naming the worker and the cause, and the worker is
    started exactly once (no restart)."""
    run = cli("_support.cli_apps.boom_in_child", flavour=flavour)
    assert run.wait_exit(QUICK) == EXIT_BOOT_FAILURE, run.tail()
    log = run.log()
    assert len(run.started_pids(BOOM_IN_CHILD_TASK)) == 1, log
    assert "restarting" not in log and "restart 1" not in log, log
    finished = run.matches(r"supervisor finished with exit code 3: (.*)$")
    assert len(finished) == 1, log
    reason = finished[0].group(1)
    assert reason.startswith(f"worker '{BOOM_IN_CHILD_TASK}' failed to start:"), reason
    assert "boom_in_child refuses to be imported in a worker process" in reason, reason
