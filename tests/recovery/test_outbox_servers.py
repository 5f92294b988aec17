"""The RecoveryActor delivers only the entries of its own server (API root and key id), and only
while it holds that server's delivery lock: entries of another server, and of unknown server
(kept by an older version), are left untouched, and a second tree of the same server leaves
delivery to the tree holding the lock until that one stops. The lock is a ``flock``: the kernel
frees it when its holder dies, also when the holder forked children that live on.

The ``outbox`` fixture runs the actor with a fake clock and manual timers against the test's dev
server; a second dev server plays the other server.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _support.fault_apps.harness import TESTS_DIR, WAIT, process_gone, wait_until
from _support.fault_apps.outbox_driver import OUTBOX_SETTINGS as SETTINGS
from _support.fault_apps.outbox_driver import OUTBOX_TASK as TASK
from _support.fault_apps.outbox_driver import register_outbox_flow

from conductor_actors import ConductorClient, Configuration, TaskResult, TaskResultStatus
from conductor_actors.devserver import DevServer
from conductor_actors.recovery import Journal, ServerIdentity
from conductor_actors.recovery._actor import DeliveryLock

LOGGER = "conductor_actors.recovery"


@pytest.fixture
def other_server() -> Iterator[DevServer]:
    """Server Y, beside the fixture's dev server X."""
    with DevServer() as server:
        register_outbox_flow(server)
        yield server


def running_task_on(server: DevServer) -> TaskResult:
    """Start a workflow on ``server``, poll its task (IN_PROGRESS now); returns a result for it."""
    server.start_workflow(f"{TASK}_flow", {})
    client = ConductorClient(Configuration(server_api_url=server.url, env={}))
    try:
        [task] = client.batch_poll(TASK, count=1, timeout_ms=1000)
    finally:
        client.close()
    return TaskResult(task_id=task.task_id, workflow_instance_id=task.workflow_instance_id, worker_id="w",
                      status=TaskResultStatus.COMPLETED, output_data={"from": server.url})


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


def test_only_entries_of_the_actors_own_server_are_delivered(outbox, dev_server, other_server, caplog):
    """The journal holds an entry of the actor's server X, one of server Y and one of unknown
    server (for a task of X, even). The actor delivers X's entry; Y's stays pending with no
    attempt and its task on Y IN_PROGRESS (nothing was sent to Y or to X for it), and so does the
    entry of unknown server, with a WARNING pointing at `outbox assign`. Once assigned to X, the
    actor delivers that one too."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    x = ServerIdentity.of(outbox.configuration)
    y = ServerIdentity.of(Configuration(server_api_url=other_server.url, env={}))
    own_task, legacy_task = outbox.running_task(), outbox.running_task()
    foreign = running_task_on(other_server)
    journal = Journal(outbox.path, clock=outbox.clock)
    own_id = journal.add(TASK, outbox.result_for(own_task, n=1), "HTTP 503", server=x)
    foreign_id = journal.add(TASK, foreign, "HTTP 503", server=y)
    legacy_id = journal.add(TASK, outbox.result_for(legacy_task, n=2), "HTTP 503")
    journal.close()
    other_server.reset_stats()
    x_requests_before = dev_server.stats()["total"]

    outbox.start()
    outbox.advance(0)
    assert dev_server.get_task(own_task)["outputData"] == {"n": 1}
    assert [(e.id, e.reason) for e in outbox.entries("closed")] == [(own_id, "delivered")]
    pending = {e.id: e for e in outbox.entries("pending")}
    assert sorted(pending) == [foreign_id, legacy_id]
    assert (pending[foreign_id].server, pending[foreign_id].attempts) == (y, 0)
    assert (pending[legacy_id].server, pending[legacy_id].attempts) == (None, 0)
    assert other_server.get_task(foreign.task_id)["status"] == "IN_PROGRESS"
    assert dev_server.get_task(legacy_task)["status"] == "IN_PROGRESS"
    assert other_server.stats()["total"] == 0
    assert dev_server.stats()["total"] - x_requests_before == 2  # read and update of its own entry only
    [unknown_warning] = [m for m in messages(caplog, logging.WARNING) if "do not say which server" in m]
    assert outbox.path in unknown_warning and "outbox assign" in unknown_warning
    assert any("belong to other servers" in m for m in messages(caplog, logging.INFO))

    journal = Journal(outbox.path, clock=outbox.clock)
    assert journal.assign(x) == 1
    journal.close()
    outbox.advance(SETTINGS.check_interval)
    assert dev_server.get_task(legacy_task)["outputData"] == {"n": 2}
    assert [e.id for e in outbox.entries("pending")] == [foreign_id]


def test_a_second_tree_of_the_same_server_leaves_delivery_to_the_lock_holder(outbox, dev_server, caplog):
    """Another tree of the same server holds the delivery lock: the actor journals its result
    (with its server) but does not deliver it, and says so once. When the other tree lets go, the
    actor takes the lock at its next look and delivers it, once."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    holder = DeliveryLock(str(outbox.directory), ServerIdentity.of(outbox.configuration))
    assert holder.acquire()
    try:
        outbox.start()
        task_id = outbox.running_task()
        outbox.keep(outbox.result_for(task_id, answer=3))
        outbox.advance(SETTINGS.retry_backoff_base)
        outbox.advance(SETTINGS.check_interval)
        assert dev_server.get_task(task_id)["status"] == "IN_PROGRESS"
        [entry] = outbox.entries("pending")
        assert (entry.attempts, entry.server) == (0, ServerIdentity.of(outbox.configuration))
        [waiting] = [m for m in messages(caplog, logging.INFO) if "another worker tree delivers" in m]
        assert holder.path in waiting
    finally:
        holder.release()
    outbox.advance(SETTINGS.check_interval)
    assert dev_server.get_task(task_id)["outputData"] == {"answer": 3}
    assert outbox.deliveries() == ["delivered"]
    assert any("replaying 1 undelivered result(s)" in m for m in messages(caplog, logging.WARNING))


#: Takes the delivery lock of a server in the directory argv[1], forks a child that lives until
#: stdin closes, prints the child's pid, and waits (for stdin to close, or a signal).
_HOLDER = """
import os, sys
from conductor_actors.recovery import ServerIdentity
from conductor_actors.recovery._actor import DeliveryLock
lock = DeliveryLock(sys.argv[1], ServerIdentity.parse("http://conductor:8080/api"))
assert lock.acquire()
child = os.fork()
if child == 0:
    # The child names itself: by then its fork hook has run (the parent could otherwise be
    # killed before the child was ever scheduled, while it still held the inherited descriptor).
    print(os.getpid(), flush=True)
    sys.stdin.read()
    os._exit(0)
sys.stdin.read()
"""


def test_the_lock_of_a_killed_holder_is_free_even_while_its_forked_children_live(tmp_path: Path):
    """A process holding a server's delivery lock forks a child (as the ``fork`` start method does),
    then is SIGKILLed: the lock is free at once for the next tree although the child still runs."""
    holder: Any = subprocess.Popen([sys.executable, "-c", _HOLDER, str(tmp_path)], cwd=TESTS_DIR,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    mine = DeliveryLock(str(tmp_path), ServerIdentity.parse("http://conductor:8080/api"))
    try:
        child = int(holder.stdout.readline())
        assert not mine.acquire()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(WAIT)
        assert not process_gone(child)
        assert mine.acquire()
    finally:
        mine.release()
        if holder.poll() is None:
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(WAIT)
        holder.stdin.close()  # the child reads EOF and exits
    wait_until(lambda: process_gone(child), "the forked child to exit")
