"""The RecoveryActor: it journals every undelivered result first, then delivers it with capped
exponential backoff, closes entries that have nothing left to deliver, and gives up only on
entries older than ``max_age`` (kept as dead, never deleted).

The ``outbox`` fixture (``_support.fault_apps.outbox_driver``) runs the actor on its own thread
with a manual timer service and a fake wall clock, so time moves only when a test moves it; it
talks real HTTP to the test's dev server through a real client.
"""

from __future__ import annotations

import logging

import pytest
from _support.fault_apps.harness import WAIT
from _support.fault_apps.outbox_driver import OUTBOX_SETTINGS as SETTINGS
from _support.fault_apps.outbox_driver import OUTBOX_TASK as TASK

from conductor_actors import Configuration, TaskResult, TaskResultStatus
from conductor_actors.actors import ActorSupervisor
from conductor_actors.recovery import Journal, RecoverySink, ServerIdentity
from conductor_actors.settings import RecoverySettings, RecoverySettingsError


def test_a_kept_result_is_journalled_first_and_delivered_after_the_base_delay(outbox, dev_server):
    """An undelivered result is in the journal as soon as the actor has it; the first delivery
    attempt comes ``retry_backoff_base`` seconds later and completes the task with that result;
    the entry is then closed as delivered (metrics count it)."""
    outbox.start()
    task_id = outbox.running_task()
    outbox.keep(outbox.result_for(task_id, answer=42))
    [pending] = outbox.entries("pending")
    assert (pending.task_id, pending.attempts, pending.result.output_data) == (task_id, 0, {"answer": 42})
    outbox.advance(SETTINGS.retry_backoff_base - 0.5)
    assert dev_server.get_task(task_id)["status"] == "IN_PROGRESS"
    outbox.advance(0.5)
    task = dev_server.get_task(task_id)
    assert (task["status"], task["outputData"]) == ("COMPLETED", {"answer": 42})
    assert outbox.entries("pending") == []
    [closed] = outbox.entries("closed")
    assert (closed.id, closed.task_id, closed.reason, closed.attempts) == (pending.id, task_id, "delivered", 1)
    assert outbox.deliveries() == ["delivered"]
    assert outbox.records[-2] == ("gauge", "recovery_journal_entries", ("pending",), 0.0)


def test_failed_deliveries_back_off_exponentially_up_to_the_cap(outbox, dev_server):
    """While the server answers 500, the gaps between delivery attempts double from
    ``retry_backoff_base`` up to ``retry_backoff_cap`` (1, 2, 4, 8, 8 s), each attempt is
    recorded with its error, and the result is delivered on the first attempt after the server
    recovers."""
    outage = dev_server.faults.add("update", status=500)
    outbox.start()
    task_id = outbox.running_task()
    outbox.keep(outbox.result_for(task_id, answer=1))
    outbox.advance(SETTINGS.retry_backoff_base)
    gaps = []
    for attempt in range(1, 6):
        [entry] = outbox.entries("pending")
        assert entry.attempts == attempt and "500" in (entry.last_error or ""), entry
        gap = entry.next_attempt_at - outbox.clock.now
        gaps.append(gap)
        outbox.advance(gap - 0.25)
        assert outbox.entries("pending")[0].attempts == attempt  # not before it is due
        outbox.advance(0.25)
    assert gaps == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert outbox.deliveries() == ["retry"] * 6
    outage.remove()
    outbox.advance(outbox.entries("pending")[0].next_attempt_at - outbox.clock.now)
    assert [(e.reason, e.attempts) for e in outbox.entries("closed")] == [("delivered", 7)]
    assert dev_server.get_task(task_id)["outputData"] == {"answer": 1}


def test_a_result_for_a_task_the_server_does_not_know_is_closed_with_that_reason(outbox, caplog):
    """The server answers 404 for the task: there is nothing to deliver to, so the entry is closed
    with the reason "unknown task: <the server's message>" and a WARNING is logged."""
    caplog.set_level(logging.INFO, logger="conductor_actors.recovery")
    outbox.start()
    outbox.keep(TaskResult(task_id="no-such-task", workflow_instance_id="no-such-workflow", worker_id="w1",
                           status=TaskResultStatus.COMPLETED, output_data={"lost": True}))
    outbox.advance(SETTINGS.retry_backoff_base)
    [closed] = outbox.entries("closed")
    assert closed.reason == "unknown task: Task not found for taskId: no-such-task"
    assert outbox.entries("pending") == [] and outbox.entries("dead") == []
    assert outbox.deliveries() == ["unknown"]
    assert any(r.levelno == logging.WARNING and "does not know task no-such-task" in r.getMessage()
               for r in caplog.records)


def test_a_result_for_an_already_finished_task_is_closed_without_overwriting_it(outbox, dev_server):
    """The task finished meanwhile (another worker completed it): the journalled result is not sent,
    the entry is closed as "already finished (COMPLETED)" and the server keeps the output it has."""
    outbox.start()
    task_id = outbox.running_task()
    outbox.client.update_task(outbox.result_for(task_id, by="the other worker"))
    outbox.keep(outbox.result_for(task_id, by="the journal"))
    outbox.advance(SETTINGS.retry_backoff_base)
    assert [e.reason for e in outbox.entries("closed")] == ["already finished (COMPLETED)"]
    assert dev_server.get_task(task_id)["outputData"] == {"by": "the other worker"}
    assert outbox.deliveries() == ["finished"]


def test_an_entry_older_than_max_age_moves_to_dead_with_an_error_and_stays_there(outbox, dev_server, caplog):
    """An entry still undelivered ``max_age`` seconds after it was kept is given up: logged at
    ERROR, moved to the dead table with its whole result and last error, never sent and never
    deleted (later turns leave it alone)."""
    caplog.set_level(logging.INFO, logger="conductor_actors.recovery")
    dev_server.faults.add("update", status=503)
    outbox.start()
    task_id = outbox.running_task()
    result = outbox.result_for(task_id, answer=7)
    outbox.keep(result)
    outbox.advance(SETTINGS.retry_backoff_base)
    outbox.advance(SETTINGS.max_age)
    assert outbox.entries("pending") == []
    [dead] = outbox.entries("dead")
    assert dead.result == result and dead.attempts == 1
    assert dead.last_error.startswith("older than max_age (600 s); last error: ConductorHTTPError"), dead.last_error
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(f"gave up delivering the result of {TASK} task {task_id}" in m for m in errors), errors
    outbox.advance(10 * SETTINGS.max_age)
    assert [e.id for e in outbox.entries("dead")] == [dead.id]
    assert dev_server.get_task(task_id)["status"] == "IN_PROGRESS"
    assert outbox.deliveries() == ["retry", "dead"]
    assert (outbox.gauge("pending"), outbox.gauge("dead")) == (0.0, 1.0)


def test_a_result_the_server_rejects_is_kept_as_dead(outbox, dev_server, caplog):
    """A 4xx other than 404 on the update is final (sending it again cannot help): the entry moves
    to dead with the server's answer, logged at ERROR, instead of being retried or dropped."""
    caplog.set_level(logging.INFO, logger="conductor_actors.recovery")
    dev_server.faults.add("update", status=400)
    outbox.start()
    task_id = outbox.running_task()
    outbox.keep(outbox.result_for(task_id, answer=3))
    outbox.advance(SETTINGS.retry_backoff_base)
    [dead] = outbox.entries("dead")
    assert dead.task_id == task_id and dead.last_error.startswith("rejected by the server:"), dead
    assert any(r.levelno == logging.ERROR and task_id in r.getMessage() for r in caplog.records)


def test_entries_already_in_the_journal_are_replayed_when_the_actor_starts(outbox, dev_server, caplog):
    """Entries left in the journal by an earlier run (e.g. a SIGKILLed parent) are delivered as
    soon as the actor starts, with a WARNING saying how many it replays."""
    caplog.set_level(logging.INFO, logger="conductor_actors.recovery")
    task_ids = [outbox.running_task() for _ in range(3)]
    earlier = Journal(outbox.path, clock=outbox.clock)
    for n, task_id in enumerate(task_ids):
        earlier.add(TASK, outbox.result_for(task_id, n=n), "ConductorTransportError: refused",
                    server=ServerIdentity.of(outbox.configuration))
    earlier.close()
    outbox.start()
    outbox.advance(0)
    assert [dev_server.get_task(t)["outputData"] for t in task_ids] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert [e.reason for e in outbox.entries("closed")] == ["delivered"] * 3
    assert any("replaying 3 undelivered result(s)" in r.getMessage() for r in caplog.records)


def test_a_state_directory_that_cannot_hold_the_journal_stops_the_start(tmp_path):
    """The outbox opens its journal before anything runs: a state directory that cannot hold it
    (here a plain file is in the way) raises RecoverySettingsError naming the directory."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("in the way")
    sink = RecoverySink(RecoverySettings(state_dir=str(blocker)), Configuration(server_api_url="http://127.0.0.1:1/api"))
    supervisor = ActorSupervisor(name="recovery-test")
    try:
        with pytest.raises(RecoverySettingsError, match=f"state_dir='{blocker}': cannot keep the outbox journal"):
            sink.start(supervisor)
        assert supervisor.children() == ()
    finally:
        supervisor.stop_all(WAIT)


@pytest.mark.parametrize(("field", "value"), [
    ("max_age", 0), ("retry_backoff_base", -1.0), ("check_interval", float("nan")), ("retry_backoff_cap", True),
])
def test_recovery_settings_that_cannot_work_are_refused_naming_the_field(field, value):
    """A non-positive, non-finite or non-numeric time is a RecoverySettingsError naming the field."""
    with pytest.raises(RecoverySettingsError, match=rf"^{field}="):
        RecoverySettings(**{field: value})


def test_a_backoff_cap_below_the_base_is_refused():
    with pytest.raises(RecoverySettingsError, match="retry_backoff_cap must be >= retry_backoff_base"):
        RecoverySettings(retry_backoff_base=10.0, retry_backoff_cap=5.0)


def test_results_that_keep_arriving_do_not_push_back_a_delivery_already_due(outbox, dev_server):
    """A second result arriving before the first one's delivery turn does not postpone that turn:
    it comes ``retry_backoff_base`` after the first result was kept and delivers both (a new entry
    is due at once; only the first turn after it waits)."""
    outbox.start()
    first, second = outbox.running_task(), outbox.running_task()
    outbox.keep(outbox.result_for(first, answer=1))
    outbox.advance(SETTINGS.retry_backoff_base * 0.5)
    outbox.keep(outbox.result_for(second, answer=2))
    outbox.advance(SETTINGS.retry_backoff_base * 0.25)
    assert [dev_server.get_task(t)["status"] for t in (first, second)] == ["IN_PROGRESS", "IN_PROGRESS"]
    outbox.advance(SETTINGS.retry_backoff_base * 0.25)
    assert [dev_server.get_task(t)["status"] for t in (first, second)] == ["COMPLETED", "COMPLETED"]
    assert outbox.deliveries() == ["delivered", "delivered"]
