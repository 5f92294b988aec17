"""``python -m conductor_actors``: see ``conductor_actors.cli``."""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    # Imported here, not above: a worker process started with "spawn" re-imports this module as
    # ``__mp_main__`` and needs none of the command line (argparse and the rest).
    from .cli import main

    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # output piped into `head` or similar: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)
