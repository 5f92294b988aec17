"""Quick start: an order pipeline on the embedded dev server, end to end.

    python examples/order_pipeline.py [--orders 300]

The same as ``python -m conductor_actors demo``, which needs no checkout: the pipeline (a workflow
of validate_order, charge_payment and send_confirmation, with sync and async workers mixed) lives
in the package, in ``conductor_actors/_demo.py``. It starts the embedded dev server, runs the
workers with ``TaskHandler``, starts the orders, shows progress and prints a summary.
"""

from __future__ import annotations

import sys

from conductor_actors._demo import demo_main

if __name__ == "__main__":
    sys.exit(demo_main())
