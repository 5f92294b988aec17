"""``python -m conductor_actors outbox list|retry|purge``: inspect and act on the outbox journal.

Works on the journal file directly (a running worker tree picks the changes up within its
``check_interval``). Exit codes: 0 done, 2 usage error or an unreadable journal.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from .recovery import DEFAULT_FILE_NAME, Journal, JournalEntry, JournalError, default_state_dir

__all__ = ["outbox_main"]


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
    show = commands.add_parser("list", parents=[common],
                               help="counts and entries (pending and dead; --all adds closed ones)")
    show.add_argument("--all", action="store_true", help="also list closed entries (delivered or not needed)")
    retry = commands.add_parser("retry", parents=[common],
                                help="put dead entries back in the outbox and make every entry due now")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID", help="only these dead entries (default: all)")
    purge = commands.add_parser(
        "purge", parents=[common], help="delete closed entries (--dead: delete dead entries too)"
    )
    purge.add_argument("--dead", action="store_true", help="also delete dead entries (their results are lost)")
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
            _list(journal, out, include_closed=options.all)
        elif options.command == "retry":
            revived = journal.revive(options.ids or None)
            due = journal.retry_now()
            print(f"{revived} dead entr{'y' if revived == 1 else 'ies'} back in the outbox; "
                  f"{due} entr{'y' if due == 1 else 'ies'} due for delivery now", file=out)
        else:
            closed = journal.purge("closed")
            dead = journal.purge("dead") if options.dead else 0
            print(f"deleted {closed} closed and {dead} dead entr{'y' if closed + dead == 1 else 'ies'}", file=out)
    except JournalError as exc:
        print(f"conductor_actors outbox: error: {exc}", file=sys.stderr)
        return 2
    finally:
        journal.close()
    return 0


def _list(journal: Journal, out: TextIO, *, include_closed: bool) -> None:
    counts = journal.counts()
    print(f"outbox {journal.path}: {counts['pending']} pending, {counts['dead']} dead, "
          f"{counts['closed']} closed", file=out)
    now = time.time()
    tables = ["pending", "dead"] + (["closed"] if include_closed else [])
    for table in tables:
        entries = journal.entries(table)
        if not entries:
            continue
        print(f"\n{table}:", file=out)
        for entry in entries:
            print("  " + _describe(entry, table, now), file=out)


def _describe(entry: JournalEntry, table: str, now: float) -> str:
    head = (f"#{entry.id} {entry.task_type} task {entry.task_id} (workflow {entry.workflow_id}), "
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
