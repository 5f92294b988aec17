"""``python -m conductor_actors``: see ``conductor_actors.cli``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
