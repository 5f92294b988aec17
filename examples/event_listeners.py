"""Observe workers with event listeners (in every worker process) and a parent-side actor (one place).

    python examples/event_listeners.py

The feature document's listeners, passed to ``TaskHandler(event_listeners=[...])``: ``CustomMonitor``
prints each completed task's time and output size, ``SLAMonitor`` alerts on slow tasks,
``CostTracker`` adds up a cost per task type, ``UpdateFailureHandler`` alerts when a result could not
be delivered after every attempt. Listeners are copied into each worker process and run there,
synchronously: a ``CostTracker`` total is per process. ``EventTally``, a parent-side actor
(``TaskHandler(actors=[...])``), receives the events it subscribes to from every worker process
and prints one summary at the end.

To provoke an update failure the script makes the dev server answer three result updates with
HTTP 503; the result is kept by the outbox (in a temporary directory here) and delivered moments
later, so every workflow completes.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import os
import queue
import sys
import tempfile
import time

from conductor_actors import (
    Configuration,
    RuntimeSettings,
    TaskExecutionCompleted,
    TaskExecutionFailure,
    TaskHandler,
    TaskRunnerEventsListener,
    TaskUpdateFailure,
    ThreadActor,
    worker_task,
)
from conductor_actors.devserver import DevServer
from conductor_actors.recovery import RecoverySettings

# -- listeners: copied into every worker process, called there on the thread that publishes ------


def alert(message: str) -> None:
    print(f"ALERT: {message}", flush=True)


class CustomMonitor(TaskRunnerEventsListener):
    def on_task_execution_completed(self, event: TaskExecutionCompleted) -> None:
        print(f"[pid {os.getpid()}] Task {event.task_id} completed in {event.duration_ms:.1f}ms; "
              f"Output size: {event.output_size_bytes} bytes", flush=True)


class SLAMonitor(TaskRunnerEventsListener):
    def __init__(self, threshold_ms: float):
        self.threshold_ms = threshold_ms

    def on_task_execution_completed(self, event: TaskExecutionCompleted) -> None:
        if event.duration_ms > self.threshold_ms:
            alert(f"SLA breach: {event.task_type} took {event.duration_ms:.0f}ms")


class CostTracker(TaskRunnerEventsListener):
    def __init__(self, cost_per_second: dict):
        self.cost_per_second = cost_per_second
        self.total_cost = 0.0

    def on_task_execution_completed(self, event: TaskExecutionCompleted) -> None:
        rate = self.cost_per_second.get(event.task_type, 0.0)
        cost = rate * (event.duration_ms / 1000.0)
        self.total_cost += cost
        if cost:
            print(f"[pid {os.getpid()}] {event.task_type} cost so far in this process: ${self.total_cost:.4f}",
                  flush=True)


class UpdateFailureHandler(TaskRunnerEventsListener):
    """Handle critical update failures after all retries exhausted."""

    def on_task_update_failure(self, event: TaskUpdateFailure) -> None:
        alert(f"CRITICAL: Task update failed after {event.retry_count} attempts: task {event.task_id} "
              f"of workflow {event.workflow_instance_id}, result {event.task_result.status!s} "
              f"{event.task_result.output_data} ({type(event.cause).__name__})")


# -- a parent-side actor: one instance in the parent, fed by every worker process ----------------


class EventTally(ThreadActor):
    """Counts completions, failures and undelivered results per task type across all processes.

    Runs on its own thread in the parent; ``summary`` receives the counts when it stops.
    """

    subscriptions = (TaskExecutionCompleted, TaskExecutionFailure, TaskUpdateFailure)

    def __init__(self, summary: queue.Queue[dict[str, collections.Counter[str]]]) -> None:
        self.summary = summary
        self.counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)

    def on_receive(self, event: TaskExecutionCompleted | TaskExecutionFailure | TaskUpdateFailure) -> None:
        label = {TaskExecutionCompleted: "completed", TaskExecutionFailure: "failed",
                 TaskUpdateFailure: "update failed"}[type(event)]
        self.counts[event.task_type][label] += 1

    def on_stop(self) -> None:
        self.summary.put(dict(self.counts))


# -- workers -------------------------------------------------------------------------------------


@worker_task(task_definition_name="score_lead", thread_count=4)
def score_lead(lead_id: str, delay_ms: int) -> dict:
    if lead_id.startswith("bad"):
        raise ValueError(f"lead {lead_id} has no e-mail address")
    time.sleep(delay_ms / 1000)
    return {"lead_id": lead_id, "score": len(lead_id) * 7 % 100}


@worker_task(task_definition_name="ml_task", thread_count=10)
async def ml_task(text: str) -> dict:
    await asyncio.sleep(0.05)  # a model server round trip
    return {"label": "positive" if "good" in text else "neutral"}


def workflow(task_name: str, *inputs: str) -> dict:
    return {"name": f"{task_name}_flow", "version": 1, "schemaVersion": 2, "tasks": [{
        "name": task_name, "taskReferenceName": task_name,
        "inputParameters": {name: f"${{workflow.input.{name}}}" for name in inputs}}]}


def main() -> int:
    logging.basicConfig(level=logging.CRITICAL)  # the failures provoked below are expected
    summary: queue.Queue[dict[str, collections.Counter[str]]] = queue.Queue()
    with DevServer() as server:
        server.register_task_def({"name": "score_lead", "retryCount": 0})
        server.register_workflow(workflow("score_lead", "lead_id", "delay_ms"))
        server.register_workflow(workflow("ml_task", "text"))
        handler = TaskHandler(
            configuration=Configuration(server_api_url=server.url),
            event_listeners=[
                CustomMonitor(),
                SLAMonitor(threshold_ms=100),
                CostTracker(cost_per_second={"ml_task": 0.05}),
                UpdateFailureHandler(),
            ],
            actors=[functools.partial(EventTally, summary)],
            runtime_settings=RuntimeSettings(update_retry_delays=(0.05, 0.1)),  # 3 attempts, quickly
            recovery=RecoverySettings(state_dir=tempfile.mkdtemp(prefix="outbox-"), retry_backoff_base=0.2),
        )
        with handler:
            if not handler.wait_ready(timeout=30):
                print("workers did not start; see the log above", file=sys.stderr)
                return 1
            ids = [server.start_workflow("score_lead_flow", {"lead_id": lead, "delay_ms": delay})
                   for lead, delay in (("ada", 10), ("grace", 10), ("slow-linus", 150), ("bad-bob", 0))]
            ids += [server.start_workflow("ml_task_flow", {"text": text}) for text in ("a good day", "so so")]
            server.wait_for_workflows(ids, timeout=30)
            outage = server.faults.add("update", status=503, times=3)  # the next result: 3 attempts fail
            ids.append(server.start_workflow("ml_task_flow", {"text": "good news, eventually"}))
            statuses = server.wait_for_workflows(ids, timeout=30)  # the outbox delivers the kept result
            print(f"the dev server refused {outage.hits} updates; the outbox delivered the result afterwards")
    print("parent-side tally over every worker process:")
    for task_type, counts in sorted(summary.get(timeout=30).items()):
        print(f"  {task_type}: " + ", ".join(f"{n} {label}" for label, n in sorted(counts.items())))
    finished = collections.Counter(statuses.values())
    print("workflows: " + ", ".join(f"{n} {status}" for status, n in sorted(finished.items())))
    return 0 if finished == {"COMPLETED": 6, "FAILED": 1} else 1


if __name__ == "__main__":
    sys.exit(main())
