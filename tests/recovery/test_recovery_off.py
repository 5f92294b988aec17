"""With the outbox switched off (``recovery=False``) nothing is lost silently: a result whose
update failed finally is logged at ERROR in the parent, and parent-side actors subscribed to
``TaskUpdateFailure`` receive it whole."""

from __future__ import annotations

import functools
import logging
import queue

from _support.fault_apps.compute import CLI_COMPUTE_TASK, COMPUTE_TASK, compute_worker, expected_output
from _support.fault_apps.harness import (
    WAIT,
    compute_workflow,
    fast_runtime,
    fast_supervision,
    fault_cli,
    outbox_command,
    start_computations,
)

from conductor_actors import Configuration, TaskHandler, TaskResultStatus, TaskUpdateFailure, ThreadActor
from conductor_actors.recovery import DEFAULT_FILE_NAME


class Collector(ThreadActor):
    """Hands every TaskUpdateFailure it receives to the test (runs on its own thread in the parent)."""

    subscriptions = (TaskUpdateFailure,)

    def __init__(self, received: queue.Queue[TaskUpdateFailure]) -> None:
        self.received = received

    def on_receive(self, event: TaskUpdateFailure) -> None:
        self.received.put(event)


def test_with_recovery_off_a_failed_update_is_logged_and_reaches_subscribed_actors(
        dev_server, tmp_path, monkeypatch, caplog, flavour):
    """Updates fail for good (HTTP 503) and recovery is off: each result is logged at ERROR in the
    parent ("... recovery is off"), a TaskUpdateFailure carrying the full TaskResult (ids, status,
    the computed output) reaches the subscribed actor, and no journal is written."""
    caplog.set_level(logging.ERROR, logger="conductor_actors.handler")
    monkeypatch.setenv("CONDUCTOR_ACTORS_STATE_DIR", str(tmp_path / "state"))
    dev_server.faults.add("update", status=503)
    workflow = compute_workflow(dev_server, COMPUTE_TASK)
    received: queue.Queue[TaskUpdateFailure] = queue.Queue()
    handler = TaskHandler(
        [compute_worker(flavour)], configuration=Configuration(server_api_url=dev_server.url),
        scan_for_annotated_workers=False, actors=[functools.partial(Collector, received)], recovery=False,
        runtime_settings=fast_runtime(), supervision=fast_supervision(),
    )
    with handler:
        assert handler.wait_ready(WAIT)
        started = start_computations(dev_server, workflow, range(3))
        events = [received.get(timeout=WAIT) for _ in started]
    assert handler.join_processes(0) == 0
    by_workflow = {event.workflow_instance_id: event for event in events}
    assert set(by_workflow) == set(started)
    for workflow_id, n in started.items():
        event = by_workflow[workflow_id]
        result = event.task_result
        assert (event.task_type, result.task_id, result.workflow_instance_id) == (
            COMPUTE_TASK, event.task_id, workflow_id)
        assert result.status is TaskResultStatus.COMPLETED
        assert result.output_data == expected_output(n, event.task_id)
        assert "503" in str(event.cause)
        logged = [r.getMessage() for r in caplog.records
                  if r.levelno == logging.ERROR and event.task_id in r.getMessage()]
        assert any("could not be delivered" in m and "recovery is off" in m for m in logged), logged
    assert not (tmp_path / "state" / DEFAULT_FILE_NAME).exists()


def test_the_cli_with_no_recovery_logs_each_lost_result_and_keeps_no_journal(dev_server, tmp_path, flavour):
    """`python -m conductor_actors --no-recovery ...` while updates fail for good: each result that
    cannot be delivered is logged at ERROR ("... and recovery is off") and no outbox journal is
    written (`outbox list` says there is none); the tree still stops cleanly."""
    state_dir = tmp_path / "state"
    dev_server.faults.add("update", status=503)
    workflow = compute_workflow(dev_server, CLI_COMPUTE_TASK)
    tree = fault_cli(["--server-url", dev_server.url, "--no-recovery", "--state-dir", str(state_dir),
                      "_support.fault_apps.cli_compute"], tmp_path / "cli.log", flavour)
    try:
        tree.wait_for(r"worker \S+ \(pid \d+\) is ready", "the worker to be ready")
        started = start_computations(dev_server, workflow, range(2))
        for workflow_id in started:
            tree.wait_for(rf"ERROR .*\(workflow {workflow_id}\) could not be delivered .*recovery is off",
                          f"the lost result of {workflow_id} to be logged")
        assert tree.stop() == 0, tree.tail()
    finally:
        tree.kill_all()
    listing = outbox_command("--state-dir", str(state_dir), "list")
    assert (listing.returncode, listing.stdout) == (
        0, f"no outbox journal at {state_dir / DEFAULT_FILE_NAME}: no result was ever kept there\n")
