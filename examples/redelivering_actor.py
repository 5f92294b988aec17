"""A parent-side actor that keeps undelivered results in your own store and delivers them later.

    python examples/redelivering_actor.py [--store FILE] [--tasks 5]

The built-in outbox does this job; this script shows how to do it yourself, e.g. to keep the
results in a database you already run. ``SqliteRedelivery`` (a ``ThreadActor`` subscribed to
``TaskUpdateFailure``) writes each result the workers could not deliver into a SQLite file, then
tries to send the stored results again on a timer, with backoff, until the server takes them.
The script makes the dev server refuse every task update for a while, shows what was stored, and
lets the server recover: the actor delivers everything and every workflow completes.

The actor runs on its own thread in the parent process. It blocks on SQLite and on the HTTP call
to the server (with the client's timeouts); that only delays its own later messages. The store is
outside the actor on purpose: if the actor raises, the parent starts a fresh instance, which finds
the stored results in ``on_start`` and carries on delivering them.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sqlite3
import sys
import tempfile
import time

from conductor_actors import (
    ConductorClient,
    ConductorError,
    Configuration,
    RuntimeSettings,
    TaskHandler,
    TaskResult,
    TaskUpdateFailure,
    ThreadActor,
    worker_task,
)
from conductor_actors.devserver import DevServer

_log = logging.getLogger("my_app.redelivery")

TASK = "ship_parcel"
WORKFLOW = {
    "name": "redelivery_demo",
    "version": 1,
    "schemaVersion": 2,
    "tasks": [{"name": TASK, "taskReferenceName": "ship", "inputParameters": {"parcel": "${workflow.input.parcel}"}}],
    "outputParameters": {"label": "${ship.output.label}"},
}


@worker_task(task_definition_name=TASK, thread_count=4)
def ship_parcel(parcel: str) -> dict:
    """The worker (a worker process re-imports this file: keep it at module level)."""
    return {"label": f"LBL-{parcel.upper()}"}


class _DeliverDue:
    """Timer message: try to deliver the stored results now."""


class SqliteRedelivery(ThreadActor):
    """Stores each undelivered result in the SQLite file ``path`` and delivers it again later.

    Every hook runs on the actor's thread. A result is deleted from the store only once the server
    accepted it, or refused it in a way no retry changes (the task no longer exists, a 4xx other
    than 401/403/429: logged at ERROR), so nothing is lost if the actor, or the whole process,
    stops in between. Failed attempts wait ``base`` seconds, doubling up to ``cap``.
    """

    subscriptions = (TaskUpdateFailure,)

    def __init__(self, path: str, server_url: str, base: float = 1.0, cap: float = 60.0) -> None:
        self.path = path
        self.server_url = server_url
        self.base = base
        self.cap = cap
        self.delay = base
        self.timer = None
        self.db: sqlite3.Connection | None = None
        self.client: ConductorClient | None = None

    def on_start(self) -> None:
        self.db = sqlite3.connect(self.path)  # used on this actor's thread only
        self.db.execute("CREATE TABLE IF NOT EXISTS results (task_id TEXT PRIMARY KEY, result TEXT NOT NULL)")
        self.db.commit()
        self.client = ConductorClient(Configuration(server_api_url=self.server_url))
        self.schedule(0.0)  # results stored before a restart are delivered too

    def on_receive(self, message: object) -> None:
        assert self.db is not None
        if isinstance(message, TaskUpdateFailure):
            self.db.execute("INSERT OR REPLACE INTO results VALUES (?, ?)",
                            (message.task_id, json.dumps(message.task_result.to_wire())))
            self.db.commit()
            self.schedule(self.delay)
        elif isinstance(message, _DeliverDue):
            self.timer = None
            self.deliver()

    def deliver(self) -> None:
        """Send every stored result; keep what the server did not take and try again later."""
        assert self.db is not None and self.client is not None
        for task_id, text in self.db.execute("SELECT task_id, result FROM results").fetchall():
            try:
                self.client.update_task(TaskResult.from_dict(json.loads(text)))
            except ConductorError as exc:
                status = getattr(exc, "status", None)
                if status == 404 or not (exc.retryable or status in (401, 403)):
                    # The task is gone, or the server refuses this result for good (a retry cannot
                    # change that; a key being fixed can): say so and stop trying.
                    _log.error("giving up the result of task %s: %s", task_id, exc)
                    self.forget(task_id)
                    continue
                self.delay = min(self.cap, self.delay * 2)
                _log.info("server not back (%s); next try in %.1f s", exc, self.delay)
                self.schedule(self.delay)
                return
            self.forget(task_id)
        self.delay = self.base

    def forget(self, task_id: str) -> None:
        assert self.db is not None
        self.db.execute("DELETE FROM results WHERE task_id = ?", (task_id,))
        self.db.commit()

    def schedule(self, delay: float) -> None:
        if self.timer is None:
            self.timer = self.send_after(delay, _DeliverDue())

    def on_stop(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.db is not None:
            self.db.close()


def stored(path: str) -> list[str]:
    """The task ids in the store (read from the script's own thread, with its own connection)."""
    if not os.path.exists(path):
        return []
    with sqlite3.connect(path) as db:
        try:
            return [row[0] for row in db.execute("SELECT task_id FROM results ORDER BY task_id")]
        except sqlite3.OperationalError:  # the table is not created yet
            return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="the SQLite file to keep results in (default: a new temporary file)")
    parser.add_argument("--tasks", type=int, default=5, help="how many workflows to run (default 5)")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    path = args.store or os.path.join(tempfile.mkdtemp(prefix="redelivery-"), "results.sqlite3")

    with DevServer() as server:
        server.register_workflow(WORKFLOW)
        outage = server.faults.add("update", status=503)
        print(f"dev server at {server.url}; every task update fails with HTTP 503")
        handler = TaskHandler(
            configuration=Configuration(server_api_url=server.url),
            actors=[functools.partial(SqliteRedelivery, path, server.url, 0.2, 1.0)],
            runtime_settings=RuntimeSettings(update_retry_delays=(0.1, 0.2)),  # 3 attempts, quickly
            recovery=False,  # this actor replaces the built-in outbox
        )
        with handler:
            ids = [server.start_workflow(WORKFLOW["name"], {"parcel": f"p{n}"}) for n in range(args.tasks)]
            deadline = time.monotonic() + args.timeout
            while len(stored(path)) < len(ids):  # the script's own wait; the actor does not poll
                if time.monotonic() > deadline:
                    print(f"only {len(stored(path))} of {len(ids)} results were stored", file=sys.stderr)
                    return 1
                time.sleep(0.05)
            print(f"stored {len(stored(path))} undelivered result(s) in {path}")
            outage.remove()
            statuses = server.wait_for_workflows(ids, timeout=args.timeout)
            while stored(path) and time.monotonic() < deadline:  # the actor forgets a result after the server took it
                time.sleep(0.05)
            left = stored(path)
    done = sum(status == "COMPLETED" for status in statuses.values())
    print(f"server back: the actor delivered them; {done}/{len(ids)} workflows completed, "
          f"{len(left)} result(s) left in the store")
    return 0 if done == len(ids) and not left else 1


if __name__ == "__main__":
    sys.exit(main())
