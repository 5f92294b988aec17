"""Command line: ``python -m conductor_actors.devserver --host 127.0.0.1 --port 8080``.

Runs the embedded dev server in the foreground until Ctrl-C or SIGTERM (exit 0). A port that is
already taken is one line on stderr and exit status 2. For local development and tests, not
production. ``main`` runs on the main thread and installs its own signal handlers.
"""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TextIO

from ._server import DevServer

__all__ = ["main"]

_log = logging.getLogger("conductor_actors.devserver")

_DESCRIPTION = (
    "Run the embedded Conductor-compatible dev server: in-memory task queues, polls with long-poll, "
    "task updates (v1 and v2), task and workflow definitions, workflows with the common system task "
    "types, the workflow-management endpoints, a web page at / to watch and steer workflows, optional "
    "token auth and fault injection. It is for local development and tests, not production: "
    "everything lives in memory and is lost when it stops, and it is not a distributed engine (see "
    "docs/devserver.md)."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m conductor_actors.devserver", description=_DESCRIPTION)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on, 0 for any free one "
                                                               "(default: %(default)s)")
    parser.add_argument("--auth-key", default=None, help="turn on token auth with this key id")
    parser.add_argument("--auth-secret", default=None, help="the key secret that goes with --auth-key")
    parser.add_argument("--token-ttl-seconds", type=float, default=3600.0,
                        help="how long an issued token stays valid (default: %(default)s)")
    parser.add_argument("--update-v2-poll-timeout-ms", type=int, default=100,
                        help="how long update-v2 waits for a next task (default: %(default)s)")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="log level of the server's log lines on stderr (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None, *, stderr: TextIO | None = None) -> int:
    """Run the server until SIGINT/SIGTERM; returns the exit status (0, or 2 for bad usage/port)."""
    err = stderr if stderr is not None else sys.stderr
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.auth_key is None) != (args.auth_secret is None):
        parser.error("--auth-key and --auth-secret go together")
    logging.basicConfig(level=args.log_level, stream=err, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server = DevServer(args.host, args.port, auth_key=args.auth_key, auth_secret=args.auth_secret,
                           token_ttl_seconds=args.token_ttl_seconds,
                           update_v2_poll_timeout_ms=args.update_v2_poll_timeout_ms)
    except ValueError as exc:
        parser.error(str(exc))
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            server.start()
        except OSError as exc:
            reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            print(f"conductor dev server: cannot listen on {args.host}:{args.port}: {reason}", file=err)
            server.close()
            return 2
        _log.info("Conductor dev server listening on %s (auth %s) - for local development and tests, "
                  "not production", server.url, "on" if args.auth_key else "off")
        _log.info("Web UI at %s (workflows, their tasks, start, terminate, retry, restart)", server.ui_url)
        stop.wait()
        _log.info("Conductor dev server stopping")
        server.close()
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
