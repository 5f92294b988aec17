"""``python -m conductor_actors outbox list|retry|purge|assign``: inspect and act on the outbox journal.

Works on the journal file directly (a running worker tree picks the changes up within its
``check_interval``). Every entry belongs to a server; ``--server-url`` limits ``list``, ``retry``
and ``purge`` to one server's entries (all of them by default: a tree delivers only its own
server's entries, so acting on all is safe). ``assign`` gives entries of unknown server (kept by
an older version) to a server. Exit codes: 0 done, 2 usage error or an unreadable journal.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from .recovery import DEFAULT_FILE_NAME, Journal, JournalEntry, JournalError, ServerIdentity, normalise_api_root
from .settings import default_state_dir

__all__ = ["outbox_main"]


def _api_root(value: str) -> str:
    """An argparse type: the URL normalised as the outbox records it."""
    try:
        return normalise_api_root(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
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


def outbox_main(argv: Sequence[str], out: TextIO | None = None) -> int:
    """Run one outbox command; returns the exit code."""
    out = sys.stdout if out is None else out
    options = _parser().parse_args(list(argv))
    directory = os.path.abspath(os.path.expanduser(options.state_dir or default_state_dir()))
    path = os.path.join(directory, DEFAULT_FILE_NAME)
    if not os.path.exists(path):
        print(f"no outbox journal at {path}: no result was ever kept there", file=out)
        return 0
    try:
        journal = Journal(path)
    except JournalError as exc:
        print(f"conductor_actors outbox: error: {exc}", file=sys.stderr)
        return 2
    try:
        if options.command == "list":
            _list(journal, out, include_closed=options.all, server_url=options.server_url)
        elif options.command == "retry":
            revived = journal.revive(options.ids or None, server=options.server_url)
            due = journal.retry_now(server=options.server_url)
            print(f"{revived} dead {_entries(revived)} back in the outbox; {due} {_entries(due)} due for delivery now",
                  file=out)
        elif options.command == "assign":
            server = ServerIdentity(options.url, options.key_id or None)
            changed = journal.assign(server, options.ids or None)
            print(f"{changed} {_entries(changed)} now belong to {server.label()}: a worker tree of that server "
                  f"delivers the pending ones (dead ones after `outbox retry`)", file=out)
        else:
            closed = journal.purge("closed", server=options.server_url)
            dead = journal.purge("dead", server=options.server_url) if options.dead else 0
            print(f"deleted {closed} closed and {dead} dead {_entries(closed + dead)}", file=out)
    except JournalError as exc:
        print(f"conductor_actors outbox: error: {exc}", file=sys.stderr)
        return 2
    finally:
        journal.close()
    return 0


def _entries(count: int) -> str:
    return "entry" if count == 1 else "entries"


def _list(journal: Journal, out: TextIO, *, include_closed: bool, server_url: str | None) -> None:
    counts = journal.counts(server=server_url)
    print(f"outbox {journal.path}{f' (server {server_url})' if server_url else ''}: {counts['pending']} pending, "
          f"{counts['dead']} dead, {counts['closed']} closed", file=out)
    now = time.time()
    tables = ["pending", "dead"] + (["closed"] if include_closed else [])
    for table in tables:
        entries = journal.entries(table, server=server_url)
        if not entries:
            continue
        print(f"\n{table}:", file=out)
        for entry in entries:
            print("  " + _describe(entry, table, now), file=out)


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
