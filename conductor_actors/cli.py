"""``python -m conductor_actors``: run the workers of some modules until SIGTERM/SIGINT, and the
``outbox list|retry|purge|assign`` commands that inspect and act on the outbox journal.

One clear line for every bad input, and exit codes a process manager can act on (``EXIT_*``).
Runs on the main thread of the process; a bad input is a ``UsageError`` (exit code 2), never a
traceback. The outbox commands work on the journal file directly (a running worker tree picks the
changes up within its ``check_interval``); their exit codes: 0 done, 2 usage error or an
unreadable journal. Modules the commands need are imported when a command runs, so ``--help`` and
``--version`` stay cheap.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from ._logging import configure_logging
from ._version import __version__

if TYPE_CHECKING:
    from .recovery import Journal, JournalEntry

__all__ = [
    "DEFAULT_DEV_SERVER_PORT",
    "EXIT_BOOT_FAILURE",
    "EXIT_GAVE_UP",
    "EXIT_OK",
    "EXIT_USAGE",
    "main",
]

#: Exit codes (also in --help). 0, 1 and 3 are the tree's (``conductor_actors.supervision.TREE_EXIT_*``,
#: which a tree's run returns); they are repeated here so that ``--help`` and ``--version`` do not
#: import the supervisor, and a test holds them equal.
EXIT_OK = 0  # a clean stop (SIGTERM/SIGINT handled gracefully)
EXIT_GAVE_UP = 1  # the supervisor gave up: workers crashed more often than the restart intensity allows
EXIT_USAGE = 2  # bad arguments, environment values or modules; a port in use
EXIT_BOOT_FAILURE = 3  # a worker failed to boot (e.g. its module raised on import)
# 130 / 143: stopped by a second SIGINT / SIGTERM (the fast path: running tasks were cut short)

#: The port of ``--dev-server`` given without ``=PORT``.
DEFAULT_DEV_SERVER_PORT = 8080
_DEV_SERVER = "--dev-server"

_log = logging.getLogger("conductor_actors.cli")

_EPILOG = """\
environment:
  CONDUCTOR_SERVER_URL       Conductor API root including /api (default http://localhost:8080/api)
  CONDUCTOR_AUTH_KEY, CONDUCTOR_AUTH_SECRET   application key credentials (both, or neither)
  conductor.worker.<name>.<prop>, CONDUCTOR_WORKER_<NAME>_<PROP>, conductor.worker.all.<prop>,
  CONDUCTOR_WORKER_ALL_<PROP>  per-worker settings (see docs/configuration.md)

exit codes:
  0    clean stop (SIGTERM or SIGINT: running tasks finished or were handed back)
  1    the supervisor gave up: workers crashed more often than the restart intensity allows
  2    usage or configuration error (bad option, module or environment value; port in use)
  3    a worker failed to boot (e.g. its module raised on import); it is not restarted
  130  stopped by a second SIGINT (fast stop)    143  stopped by a second SIGTERM (fast stop)
"""


class UsageError(Exception):
    """A bad input found before anything runs; the message is one line for the user."""


class _Parser(argparse.ArgumentParser):
    """The CLI's parser: a bare ``--dev-server`` never takes the next argument as its port.

    argparse would read ``--dev-server my_app.workers`` as the port ``my_app.workers``; here the
    port must be attached (``--dev-server=PORT``) and a bare ``--dev-server`` means
    ``DEFAULT_DEV_SERVER_PORT``. Abbreviated options are off, so no prefix of ``--dev-server``
    can take a value either.
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        return super().parse_known_args(self._attach_dev_server_port(args), namespace)

    def _attach_dev_server_port(self, args: Sequence[str] | None) -> list[str]:
        """``args`` with each bare ``--dev-server`` (before a ``--``) as ``--dev-server=8080``;
        a port given as the next argument is an error that shows the attached form."""
        given = list(sys.argv[1:] if args is None else args)
        end = _options_end(given)
        for index in range(end):
            if given[index] != _DEV_SERVER:
                continue
            following = given[index + 1] if index + 1 < end else ""
            if following.isdigit():
                self.error(f"argument {_DEV_SERVER}: give the port attached, as {_DEV_SERVER}={following} "
                           f"(a bare {_DEV_SERVER} listens on {DEFAULT_DEV_SERVER_PORT})")
            given[index] = f"{_DEV_SERVER}={DEFAULT_DEV_SERVER_PORT}"
        return given


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows ``--dev-server[=PORT]``: the port is optional and only ever attached."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if _DEV_SERVER in action.option_strings:
            return f"{_DEV_SERVER}[={action.metavar}]"
        return super()._format_action_invocation(action)


_USAGE = """\
%(prog)s [OPTIONS] MODULE [MODULE ...]
       %(prog)s outbox [--state-dir DIR] COMMAND ...
       %(prog)s demo [--orders N]"""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m conductor_actors",
        usage=_USAGE,
        allow_abbrev=False,
        description="Run the Conductor workers found in MODULEs (@worker_task functions, and Worker or\n"
        "WorkerInterface objects held at module level), each in a supervised process, until SIGTERM or\n"
        "SIGINT. `python -m conductor_actors outbox --help` shows the commands for the outbox of\n"
        "undelivered results; `python -m conductor_actors demo` runs the quick start (an order pipeline on\n"
        "the embedded dev server).",
        epilog=_EPILOG,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("modules", nargs="*", metavar="MODULE",
                        help="modules or packages to import (packages are scanned recursively)")
    parser.add_argument("--server-url", metavar="URL",
                        help="Conductor API root including /api (default: $CONDUCTOR_SERVER_URL)")
    parser.add_argument(_DEV_SERVER, type=_port, metavar="PORT",
                        help=f"start the embedded dev server in this process and point the workers at it; a bare "
                        f"{_DEV_SERVER} listens on {DEFAULT_DEV_SERVER_PORT}, {_DEV_SERVER}=PORT on PORT (0 = any "
                        "free port); for local development only")
    parser.add_argument("--metrics-port", type=_port, metavar="PORT",
                        help="serve Prometheus /metrics, /health (liveness) and /ready (readiness) on PORT")
    parser.add_argument("--metrics-dir", metavar="DIR", help="write metrics to DIR/metrics.prom instead")
    parser.add_argument("--log-level", default="INFO", type=str.upper,
                        choices=["TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                        help="default INFO; TRACE adds a line per poll")
    parser.add_argument("--log-format", default="text", choices=["text", "json"],
                        help="text (default) or json: one JSON object per line, for log aggregators")
    parser.add_argument("--log-tasks", action="store_true",
                        help="log a line per completed task (failed tasks are always logged)")
    parser.add_argument("--shutdown-timeout", type=_positive, metavar="SECONDS",
                        help="grace period for running tasks on SIGTERM (default: $CONDUCTOR_ACTORS_SHUTDOWN_GRACE, "
                        "else 20)")
    parser.add_argument("--state-dir", metavar="DIR",
                        help="where the outbox journal of undelivered results lives (default: "
                        "$CONDUCTOR_ACTORS_STATE_DIR or the per-user state directory)")
    parser.add_argument("--no-recovery", action="store_true",
                        help="do not keep undelivered results in the outbox (they are logged and lost)")
    parser.add_argument("--reload", action="store_true",
                        help="restart the worker processes when a source file of the MODULEs changes (development)")
    parser.add_argument("--list", action="store_true",
                        help="print the workers found with their resolved configuration and exit")
    parser.add_argument("--version", action="version", version=f"conductor-actors {__version__}")
    return parser


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0-65535)")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (``python -m conductor_actors`` exits with it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "outbox":
        return _outbox_main(args[1:])
    if args and args[0] == "demo":
        from ._demo import demo_main

        return demo_main(args[1:])
    parser = build_parser()
    options = parser.parse_args(args)
    configure_logging(options.log_level, options.log_format, log_tasks=options.log_tasks)
    try:
        if options.reload and options.modules and not options.list:
            return _run_with_reload(args, options)
        return _run(options, parser)
    except UsageError as exc:
        print(f"conductor_actors: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _run_with_reload(args: list[str], options: argparse.Namespace) -> int:
    """``--reload``: the workers run in a child command that is restarted on a source change.

    With ``--dev-server`` the embedded server lives here, in the watcher, and the child is pointed at
    it with ``--server-url``: its workflows, definitions and port (and so the web page) survive each
    restart of the workers. Raises ``UsageError`` for conflicting options or a port in use."""
    from ._reload import run_with_reload

    end = _options_end(args)
    child_args = [a for i, a in enumerate(args) if not (i < end and a == "--reload")]
    if options.dev_server is None:
        return run_with_reload(child_args, options.modules)
    _refuse_two_servers(options)
    server = _start_dev_server(options.dev_server)
    try:
        end = _options_end(child_args)
        child_args = [a for i, a in enumerate(child_args)
                      if not (i < end and (a == _DEV_SERVER or a.startswith(_DEV_SERVER + "=")))]
        # The embedded server ignores the environment's credentials; so does the child.
        env = {k: v for k, v in os.environ.items() if k not in ("CONDUCTOR_AUTH_KEY", "CONDUCTOR_AUTH_SECRET")}
        return run_with_reload(["--server-url", server.url, *child_args], options.modules, env=env)
    finally:
        server.close()


def _run(options: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .client import ConfigurationError
    from .settings import MetricsSettingsError, RecoverySettingsError
    from .worker import WorkerConfigError, WorkerDiscoveryError, WorkerRegistrationError

    if not options.modules:
        parser.print_usage(sys.stderr)
        raise UsageError("give at least one MODULE whose @worker_task functions should run")
    _refuse_two_servers(options)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`, so `my_app.workers` resolves from here
    _check_modules_exist(options.modules)
    # The embedded server runs before the handler is built: every part of the handler (worker
    # processes, the outbox) is built with its address. `--list` contacts no server.
    server = None if options.list or options.dev_server is None else _start_dev_server(options.dev_server)
    try:
        try:
            handler = _build_handler(options, _configuration(options, server))
        except WorkerDiscoveryError as exc:
            print(f"conductor_actors: error: {exc}", file=sys.stderr)
            return EXIT_BOOT_FAILURE
        except (WorkerConfigError, WorkerRegistrationError, ConfigurationError, ValueError, TypeError) as exc:
            raise UsageError(str(exc).splitlines()[0]) from exc
        if not handler.workers:
            raise UsageError(f"no workers found in {', '.join(options.modules)}: no @worker_task function, "
                             "and no Worker or WorkerInterface object at module level")
        if options.list:
            _print_workers(handler, sys.stdout)
            return EXIT_OK
        try:
            return handler.run()
        except (MetricsSettingsError, RecoverySettingsError) as exc:
            raise UsageError(str(exc)) from exc
        except WorkerRegistrationError as exc:  # a worker a worker process cannot re-create
            raise UsageError(str(exc).splitlines()[0]) from exc
    finally:
        if server is not None:
            server.close()


def _options_end(args: Sequence[str]) -> int:
    """Where the options end: at a ``--`` (what follows belongs to the workers' program), else
    after the last argument."""
    return args.index("--") if "--" in args else len(args)


def _refuse_two_servers(options: argparse.Namespace) -> None:
    """Raise ``UsageError`` when both ``--server-url`` and ``--dev-server`` choose the server."""
    if options.dev_server is not None and options.server_url:
        raise UsageError(f"--server-url and {_DEV_SERVER} both choose the Conductor server: give one of them")


def _check_modules_exist(modules: Sequence[str]) -> None:
    import importlib.util

    for name in modules:
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            found = None
        except Exception:  # the parent package raised on import: that is a boot failure, reported later
            continue
        if found is None:
            raise UsageError(f"no module named {name!r} (run from the directory that contains it, or set PYTHONPATH)")


def _configuration(options: argparse.Namespace, server: Any) -> Any:
    """The client configuration: the embedded server's (without the environment's credentials),
    else ``--server-url``, else the environment's. Raises ``ConfigurationError`` for bad values."""
    from .client import Configuration

    if server is not None:
        return Configuration(server_api_url=server.url, env={})
    if options.server_url:
        return Configuration(server_api_url=options.server_url)
    return Configuration()


def _build_handler(options: argparse.Namespace, configuration: Any) -> Any:
    """The handler of every worker the modules define: their ``@worker_task`` functions and their
    module-level worker objects, as ``TaskHandler(workers=[...], scan_for_annotated_workers=True)``
    runs them. Raises what importing the modules and building the handler raise."""
    from .handler import TaskHandler
    from .settings import CommandLine, build_tree_settings
    from .worker import WorkerLoader

    loader = WorkerLoader()
    loader.scan_packages(options.modules, recursive=True)
    settings = build_tree_settings(
        log_level=options.log_level, log_format=options.log_format, log_tasks=options.log_tasks,
        command_line=CommandLine(
            shutdown_timeout=options.shutdown_timeout, state_dir=options.state_dir, no_recovery=options.no_recovery,
            metrics_port=options.metrics_port, metrics_dir=options.metrics_dir,
        ),
    )
    # The sections go in as given, so the handler's own merge keeps them.
    return TaskHandler(
        workers=loader.get_module_level_workers(), configuration=configuration, scan_for_annotated_workers=True,
        supervision=settings.supervision, runtime_settings=settings.runtime, metrics_settings=settings.metrics,
        recovery=settings.recovery or False, log_level=settings.log_level, log_format=settings.log_format,
        log_tasks=settings.log_tasks,
    )


def _start_dev_server(port: int) -> Any:
    from .devserver import DevServer

    try:
        server = DevServer(host="127.0.0.1", port=port).start()
    except OSError as exc:
        raise UsageError(f"{_DEV_SERVER}: cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from exc
    _log.info("embedded dev server at %s (for local development and tests, not production)", server.url)
    _log.info("dev server web UI at %s (workflows and their tasks; start, terminate, retry, restart)",
              server.ui_url)
    return server


def _print_workers(handler: Any, out: TextIO) -> None:
    for worker in handler.workers:
        config = handler.configs[id(worker)]
        flavour = "async" if worker.is_async else "sync"
        print(f"{config.oneline(pid=0).replace(', pid=0', '')} [{flavour}]", file=out)
        overridden = {k: v for k, v in config.sources.items() if v not in ("code", "default")}
        for prop, source in sorted(overridden.items()):
            print(f"    {prop} from {source}", file=out)


# --- python -m conductor_actors outbox ---


def _api_root(value: str) -> str:
    """An argparse type: the URL normalised as the outbox records it."""
    from .recovery import normalise_api_root

    try:
        return normalise_api_root(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _outbox_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m conductor_actors outbox",
        description="Inspect and act on the outbox: task results whose update failed, kept until delivered.",
    )
    parser.add_argument("--state-dir", metavar="DIR",
                        help="the state directory (default: $CONDUCTOR_ACTORS_STATE_DIR or the per-user state dir)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # --state-dir is accepted before or after the command (`outbox list --state-dir DIR`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", metavar="DIR", default=argparse.SUPPRESS, help="the state directory")
    # --server-url limits a command to the entries of one API root (any key id).
    scoped = argparse.ArgumentParser(add_help=False)
    scoped.add_argument("--server-url", metavar="URL", type=_api_root,
                        help="only the entries of this server (its API root, e.g. http://host:8080/api)")
    show = commands.add_parser("list", parents=[common, scoped],
                               help="counts and entries with their servers (pending and dead; --all adds closed ones)")
    show.add_argument("--all", action="store_true", help="also list closed entries (delivered or not needed)")
    retry = commands.add_parser("retry", parents=[common, scoped],
                                help="put dead entries back in the outbox and make every entry due now")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID", help="only these dead entries (default: all)")
    purge = commands.add_parser(
        "purge", parents=[common, scoped], help="delete closed entries (--dead: delete dead entries too)"
    )
    purge.add_argument("--dead", action="store_true", help="also delete dead entries (their results are lost)")
    assign = commands.add_parser(
        "assign", parents=[common],
        help="give entries of unknown server (or the ids given) to a server, whose worker trees then deliver them",
    )
    assign.add_argument("url", type=_api_root, metavar="URL", help="the server's API root, e.g. http://host:8080/api")
    assign.add_argument("--key-id", metavar="KEY", help="the application key id the server's trees use, if any")
    assign.add_argument("ids", nargs="*", type=int, metavar="ID",
                        help="only these pending or dead entries, whatever their server (default: every entry "
                             "of unknown server)")
    return parser


def _outbox_main(argv: Sequence[str], out: TextIO | None = None) -> int:
    """Run one outbox command; returns the exit code."""
    from .recovery import DEFAULT_FILE_NAME, Journal, JournalError
    from .settings import default_state_dir

    out = sys.stdout if out is None else out
    options = _outbox_parser().parse_args(list(argv))
    directory = os.path.abspath(os.path.expanduser(options.state_dir or default_state_dir()))
    path = os.path.join(directory, DEFAULT_FILE_NAME)
    if not os.path.exists(path):
        print(f"no outbox journal at {path}: no result was ever kept there", file=out)
        return EXIT_OK
    journal: Journal | None = None
    try:
        journal = Journal(path)
        _OUTBOX_COMMANDS[options.command](journal, options, out)
    except JournalError as exc:  # an unreadable journal, opening it or during the command
        print(f"conductor_actors outbox: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if journal is not None:
            journal.close()
    return EXIT_OK


def _outbox_list(journal: Journal, options: argparse.Namespace, out: TextIO) -> None:
    server_url = options.server_url
    counts = journal.counts(server=server_url)
    print(f"outbox {journal.path}{f' (server {server_url})' if server_url else ''}: {counts['pending']} pending, "
          f"{counts['dead']} dead, {counts['closed']} closed", file=out)
    now = time.time()
    tables = ["pending", "dead"] + (["closed"] if options.all else [])
    for table in tables:
        entries = journal.entries(table, server=server_url)
        if not entries:
            continue
        print(f"\n{table}:", file=out)
        for entry in entries:
            print("  " + _describe(entry, table, now), file=out)


def _outbox_retry(journal: Journal, options: argparse.Namespace, out: TextIO) -> None:
    revived = journal.revive(options.ids or None, server=options.server_url)
    due = journal.retry_now(server=options.server_url)
    print(f"{revived} dead {_entries(revived)} back in the outbox; {due} {_entries(due)} due for delivery now",
          file=out)


def _outbox_assign(journal: Journal, options: argparse.Namespace, out: TextIO) -> None:
    from .recovery import ServerIdentity

    server = ServerIdentity(options.url, options.key_id or None)
    changed = journal.assign(server, options.ids or None)
    print(f"{changed} {_entries(changed)} now belong to {server.label()}: a worker tree of that server "
          f"delivers the pending ones (dead ones after `outbox retry`)", file=out)


def _outbox_purge(journal: Journal, options: argparse.Namespace, out: TextIO) -> None:
    closed = journal.purge("closed", server=options.server_url)
    dead = journal.purge("dead", server=options.server_url) if options.dead else 0
    print(f"deleted {closed} closed and {dead} dead {_entries(closed + dead)}", file=out)


#: The outbox's sub-commands (the parser's names) and what each does to the open journal.
_OUTBOX_COMMANDS: dict[str, Callable[[Journal, argparse.Namespace, TextIO], None]] = {
    "list": _outbox_list,
    "retry": _outbox_retry,
    "assign": _outbox_assign,
    "purge": _outbox_purge,
}


def _entries(count: int) -> str:
    return "entry" if count == 1 else "entries"


def _describe(entry: JournalEntry, table: str, now: float) -> str:
    server = entry.server.label() if entry.server is not None else "unknown"
    head = (f"#{entry.id} {entry.task_type} task {entry.task_id} (workflow {entry.workflow_id}), server {server}, "
            f"age {_age(now - entry.created_at)}, {entry.attempts} attempt(s)")
    if table == "closed":
        return f"{head}: {entry.reason}"
    status = entry.result.status.value if entry.result is not None and entry.result.status else "?"
    return f"{head}, result {status}" + (f": {entry.last_error}" if entry.last_error else "")


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
