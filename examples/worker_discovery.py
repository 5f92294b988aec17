"""Discover workers by scanning a package, then run what was found.

    python examples/worker_discovery.py

``examples/discovered/`` is a small package of worker modules (``greetings.py`` and the sub-package
``billing/``). ``WorkerLoader`` imports a package's modules so their ``@worker_task`` decorators
register: ``recursive=False`` stops at the package's own modules, the default also scans
sub-packages. ``print_summary()`` lists what was found; ``get_workers()`` returns only the workers
of the modules this loader scanned. ``TaskHandler(import_modules=[...])`` does the same scan and
starts one process per worker; passing ``workers=loader.get_workers()`` as well starts each
worker once, not twice.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from conductor_actors import Configuration, TaskHandler, WorkerLoader, auto_discover_workers
from conductor_actors.devserver import DevServer

WORKFLOW: dict[str, Any] = {
    "name": "greet_and_bill",
    "version": 1,
    "schemaVersion": 2,
    "tasks": [
        {"name": "greet_sync", "taskReferenceName": "greet", "inputParameters": {"name": "${workflow.input.name}"}},
        {"name": "greet_async", "taskReferenceName": "again",
         "inputParameters": {"greeting": "${greet.output.greeting}"}},
        {"name": "create_invoice", "taskReferenceName": "bill",
         "inputParameters": {"customer": "${workflow.input.name}", "amount": "${workflow.input.amount}"}},
    ],
    "outputParameters": {"greeting": "${again.output.greeting}", "invoice": "${bill.output.invoice}"},
}


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    shallow = WorkerLoader()
    shallow.scan_packages(["discovered"], recursive=False)
    print(f"recursive=False: {shallow.get_worker_count()} workers {shallow.get_worker_names()}")

    loader = auto_discover_workers(packages=["discovered"], print_summary=True)  # recursive by default

    with DevServer() as server:
        server.register_workflow(WORKFLOW)
        handler = TaskHandler(
            configuration=Configuration(server_api_url=server.url),
            workers=loader.get_workers(),
            import_modules=["discovered"],  # scanning again finds the same workers: no duplicates
        )
        with handler:
            if not handler.wait_ready(timeout=30):
                print("workers did not start; see the log above", file=sys.stderr)
                return 1
            print(f"started {len(handler.status())} worker processes: "
                  + ", ".join(sorted(status.key for status in handler.status())))
            workflow_id = server.start_workflow(WORKFLOW["name"], {"name": "ada", "amount": 42})
            server.wait_for_workflows([workflow_id], timeout=30)
        workflow = server.get_workflow(workflow_id)
    print(f"workflow {workflow['status']}: {workflow['output']}")
    return 0 if workflow["status"] == "COMPLETED" else 1


if __name__ == "__main__":
    sys.exit(main())
