"""Run worker modules the way the feature document shows: ``with TaskHandler(...) as handler:``.

    python -m _support.migration.handler_main MODULE [MODULE ...]     (from the tests directory)

The handler is built as in the document's "Worker model" and "Event-Driven Interceptor System"
sections (``Configuration()`` from ``CONDUCTOR_SERVER_URL``, ``scan_for_annotated_workers=True``,
``import_modules``, the example listeners), then ``start_processes()`` and ``join_processes()``.
Ctrl-C (SIGINT) ends the ``with`` block, which stops the workers gracefully; the script then prints
``stopped with exit code N`` and exits 0.
"""

from __future__ import annotations

import sys

from conductor_actors import Configuration, TaskHandler

from ._doc_names import CustomAuditLogger, PrometheusMetricsCollector
from .listeners import CostTracker, CustomMonitor, SLAMonitor, UpdateFailureHandler


def main(modules: list[str]) -> None:
    config = Configuration()
    with TaskHandler(
        configuration=config,
        scan_for_annotated_workers=True,
        import_modules=modules,
        event_listeners=[
            PrometheusMetricsCollector(),
            SLAMonitor(threshold_ms=5000),
            CostTracker(cost_per_second={'ml_task': 0.05}),
            CustomAuditLogger(),
            CustomMonitor(),
            UpdateFailureHandler(),
        ],
    ) as handler:
        handler.start_processes()
        handler.join_processes()


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        print("stopped by Ctrl-C", flush=True)
