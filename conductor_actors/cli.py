"""``python -m conductor_actors``: run the workers of some modules until SIGTERM/SIGINT.

One clear line for every bad input, and exit codes a process manager can act on (``EXIT_*``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from ._version import __version__

__all__ = [
    "EXIT_BOOT_FAILURE",
    "EXIT_GAVE_UP",
    "EXIT_OK",
    "EXIT_USAGE",
    "main",
]

#: Exit codes (also in --help).
EXIT_OK = 0  # a clean stop (SIGTERM/SIGINT handled gracefully)
EXIT_GAVE_UP = 1  # the supervisor gave up: workers crashed more often than the restart intensity allows
EXIT_USAGE = 2  # bad arguments, environment values or modules; a port in use
EXIT_BOOT_FAILURE = 3  # a worker failed to boot (e.g. its module raised on import)
# 130 / 143: stopped by a second SIGINT / SIGTERM (the fast path: running tasks were cut short)

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m conductor_actors",
        description="Run the Conductor workers (@worker_task functions) found in MODULEs, each in a supervised "
        "process, until SIGTERM or SIGINT. `python -m conductor_actors outbox --help` shows the commands for "
        "the outbox of undelivered results.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("modules", nargs="*", metavar="MODULE",
                        help="modules or packages to import (packages are scanned recursively)")
    parser.add_argument("--server-url", metavar="URL",
                        help="Conductor API root including /api (default: $CONDUCTOR_SERVER_URL)")
    parser.add_argument("--dev-server", nargs="?", const=8080, type=_port, metavar="PORT",
                        help="start the embedded dev server in this process on PORT (default 8080; 0 = any free "
                        "port) and point the workers at it; for local development only")
    parser.add_argument("--metrics-port", type=_port, metavar="PORT",
                        help="serve Prometheus /metrics and /health on PORT")
    parser.add_argument("--metrics-dir", metavar="DIR", help="write metrics to DIR/metrics.prom instead")
    parser.add_argument("--log-level", default="INFO", type=str.upper,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], help="default INFO")
    parser.add_argument("--shutdown-timeout", type=_positive, metavar="SECONDS",
                        help="grace period for running tasks on SIGTERM (default: $CONDUCTOR_ACTORS_SHUTDOWN_GRACE, "
                        "else 20)")
    parser.add_argument("--state-dir", metavar="DIR",
                        help="where the outbox journal of undelivered results lives (default: "
                        "$CONDUCTOR_ACTORS_STATE_DIR or the per-user state directory)")
    parser.add_argument("--no-recovery", action="store_true",
                        help="do not keep undelivered results in the outbox (they are logged and lost)")
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
        from ._outbox_cli import outbox_main

        return outbox_main(args[1:])
    parser = build_parser()
    options = parser.parse_args(args)
    _configure_logging(options.log_level)
    try:
        return _run(options, parser)
    except UsageError as exc:
        print(f"conductor_actors: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s [%(processName)s %(process)d] %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpcore", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))


def _run(options: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .client._config import Configuration, ConfigurationError
    from .metrics._settings import MetricsSettingsError
    from .recovery import RecoverySettingsError
    from .worker import WorkerConfigError, WorkerDiscoveryError, WorkerRegistrationError

    if not options.modules:
        parser.print_usage(sys.stderr)
        raise UsageError("give at least one MODULE whose @worker_task functions should run")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`, so `my_app.workers` resolves from here
    _check_modules_exist(options.modules)
    try:
        handler = _build_handler(options)
    except WorkerDiscoveryError as exc:
        print(f"conductor_actors: error: {exc}", file=sys.stderr)
        return EXIT_BOOT_FAILURE
    except (WorkerConfigError, WorkerRegistrationError, ConfigurationError, ValueError, TypeError) as exc:
        raise UsageError(str(exc).splitlines()[0]) from exc
    if not handler.workers:
        raise UsageError(f"no @worker_task workers found in {', '.join(options.modules)}")
    if options.list:
        _print_workers(handler, sys.stdout)
        return EXIT_OK
    server = _start_dev_server(options.dev_server) if options.dev_server is not None else None
    if server is not None:
        handler.configuration = Configuration(server_api_url=server.url, env={})
    try:
        return handler.run()
    except (MetricsSettingsError, RecoverySettingsError) as exc:
        raise UsageError(str(exc)) from exc
    finally:
        if server is not None:
            server.close()


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


def _build_handler(options: argparse.Namespace) -> Any:
    from ._env_settings import settings_from_env
    from .client._config import Configuration
    from .handler import TaskHandler
    from .metrics._settings import MetricsSettings
    from .recovery import RecoverySettings
    from .supervision import SupervisionSettings

    configuration = Configuration(server_api_url=options.server_url) if options.server_url else Configuration()
    metrics = None
    if options.metrics_port is not None or options.metrics_dir is not None:
        metrics = MetricsSettings(http_port=options.metrics_port, directory=options.metrics_dir)
    overrides = {} if options.shutdown_timeout is None else {"shutdown_grace": options.shutdown_timeout}
    supervision = settings_from_env(SupervisionSettings, **overrides)
    recovery_overrides: dict[str, Any] = {}
    if options.no_recovery:
        recovery_overrides["enabled"] = False
    if options.state_dir:
        recovery_overrides["state_dir"] = options.state_dir
    recovery = settings_from_env(RecoverySettings, prefix="CONDUCTOR_ACTORS_RECOVERY_", **recovery_overrides)
    return TaskHandler(
        configuration=configuration, metrics_settings=metrics, import_modules=options.modules,
        scan_for_annotated_workers=True, supervision=supervision, recovery=recovery, log_level=options.log_level,
    )


def _start_dev_server(port: int) -> Any:
    from .devserver import DevServer

    try:
        server = DevServer(host="127.0.0.1", port=port).start()
    except OSError as exc:
        raise UsageError(f"--dev-server: cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from exc
    _log.info("embedded dev server at %s (for local development and tests, not production)", server.url)
    return server


def _print_workers(handler: Any, out: TextIO) -> None:
    for worker in handler.workers:
        config = handler.configs[id(worker)]
        flavour = "async" if worker.is_async else "sync"
        print(f"{config.oneline(pid=0).replace(', pid=0', '')} [{flavour}]", file=out)
        overridden = {k: v for k, v in config.sources.items() if v not in ("code", "default")}
        for prop, source in sorted(overridden.items()):
            print(f"    {prop} from {source}", file=out)
