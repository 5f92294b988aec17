"""Bad input gets one clear line and the documented exit code; --list, --version and --help."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from _support.cli_apps import SLEEPY_TASK, WAIT, one_task_workflow, start_workflows
from _support.ports import free_port

from conductor_actors import __version__
from conductor_actors.cli import EXIT_BOOT_FAILURE, EXIT_GAVE_UP, EXIT_OK, EXIT_USAGE
from conductor_actors.devserver import DevServer
from conductor_actors.supervision import TREE_EXIT_BOOT_FAILURE, TREE_EXIT_GAVE_UP, TREE_EXIT_OK

if TYPE_CHECKING:
    from .conftest import RunCli, StartCli

#: A usage error is reported this fast (no worker process is ever started).
QUICK = 10.0


def error_lines(stderr: str) -> list[str]:
    """The ``conductor_actors: error:`` lines of a run's stderr."""
    return [line for line in stderr.splitlines() if "error:" in line]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something is listening on for the whole test."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.fixture(name="free_port")
def free_port_fixture() -> int:
    """A loopback port nobody listens on (free when the test starts)."""
    return free_port()


def test_unknown_module_is_a_usage_error_of_one_line(run_cli: RunCli) -> None:
    """A module that does not exist: exit 2 and one line naming it; nothing is started."""
    done = run_cli("_support.cli_apps.no_such_scenario")
    assert done.code == EXIT_USAGE, done
    assert done.stderr.strip().splitlines() == [
        "conductor_actors: error: no module named '_support.cli_apps.no_such_scenario' "
        "(run from the directory that contains it, or set PYTHONPATH)"
    ], done
    assert done.seconds < QUICK


def test_module_without_workers_is_a_usage_error_of_one_line(run_cli: RunCli) -> None:
    """A module that imports but defines no @worker_task: exit 2, one line naming the module."""
    done = run_cli("_support.cli_apps.no_workers")
    assert done.code == EXIT_USAGE, done
    assert done.stderr.strip().splitlines() == [
        "conductor_actors: error: no workers found in _support.cli_apps.no_workers: no @worker_task function, "
        "and no Worker or WorkerInterface object at module level"
    ], done


def test_no_module_at_all_prints_usage_and_exits_2(run_cli: RunCli) -> None:
    """No MODULE argument: the usage and one error line saying a module is needed, exit 2."""
    done = run_cli()
    assert done.code == EXIT_USAGE, done
    assert done.stderr.startswith("usage: python -m conductor_actors"), done
    assert error_lines(done.stderr) == [
        "conductor_actors: error: give at least one MODULE whose @worker_task functions should run"
    ], done


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CONDUCTOR_WORKER_ALL_THREAD_COUNT", "zero", "thread_count must be an integer >= 1"),
        ("CONDUCTOR_WORKER_CLI_SLEEPY_POLL_INTERVAL", "soon", "poll_interval"),
        ("CONDUCTOR_ACTORS_MAX_RESTARTS", "many", "expected an integer"),
        ("CONDUCTOR_ACTORS_SHUTDOWN_GRACE", "-1", "shutdown_grace"),
        ("CONDUCTOR_ACTORS_UPDATE_RETRY_DELAYS", "1,two", "comma-separated numbers"),
    ],
)
def test_bad_environment_value_is_one_line_naming_the_variable(
    run_cli: RunCli, variable: str, value: str, message: str
) -> None:
    """A worker or runtime variable that does not parse or is out of range: exit 2, one line with
    its name and value (checked in the parent, before any worker process starts)."""
    done = run_cli("_support.cli_apps.sleepy", env={variable: value})
    assert done.code == EXIT_USAGE, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done
    assert lines[0].startswith(f"conductor_actors: error: {variable}"), done
    assert value in lines[0] and message in lines[0], done
    assert "started (pid" not in done.stderr


def test_dev_server_on_a_port_in_use_is_a_usage_error(run_cli: RunCli, busy_port: int) -> None:
    """``--dev-server=PORT`` with PORT taken: exit 2 and one line naming the port; no worker starts."""
    done = run_cli(f"--dev-server={busy_port}", "_support.cli_apps.sleepy")
    assert done.code == EXIT_USAGE, done
    assert done.stderr.strip().splitlines() == [
        f"conductor_actors: error: --dev-server: cannot listen on 127.0.0.1:{busy_port}: Address already in use"
    ], done


@pytest.mark.parametrize("argument", ["--dev-server=http", "--dev-server=70000", "--shutdown-timeout=-3",
                                      "--log-level=LOUD"])
def test_bad_option_value_is_a_usage_error(run_cli: RunCli, argument: str) -> None:
    """An option whose value makes no sense: argparse's usage plus one error line naming it, exit 2."""
    done = run_cli(argument, "_support.cli_apps.sleepy")
    assert done.code == EXIT_USAGE, done
    errors = error_lines(done.stderr)
    assert len(errors) == 1 and argument.split("=")[0] in errors[0], done


def test_dev_server_port_must_be_attached(run_cli: RunCli) -> None:
    """``--dev-server 9000 MODULE``: a bare ``--dev-server`` never takes the next argument, and a
    port there is an error of one line that shows the attached form; exit 2, nothing started."""
    done = run_cli("--dev-server", "9000", "_support.cli_apps.sleepy")
    assert done.code == EXIT_USAGE, done
    assert error_lines(done.stderr) == [
        "python -m conductor_actors: error: argument --dev-server: give the port attached, as "
        "--dev-server=9000 (a bare --dev-server listens on 8080)"
    ], done
    assert "started (pid" not in done.stderr


def test_server_url_and_dev_server_together_are_a_usage_error(run_cli: RunCli) -> None:
    """Both ``--server-url`` and ``--dev-server``: exit 2 and one line saying to give one."""
    done = run_cli("--server-url", "http://127.0.0.1:9/api", "--dev-server=0", "_support.cli_apps.sleepy")
    assert done.code == EXIT_USAGE, done
    assert done.stderr.strip().splitlines() == [
        "conductor_actors: error: --server-url and --dev-server both choose the Conductor server: give one of them"
    ], done


def test_unreachable_server_keeps_trying_with_a_warning_and_stops_cleanly(
    cli: StartCli, flavour: str, free_port: int
) -> None:
    """Nobody listens at the server URL: the CLI does not exit, the worker logs a WARNING naming the
    failed poll and keeps trying, so once a server appears at that URL its work completes; SIGTERM
    then stops the CLI with exit 0."""
    run = cli("_support.cli_apps.sleepy", flavour=flavour, env={
        "CONDUCTOR_SERVER_URL": f"http://127.0.0.1:{free_port}/api",
        "CONDUCTOR_ACTORS_POLL_ERROR_BACKOFF_CAP": "0.5",
    })
    run.wait_ready(SLEEPY_TASK)
    run.wait_for(rf"WARNING .*polling for {SLEEPY_TASK} failed .*connection failed", "a poll failure warning")
    assert run.process.poll() is None, run.tail()
    with DevServer(port=free_port) as server:
        ids = start_workflows(server, one_task_workflow(server, SLEEPY_TASK, ["seconds", "index"]),
                              ({"seconds": 0, "index": i} for i in range(3)))
        assert server.wait_for_workflows(ids, WAIT) == dict.fromkeys(ids, "COMPLETED")
        run.send(signal.SIGTERM)
        assert run.wait_exit() == EXIT_OK, run.tail()
    assert "supervisor finished with exit code 0" in run.log()


def test_list_prints_one_line_per_worker_with_its_configuration(run_cli: RunCli) -> None:
    """``--list`` prints each worker's resolved configuration (and where overrides came from) and
    exits 0 without starting anything."""
    done = run_cli("--list", "_support.cli_apps.pair", env={"CONDUCTOR_WORKER_CLI_PAIR_SYNC_THREAD_COUNT": "3"})
    assert done.code == EXIT_OK, done
    lines = done.stdout.splitlines()
    assert len(lines) == 3, done
    assert lines[0].startswith("Conductor Worker[name=cli_pair_sync,") and lines[0].endswith("[sync]")
    assert "thread_count=3" in lines[0]
    assert lines[1].strip() == "thread_count from CONDUCTOR_WORKER_CLI_PAIR_SYNC_THREAD_COUNT"
    assert lines[2].startswith("Conductor Worker[name=cli_pair_async,") and lines[2].endswith("[async]")
    assert "thread_count=8" in lines[2]
    assert "started (pid" not in done.stderr


def test_version_prints_the_package_version(run_cli: RunCli) -> None:
    """``--version`` prints ``conductor-actors <version>`` and exits 0."""
    done = run_cli("--version")
    assert done.code == EXIT_OK, done
    assert done.stdout.strip() == f"conductor-actors {__version__}"


def test_help_lists_every_exit_code(run_cli: RunCli) -> None:
    """``--help`` exits 0 and documents each exit code a process manager may see."""
    done = run_cli("--help")
    assert done.code == EXIT_OK, done
    assert "exit codes:" in done.stdout
    section = done.stdout.split("exit codes:", 1)[1]
    for code in (EXIT_OK, EXIT_GAVE_UP, EXIT_USAGE, EXIT_BOOT_FAILURE, 130, 143):
        assert f"  {code} " in section, f"exit code {code} missing from --help:\n{section}"
    assert "CONDUCTOR_SERVER_URL" in done.stdout
    assert "  --dev-server[=PORT]  " in done.stdout, "the port of --dev-server is only ever attached"
    assert "/ready" in " ".join(done.stdout.split()), "--metrics-port serves the readiness probe too"


def test_the_command_lines_exit_codes_of_a_tree_are_the_trees() -> None:
    """The command line names the tree's exit codes itself (so ``--help`` stays cheap): they must be
    the supervisor's."""
    assert (EXIT_OK, EXIT_GAVE_UP, EXIT_BOOT_FAILURE) == (TREE_EXIT_OK, TREE_EXIT_GAVE_UP, TREE_EXIT_BOOT_FAILURE)
