"""``run_worker``: runs one worker in the calling thread until a stop event, set from another thread,
then stops gracefully and returns the ``StopReport`` (both flavours)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from conductor_actors import run_worker
from conductor_actors.events import TaskExecutionStarted
from conductor_actors.runtime import StopReport
from conductor_actors.worker import resolve_worker_config

if TYPE_CHECKING:
    from runtime.conftest import PipelineHarness

#: Seconds a running task gets after the stop event before it is handed back.
GRACE = 0.3


def test_run_worker_runs_until_the_stop_event_and_reports_the_stop(pipeline: PipelineHarness) -> None:
    done, blocked = pipeline.start_workflows([{"mood": "ok", "x": 1}, {"mood": "block", "x": "never-opened"}])
    blocked_task = pipeline.only_task(blocked)["taskId"]
    worker = pipeline.worker("moody", thread_count=2)
    stop_event = threading.Event()
    stopper_failures: list[BaseException] = []
    set_at: list[float] = []

    def stop_once_both_ran() -> None:
        """Another thread: set the stop event once one task completed and the other is running."""
        try:
            pipeline.complete([done])
            pipeline.recorder.wait_for(TaskExecutionStarted, where=lambda e: e.task_id == blocked_task)
        except BaseException as exc:
            stopper_failures.append(exc)
        finally:
            set_at.append(time.monotonic())
            stop_event.set()

    stopper = threading.Thread(target=stop_once_both_ran, name="test-stopper")
    stopper.start()
    report = run_worker(
        worker,
        pipeline.configuration,
        stop_event=stop_event,
        grace=GRACE,
        flush=1.0,
        config=resolve_worker_config(worker, env={}),
        settings=pipeline.settings(),
        listeners=[pipeline.recorder],
        undeliverable=pipeline.undeliverable,
    )
    returned_at = time.monotonic()
    stopper.join()

    assert not stopper_failures, stopper_failures
    assert isinstance(report, StopReport)
    # The blocked task was still running at the grace deadline: handed back for another worker.
    assert (report.handed_back, report.abandoned, report.undelivered, report.clean) == (1, 1, 0, False)
    assert GRACE <= report.seconds < GRACE + 2.0
    assert returned_at - set_at[0] >= GRACE
    assert pipeline.only_task(done)["outputData"] == {"y": 1}
    requeued = pipeline.server.get_task(blocked_task)
    assert (requeued["status"], requeued["pollCount"]) == ("SCHEDULED", 1)
    assert pipeline.undeliverable.calls == []
