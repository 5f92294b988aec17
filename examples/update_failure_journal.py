"""Keep your own journal of results the server never accepted: a parent-side actor for TaskUpdateFailure.

    python examples/update_failure_journal.py [--journal FILE] [--tasks 5]

Starts the embedded dev server and makes it answer every task update with HTTP 503 (a server having
a bad day). A worker runs the tasks in its own process; every result it cannot deliver after the
configured attempts becomes a ``TaskUpdateFailure`` event carrying the full ``TaskResult``. The
parent-side actor ``FailureJournal`` (a ``ThreadActor`` subscribed to that event) appends one JSON
line per failure to FILE, however many worker processes there are. The script prints what was
recorded, then brings the server back and replays the journal, so every workflow still completes.

The built-in outbox (``recovery``) does the same job durably; it is switched off here because this
script shows how to handle ``TaskUpdateFailure`` yourself (alerting, your own store...).
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import queue
import sys
import tempfile
from typing import Any

from conductor_actors import (
    ConductorClient,
    Configuration,
    RuntimeSettings,
    TaskHandler,
    TaskResult,
    TaskUpdateFailure,
    ThreadActor,
    worker_task,
)
from conductor_actors.devserver import DevServer

TASK = "shout"
WORKFLOW_NAME = "journal_demo"
WORKFLOW = {
    "name": WORKFLOW_NAME,
    "version": 1,
    "schemaVersion": 2,
    "tasks": [{"name": TASK, "taskReferenceName": "shout", "inputParameters": {"text": "${workflow.input.text}"}}],
    "outputParameters": {"loud": "${shout.output.loud}"},
}


@worker_task(task_definition_name=TASK, thread_count=4)
def shout(text: str) -> dict:
    """The worker (it runs in a worker process, which re-imports this file: keep it at module level)."""
    return {"loud": text.upper() + "!"}


class FailureJournal(ThreadActor):
    """Appends one JSON line per ``TaskUpdateFailure`` to ``path``.

    Runs on its own thread in the parent process; every worker process's failures reach it. If it
    raises, the parent restarts a fresh instance. ``recorded``, when given, receives the task id of
    each line once it is written.
    """

    subscriptions = (TaskUpdateFailure,)

    def __init__(self, path: str, recorded: queue.Queue[str] | None = None) -> None:
        self.path = path
        self.recorded = recorded

    def on_receive(self, event: TaskUpdateFailure) -> None:
        line = {
            "recorded_at": event.timestamp.isoformat(),
            "task_type": event.task_type,
            "task_id": event.task_id,
            "workflow_instance_id": event.workflow_instance_id,
            "worker_id": event.worker_id,
            "attempts": event.retry_count,
            "cause": f"{type(event.cause).__name__}: {event.cause}",
            "result": event.task_result.to_dict(),  # everything needed to send it again
        }
        with open(self.path, "a", encoding="utf-8") as journal:  # one complete line per event
            journal.write(json.dumps(line, sort_keys=True) + "\n")
        if self.recorded is not None:
            self.recorded.put(event.task_id)


def read_journal(path: str) -> list[dict[str, Any]]:
    """Every line of the journal at ``path`` (none when nothing was written yet)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as journal:
        return [json.loads(line) for line in journal if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journal", help="the JSON-lines file to append to (default: a new temporary file)")
    parser.add_argument("--tasks", type=int, default=5, help="how many workflows to run (default 5)")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    path = args.journal or os.path.join(tempfile.mkdtemp(prefix="update-failures-"), "journal.jsonl")
    recorded: queue.Queue[str] = queue.Queue()

    with DevServer() as server:
        server.register_workflow(WORKFLOW)
        outage = server.faults.add("update", status=503)
        print(f"dev server at {server.url}; every task update now fails with HTTP 503")
        handler = TaskHandler(
            configuration=Configuration(server_api_url=server.url),
            actors=[functools.partial(FailureJournal, path, recorded)],
            runtime_settings=RuntimeSettings(update_retry_delays=(0.1, 0.2)),  # 3 attempts, quickly
            recovery=False,  # this script handles TaskUpdateFailure itself
        )
        with handler:
            ids = [server.start_workflow(WORKFLOW_NAME, {"text": f"hello {n}"}) for n in range(args.tasks)]
            for _ in ids:
                try:
                    recorded.get(timeout=args.timeout)
                except queue.Empty:
                    print(f"only {len(read_journal(path))} of {len(ids)} failures were recorded", file=sys.stderr)
                    return 1
        entries = read_journal(path)
        print(f"\nrecorded {len(entries)} update failure(s) in {path}:")
        for entry in entries:
            result = entry["result"]
            print(f"  task {entry['task_id']} (workflow {entry['workflow_instance_id']}): {result['status']} "
                  f"with output {result['output_data']}, {entry['attempts']} attempts; {entry['cause']}")

        outage.remove()
        with ConductorClient(Configuration(server_api_url=server.url)) as client:
            for entry in entries:
                client.update_task(TaskResult.from_dict(entry["result"]))
        statuses = server.wait_for_workflows(ids, timeout=args.timeout)
    done = sum(status == "COMPLETED" for status in statuses.values())
    print(f"\nserver back: replayed {len(entries)} result(s) from the journal; {done}/{len(ids)} workflows completed")
    return 0 if done == len(ids) else 1


if __name__ == "__main__":
    sys.exit(main())
