"""A backlog of 5,000 one-task workflows, worked off by a few keep-alive clients without an error."""

from __future__ import annotations

import threading
from typing import Any

from devserver._support import Api, one_task_workflow

from conductor_actors.devserver import DevServer

BACKLOG = 5000
CLIENTS = 4


def work(server: DevServer, worker: str, done: list[str], errors: list[Any]) -> None:
    """Batch poll, then update-v2 chains (like the SDK's runner) until the queue is empty."""
    api = Api(server)
    try:
        while True:
            tasks = api.poll("echo", count=5, timeout=100, worker=worker)
            if not tasks:
                return
            for task in tasks:
                while task is not None:
                    reply = api.update(task, v2=True, workerId=worker, outputData={"x": task["inputData"]["x"]})
                    if reply.status not in (200, 204):
                        errors.append(reply)
                        break
                    done.append(task["taskId"])
                    task = reply.json() if reply.status == 200 else None
    except Exception as exc:  # recorded and asserted on by the test
        errors.append(exc)
    finally:
        api.close()


def test_a_backlog_of_5000_is_worked_off_without_an_error(dev_server: DevServer) -> None:
    one_task_workflow(dev_server)
    ids = [dev_server.start_workflow("wf", {"x": n}) for n in range(BACKLOG)]
    done: list[str] = []
    errors: list[Any] = []
    threads = [threading.Thread(target=work, args=(dev_server, f"w{n}", done, errors)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len(done) == len(set(done)) == BACKLOG
    statuses = dev_server.wait_for_workflows(ids, 30)
    assert set(statuses.values()) == {"COMPLETED"}
    assert dev_server.get_workflow(ids[-1])["output"] == {"x": BACKLOG - 1}
    assert dev_server.queue_size("echo") == 0
    stats = dev_server.stats()
    assert stats["update_v2"] == BACKLOG and stats["total"] == stats["update_v2"] + stats["poll_batch"]
