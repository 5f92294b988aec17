"""The outbox loses no result when things go wrong around it: a journal write that fails (an I/O
error, a lock held by another connection) keeps the result in memory and writes it on a timer; a
401/403 from the server is retried with backoff until ``max_age``; an unexpected error while
delivering is an attempt, never a crash; a result handed over while the actor restarts waits in
the sink and is delivered by the fresh instance.

The ``outbox`` fixture runs the actor with a manual timer service and a fake wall clock (see
``_support.fault_apps.outbox_driver``); faults are injected at the journal, at the dev server's
HTTP answers, or at the client the actor is given.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

import pytest
from _support.fault_apps.harness import WAIT, journal_entries, wait_until
from _support.fault_apps.outbox_driver import OUTBOX_SETTINGS as SETTINGS
from _support.fault_apps.outbox_driver import OUTBOX_TASK as TASK
from _support.fault_apps.outbox_driver import register_outbox_flow

from conductor_actors import ConductorClient, Configuration, TaskResult, TaskResultStatus
from conductor_actors.actors import ActorSupervisor, ManualTimerService, RestartPolicy
from conductor_actors.client import ConductorHTTPError
from conductor_actors.recovery import Journal, JournalError, RecoveryActor, RecoverySink
from conductor_actors.recovery._actor import _Tick, _Wake
from conductor_actors.runtime import UndeliveredResult
from conductor_actors.settings import RecoverySettings

LOGGER = "conductor_actors.recovery"


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


def assert_delivered(outbox: Any, dev_server: Any, task_id: str, output: dict[str, Any]) -> None:
    task = dev_server.get_task(task_id)
    assert (task["status"], task["outputData"]) == ("COMPLETED", output)
    assert [(e.task_id, e.reason) for e in outbox.entries("closed")] == [(task_id, "delivered")]
    assert outbox.entries("pending") == []


def test_a_journal_write_that_fails_once_is_retried_and_the_result_delivered(outbox, dev_server, monkeypatch,
                                                                            caplog):
    """``Journal.add`` raises a JournalError (an I/O error) once: the actor lives on, the result
    waits in memory (logged at ERROR, naming the journal and the retry delay), is written on the
    next try ``retry_backoff_base`` later and delivered in that same turn."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    real_add = Journal.add
    failed: list[str] = []

    def add_failing_once(self: Journal, *args: Any, **kwargs: Any) -> int:
        if not failed:
            failed.append(self.path)
            raise JournalError(f"outbox journal {self.path}: disk I/O error")
        return real_add(self, *args, **kwargs)

    monkeypatch.setattr(Journal, "add", add_failing_once)
    outbox.start()
    task_id = outbox.running_task()
    outbox.keep(outbox.result_for(task_id, answer=1))
    assert failed == [outbox.path] and outbox.ref.is_alive()
    assert [m.result.task_id for m in outbox.inbox] == [task_id]
    assert outbox.entries("pending") == []
    [error] = messages(caplog, logging.ERROR)
    assert error == (f"could not write to the outbox journal {outbox.path} (outbox journal {outbox.path}: disk I/O "
                     "error); 1 result(s) wait in memory; trying again in 1.0 s")

    outbox.advance(SETTINGS.retry_backoff_base - 0.5)
    assert len(outbox.inbox) == 1
    outbox.advance(0.5)
    assert not outbox.inbox
    assert_delivered(outbox, dev_server, task_id, {"answer": 1})
    assert outbox.deliveries() == ["delivered"]
    assert any("works again after 1 failed attempt(s)" in m for m in messages(caplog, logging.WARNING))


def test_a_journal_locked_by_another_connection_delays_the_write_but_loses_nothing(outbox, dev_server, caplog):
    """Another connection (an ``outbox`` command, say) holds the journal's write lock for longer
    than the lock timeout: "database is locked" is logged, the result waits in memory and the
    write is retried with a doubling delay; once the lock is released the entry lands and is
    delivered."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    outbox.start(lock_timeout=0.05)
    task_id = outbox.running_task()
    other = sqlite3.connect(outbox.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        outbox.keep(outbox.result_for(task_id, answer=2))
        outbox.advance(SETTINGS.retry_backoff_base)
        assert outbox.ref.is_alive() and [m.result.task_id for m in outbox.inbox] == [task_id]
        [error] = messages(caplog, logging.ERROR)
        assert "database is locked" in error and "trying again in 1.0 s" in error, error
        assert any("database is locked" in m and "trying again in 2.0 s" in m
                   for m in messages(caplog, logging.WARNING))
        other.execute("ROLLBACK")
    finally:
        other.close()
    outbox.advance(2.0)
    assert not outbox.inbox
    assert_delivered(outbox, dev_server, task_id, {"answer": 2})


@pytest.mark.parametrize("status", [401, 403])
def test_a_result_refused_for_authorization_is_retried_with_backoff(outbox, dev_server, status, caplog):
    """The server answers the update with 401/403 (credentials revoked or expiring): unlike other
    4xx answers this is not final, so the entry stays pending, each refusal is an attempt with
    the usual backoff (logged at WARNING), and the result is delivered once the server accepts
    it again."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    refusal = dev_server.faults.add("update", status=status)
    outbox.start()
    task_id = outbox.running_task()
    outbox.keep(outbox.result_for(task_id, answer=3))
    outbox.advance(SETTINGS.retry_backoff_base)
    outbox.advance(1.0)
    [entry] = outbox.entries("pending")
    assert entry.attempts == 2 and entry.last_error.startswith(f"AuthorizationError: HTTP {status}"), entry
    assert entry.next_attempt_at - outbox.clock.now == 2.0
    assert outbox.entries("dead") == [] and outbox.deliveries() == ["retry", "retry"]
    assert sum("refused the credentials" in m for m in messages(caplog, logging.WARNING)) == 2
    refusal.remove()
    outbox.advance(2.0)
    assert_delivered(outbox, dev_server, task_id, {"answer": 3})


def test_authorization_refusals_end_as_dead_only_after_max_age(outbox, dev_server):
    """While every update is refused with 401 the entry is tried again and again; it moves to dead
    only once it is older than ``max_age``, keeping the refusal as its last error."""
    dev_server.faults.add("update", status=401)
    outbox.start()
    task_id = outbox.running_task()
    outbox.keep(outbox.result_for(task_id, answer=4))
    outbox.advance(SETTINGS.retry_backoff_base)
    for _ in range(10):
        outbox.advance(SETTINGS.retry_backoff_cap)
    assert outbox.entries("dead") == []
    assert outbox.entries("pending")[0].attempts >= 10
    outbox.advance(SETTINGS.max_age)
    [dead] = outbox.entries("dead")
    assert dead.task_id == task_id and "last error: AuthorizationError: HTTP 401" in dead.last_error, dead
    assert outbox.deliveries()[-1] == "dead" and set(outbox.deliveries()[:-1]) == {"retry"}


class ClientFailingOnce:
    """A real client whose first ``get_task`` raises something that is not a ConductorError."""

    def __init__(self, client: ConductorClient) -> None:
        self.client = client
        self.failed = False

    def get_task(self, task_id: str) -> Any:
        if not self.failed:
            self.failed = True
            raise RuntimeError("client bug")
        return self.client.get_task(task_id)

    def update_task(self, result: TaskResult) -> Any:
        return self.client.update_task(result)

    def close(self) -> None:
        self.client.close()


def test_an_unexpected_error_while_delivering_is_an_attempt_not_a_crash(outbox, dev_server, caplog):
    """Delivery raises something other than a ConductorError: logged with its traceback, recorded
    as an attempt with backoff, and the next attempt delivers; the actor never stops."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    outbox.start(client=ClientFailingOnce(ConductorClient(outbox.configuration)))
    task_id = outbox.running_task()
    outbox.keep(outbox.result_for(task_id, answer=5))
    outbox.advance(SETTINGS.retry_backoff_base)
    [entry] = outbox.entries("pending")
    assert (entry.attempts, entry.last_error) == (1, "RuntimeError: client bug")
    assert outbox.ref.is_alive()
    assert any(r.exc_info and "delivery failed unexpectedly" in r.getMessage() for r in caplog.records)
    outbox.advance(SETTINGS.retry_backoff_base)
    assert_delivered(outbox, dev_server, task_id, {"answer": 5})


def test_results_handed_over_while_the_actor_restarts_are_delivered_by_the_fresh_instance(
        dev_server, tmp_path, monkeypatch, caplog):
    """The RecoveryActor crashes while taking a result and is restarted by its supervisor after a
    backoff. A second result arrives during that backoff: the sink keeps it (``on_undelivered``
    is True, so the parent never reports "recovery is off"), and the fresh instance writes both
    results and delivers them."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    register_outbox_flow(dev_server)
    real_receive = RecoveryActor.on_receive
    crashed = threading.Event()

    def crash_on_first_wake(self: RecoveryActor, message: Any) -> None:
        if isinstance(message, _Wake) and not crashed.is_set():
            crashed.set()
            raise RuntimeError("injected crash")
        real_receive(self, message)

    monkeypatch.setattr(RecoveryActor, "on_receive", crash_on_first_wake)
    configuration = Configuration(server_api_url=dev_server.url)
    # The periodic journal check is an hour away, so only the wake can take the first result: the
    # crash on that wake leaves it in the inbox, whatever the timing.
    settings = RecoverySettings(state_dir=str(tmp_path), retry_backoff_base=0.05, retry_backoff_cap=0.2,
                                check_interval=3600.0)
    sink = RecoverySink(settings, configuration)
    timers = ManualTimerService()
    supervisor = ActorSupervisor(RestartPolicy(backoff_base=5.0, jitter=0.0), name="recovery-test", timers=timers)
    client = ConductorClient(configuration)
    try:
        sink.start(supervisor)
        assert sink.ref is not None
        # Once a message is answered, on_start (which takes whatever waits in the inbox) is over:
        # the first result below can only be taken by its wake, which crashes.
        sink.ref.ask(_Tick(), timeout=WAIT)
        results = []
        for n in range(2):
            dev_server.start_workflow(f"{TASK}_flow", {})
            [task] = client.batch_poll(TASK, count=1, timeout_ms=1000)
            results.append(TaskResult(task_id=task.task_id, workflow_instance_id=task.workflow_instance_id,
                                      worker_id="w1", status=TaskResultStatus.COMPLETED, output_data={"n": n}))
        cause = ConductorHTTPError(503, "Service Unavailable")
        timers_before = timers.pending()
        assert sink.on_undelivered(None, UndeliveredResult(TASK, results[0], cause, 4)) is True
        assert crashed.wait(WAIT)
        # Down, and its restart scheduled: advancing the clock before that would fire nothing.
        wait_until(lambda: not sink.ref.is_alive() and timers.pending() > timers_before,
                   "the crashed actor to be down with its restart scheduled")
        assert sink.on_undelivered(None, UndeliveredResult(TASK, results[1], cause, 4)) is True
        assert len(sink.inbox) == 2
        assert any("not running" in m and "2 result(s) wait in memory" in m for m in messages(caplog, logging.WARNING))

        timers.advance(5.0)  # the restart backoff: a fresh instance starts and takes the inbox
        wait_until(lambda: all(dev_server.get_task(r.task_id)["status"] == "COMPLETED" for r in results),
                   "both results to be delivered")
        assert [dev_server.get_task(r.task_id)["outputData"] for r in results] == [{"n": 0}, {"n": 1}]
        assert not sink.inbox
    finally:
        supervisor.stop_all(WAIT)
        sink.close()
        client.close()
    assert sorted(e.task_id for e in journal_entries(tmp_path, "closed")) == sorted(r.task_id for r in results)
    assert messages(caplog, logging.ERROR) == []


def test_results_that_never_reached_the_journal_are_logged_whole_when_the_sink_closes(tmp_path, caplog):
    """A result still in the sink's inbox when the parent stops (the actor never got to write it)
    is not dropped silently: ``close`` logs it at ERROR with its task id and whole result."""
    sink = RecoverySink(RecoverySettings(state_dir=str(tmp_path)), Configuration(server_api_url="http://127.0.0.1:1/api"))
    result = TaskResult(task_id="t-late", workflow_instance_id="w-late", worker_id="w1",
                        status=TaskResultStatus.COMPLETED, output_data={"kept": "in the log"})
    assert sink.on_undelivered(None, UndeliveredResult(TASK, result, ConductorHTTPError(503, "down"), 4)) is True
    sink.close()
    [error] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "task t-late (workflow w-late) was never written to the outbox journal (the parent stopped first)" in error
    assert "'kept': 'in the log'" in error
    assert not sink.inbox
