"""What the runtime logs for people and for aggregators: every failed task once (ERROR with the
traceback for an unexpected exception, WARNING for a failure the worker chose), rate limited;
``--log-format json``; ``--log-tasks``; per-poll lines only at TRACE; a readable stop line.

Real CLI processes against the dev server, both flavours; the rate limiting with a fake clock.
"""

from __future__ import annotations

import json
import logging
import re
import signal
from typing import TYPE_CHECKING, Any

import pytest
from _support.cli_apps import FAILING_TASK, SLEEPY_TASK, one_task_workflow, start_workflows
from _support.clock import FakeClock

from conductor_actors._logging import JsonFormatter
from conductor_actors.cli import EXIT_OK
from conductor_actors.client import Task, TaskResult, TaskResultStatus
from conductor_actors.runtime import TaskLog
from conductor_actors.worker import ExecutionOutcome, NonRetryableException
from conductor_actors.worker._results import failure_reason

if TYPE_CHECKING:
    from _support.cli_tree import CliTree

    from conductor_actors.devserver import DevServer

    from .conftest import StartCli

APP = "_support.cli_apps.failing"


def _run_failures(cli: StartCli, server: DevServer, flavour: str, *args: str) -> tuple[CliTree, dict[str, str]]:
    """Start the failing app and one workflow per mode; returns the run and {mode: workflow id}
    once the three workflows ended (the task definition allows no retry)."""
    server.register_task_def({"name": FAILING_TASK, "retryCount": 0, "responseTimeoutSeconds": 30})
    workflow = one_task_workflow(server, FAILING_TASK, ["mode", "index"])
    run = cli(*args, APP, flavour=flavour, server=server)
    run.wait_ready(FAILING_TASK)
    modes = ["raise", "terminal", "ok"]
    ids = start_workflows(server, workflow, [{"mode": mode, "index": i} for i, mode in enumerate(modes)])
    statuses = server.wait_for_workflows(ids, 30)
    assert [statuses[i] for i in ids] == ["FAILED", "FAILED", "COMPLETED"], statuses
    return run, dict(zip(modes, ids, strict=True))


def _stop(run: CliTree) -> str:
    run.send(signal.SIGTERM)
    assert run.wait_exit() == EXIT_OK, run.tail()
    return run.log()


def test_each_failed_task_is_logged_once_at_its_level(cli: StartCli, dev_server: DevServer, flavour: str) -> None:
    """An exception: ERROR naming task type, task id, workflow id and attempt, with the traceback
    from the worker's own frame; NonRetryableException: WARNING, no traceback; a completed task:
    nothing without --log-tasks. The stop line is readable (no dataclass repr)."""
    run, ids = _run_failures(cli, dev_server, flavour)
    raised = run.wait_for(
        rf"^.* ERROR +\[{FAILING_TASK} \d+\] conductor_actors\.tasks: task (\S+) of type {FAILING_TASK} "
        rf"\(workflow {ids['raise']}, attempt 1\) failed: ValueError: card 0 was declined$", "the ERROR line")
    terminal = run.wait_for(
        rf"^.* WARNING +\[{FAILING_TASK} \d+\] conductor_actors\.tasks: task \S+ of type {FAILING_TASK} "
        rf"\(workflow {ids['terminal']}, attempt 1\) failed terminally \(NonRetryableException\): "
        r"order 1 cannot be charged$", "the WARNING line")
    log = _stop(run)
    assert len(raised) == 1 and len(terminal) == 1, run.tail()
    after = log[raised[0].end():].splitlines()
    assert after[1] == "Traceback (most recent call last):", run.tail()
    trace = after[1:after.index("ValueError: card 0 was declined") + 1]
    assert "_outcome" in "\n".join(trace) and "_execution.py" not in "\n".join(trace), trace
    assert not re.search(r"order 1 cannot be charged\nTraceback", log), run.tail()
    assert "completed in" not in log, run.tail()
    assert "StopReport(" not in log and re.search(rf"worker {FAILING_TASK} stopped in \d+\.\d\d s: ", log), run.tail()


def test_failures_still_counted_at_a_stop_are_summarised(cli: StartCli, dev_server: DevServer, flavour: str) -> None:
    """A worker that stops before the interval of its suppressed failures ended says how many there
    were: every failure is either a full line or counted in a summary, none is lost."""
    dev_server.register_task_def({"name": FAILING_TASK, "retryCount": 0, "responseTimeoutSeconds": 30})
    workflow = one_task_workflow(dev_server, FAILING_TASK, ["mode", "index"])
    run = cli(APP, flavour=flavour, server=dev_server)
    run.wait_ready(FAILING_TASK)
    total = 8  # more than the burst of full lines (5)
    ids = start_workflows(dev_server, workflow, [{"mode": "raise", "index": i} for i in range(total)])
    assert set(dev_server.wait_for_workflows(ids, 30).values()) == {"FAILED"}
    log = _stop(run)
    full = re.findall(rf"conductor_actors\.tasks: task \S+ of type {FAILING_TASK} .* failed: ValueError", log)
    summaries = re.findall(rf"conductor_actors\.tasks: suppressed (\d+) more ValueError failure\(s\) of "
                           rf"{FAILING_TASK} tasks in the last (?:60 s|\d+\.\d s); the last: task \S+ of type", log)
    assert summaries and len(full) + sum(int(n) for n in summaries) == total, run.tail()
    assert log.index("suppressed") < log.index(f"worker {FAILING_TASK} stopped in"), run.tail()


def test_json_format_one_object_per_line(cli: StartCli, dev_server: DevServer, flavour: str) -> None:
    """--log-format json: every line the parent and the worker process write is one JSON object;
    the failure carries task_id, workflow_id, the worker's key and the traceback in a field;
    --log-tasks adds ``task X of type T completed in N ms``."""
    run, ids = _run_failures(cli, dev_server, flavour, "--log-format", "json", "--log-tasks")
    run.wait_for(r'"message": "task \S+ of type cli_failing completed in [\d.]+ m?s"', "the completion line")
    log = _stop(run)
    entries = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message", "pid", "worker"} <= set(e) for e in entries), entries
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entries[0]["time"]), entries[0]
    errors = [e for e in entries if e["level"] == "ERROR" and e["logger"] == "conductor_actors.tasks"]
    assert len(errors) == 1, entries
    error = errors[0]
    assert error["workflow_id"] == ids["raise"] and error["task_id"] in error["message"], error
    assert error["worker"] == FAILING_TASK and "ValueError: card 0 was declined" in error["traceback"], error
    warning = next(e for e in entries if e["level"] == "WARNING" and e["logger"] == "conductor_actors.tasks")
    assert warning["workflow_id"] == ids["terminal"] and "traceback" not in warning, warning
    completed = [e for e in entries if "completed in" in e["message"]]
    assert len(completed) == 1 and completed[0]["workflow_id"] == ids["ok"], completed
    assert any(e["worker"] is None and e["logger"] == "conductor_actors.supervision" for e in entries), entries


def test_per_poll_lines_only_at_trace(cli: StartCli, dev_server: DevServer) -> None:
    """At DEBUG an idle worker writes no line per poll; at TRACE it does."""
    debug = cli("--log-level", "DEBUG", "_support.cli_apps.sleepy", server=dev_server)
    debug.wait_ready(SLEEPY_TASK)
    trace = cli("--log-level", "TRACE", "_support.cli_apps.sleepy", server=dev_server)
    trace.wait_ready(SLEEPY_TASK)
    trace.wait_for(r"TRACE +\[.*GET /tasks/poll/batch/cli_sleepy -> 200", "poll lines at TRACE", count=20)
    # Both polled for as long as the TRACE run needed to poll 20 times (every 20 ms).
    assert "/tasks/poll" not in _stop(debug)
    _stop(trace)


# -- the rate limiting, with a fake clock ---------------------------------------------------------


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self) -> list[str]:
        return [r.getMessage() for r in self.records]


@pytest.fixture
def lines() -> Any:
    logger = logging.getLogger("test.tasklog")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = _Lines()
    logger.addHandler(handler)
    yield logger, handler
    logger.removeHandler(handler)


def _task(n: int, retry: int = 0) -> Task:
    return Task(task_id=f"t{n}", workflow_instance_id=f"w{n}", task_def_name="charge", retry_count=retry)


def _failed(task: Task, exc: Exception) -> ExecutionOutcome:
    status = (TaskResultStatus.FAILED_WITH_TERMINAL_ERROR if isinstance(exc, NonRetryableException)
              else TaskResultStatus.FAILED)
    result = TaskResult(task_id=task.task_id, workflow_instance_id=task.workflow_instance_id, status=status,
                        reason_for_incompletion=str(exc))
    return ExecutionOutcome(result, True, exc, 2, 0.25)


def _raised(message: str) -> ValueError:
    try:
        raise ValueError(message)
    except ValueError as exc:
        return exc


def test_repeated_failures_are_summarised_per_interval(lines: Any) -> None:
    """The first ``burst`` failures of one (task type, exception type) per interval in full, one
    notice that the rest are counted, then one summary line per interval: written by ``flush``
    once the interval is over (or by the next failure); other exception types have their own
    budget."""
    logger, handler = lines
    clock = FakeClock(100.0)
    log = TaskLog("charge", burst=2, interval=60.0, clock=clock, logger=logger)
    for n in range(5):
        log.finished(_task(n), _failed(_task(n), _raised(f"declined {n}")))
    log.finished(_task(9, retry=2), _failed(_task(9, retry=2), NonRetryableException("no such card")))
    messages = handler.messages()
    assert messages[:2] == [
        "task t0 of type charge (workflow w0, attempt 1) failed: ValueError: declined 0",
        "task t1 of type charge (workflow w1, attempt 1) failed: ValueError: declined 1",
    ]
    assert [r.levelno for r in handler.records[:3]] == [logging.ERROR] * 3
    assert handler.records[0].exc_info is not None and handler.records[0].task_id == "t0"  # type: ignore[attr-defined]
    assert "further ones are counted and summarised once per 60 s" in messages[2]
    assert messages[3] == ("task t9 of type charge (workflow w9, attempt 3) failed terminally "
                           "(NonRetryableException): no such card")
    assert handler.records[3].levelno == logging.WARNING and handler.records[3].exc_info is None
    assert len(messages) == 4
    clock.advance(59.9)
    log.flush()
    assert len(handler.messages()) == 4  # the interval is not over
    clock.advance(0.1)
    log.flush()
    assert handler.messages()[4:] == [
        "suppressed 3 more ValueError failure(s) of charge tasks in the last 60 s; the last: task t4 of type "
        "charge (workflow w4, attempt 1) failed: ValueError: declined 4"
    ]
    assert handler.records[4].levelno == logging.ERROR
    log.flush()
    assert len(handler.messages()) == 5  # said once
    log.finished(_task(10), _failed(_task(10), _raised("declined 10")))  # a fresh interval: in full
    assert handler.messages()[5].startswith("task t10 of type charge")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (KeyboardInterrupt("pressed in a task"), "failed: KeyboardInterrupt: pressed in a task"),
        (SystemExit(4), "failed: SystemExit: 4"),
        (KeyboardInterrupt(), "failed: KeyboardInterrupt"),
    ],
)
def test_a_base_exception_is_named_once_in_its_failure_line(lines: Any, exc: BaseException, expected: str) -> None:
    """The reason of a BaseException that is not an Exception already starts with its type (the
    server shows it): the line does not repeat it."""
    logger, handler = lines
    log = TaskLog("charge", burst=5, interval=60.0, clock=FakeClock(100.0), logger=logger)
    task = _task(0)
    result = TaskResult(task_id="t0", workflow_instance_id="w0", status=TaskResultStatus.FAILED,
                        reason_for_incompletion=failure_reason(exc))
    log.finished(task, ExecutionOutcome(result, True, exc, 2, 0.25))
    assert handler.messages() == [f"task t0 of type charge (workflow w0, attempt 1) {expected}"]


def test_the_next_failure_writes_an_overdue_summary(lines: Any) -> None:
    logger, handler = lines
    clock = FakeClock(100.0)
    log = TaskLog("charge", burst=1, interval=10.0, clock=clock, logger=logger)
    for n in range(3):
        log.finished(_task(n), _failed(_task(n), _raised("x")))
    clock.advance(11)
    log.finished(_task(3), _failed(_task(3), _raised("x")))
    messages = handler.messages()
    assert messages[2].startswith("suppressed 2 more ValueError failure(s) of charge tasks in the last 10 s")
    assert messages[3].startswith("task t3 of type charge")


def test_a_final_flush_summarises_the_open_interval(lines: Any) -> None:
    logger, handler = lines
    clock = FakeClock(100.0)
    log = TaskLog("charge", burst=1, interval=60.0, clock=clock, logger=logger)
    for n in range(4):
        log.finished(_task(n), _failed(_task(n), _raised("x")))
    clock.advance(12.34)
    log.flush()
    assert len(handler.messages()) == 2  # the interval is not over
    log.flush(final=True)
    assert handler.messages()[2] == ("suppressed 3 more ValueError failure(s) of charge tasks in the last 12.3 s; "
                                     "the last: task t3 of type charge (workflow w3, attempt 1) failed: ValueError: x")
    log.flush(final=True)
    assert len(handler.messages()) == 3  # said once


def test_json_formatter_fields() -> None:
    record = logging.LogRecord("conductor_actors.tasks", logging.ERROR, __file__, 1, "task %s failed", ("t1",),
                               (ValueError, _raised("boom"), None))
    record.task_id, record.workflow_id = "t1", "w1"
    entry = json.loads(JsonFormatter("charge#2").format(record))
    assert entry["message"] == "task t1 failed" and entry["worker"] == "charge#2" and entry["level"] == "ERROR"
    assert (entry["task_id"], entry["workflow_id"]) == ("t1", "w1") and "ValueError: boom" in entry["traceback"]


def test_chosen_failures_are_warnings_and_successes_are_silent(lines: Any) -> None:
    """Input that breaks the contract and a returned FAILED result: WARNING without a traceback; a
    completed task writes nothing while the logger is above INFO, and one line at INFO."""
    logger, handler = lines
    log = TaskLog("charge", logger=logger)
    task = _task(1)
    violation = TaskResult(task_id="t1", status=TaskResultStatus.FAILED_WITH_TERMINAL_ERROR,
                           reason_for_incompletion="missing argument 'amount'")
    log.finished(task, ExecutionOutcome(violation, True, ValueError("missing argument 'amount'"), 2, 0.0))
    returned = TaskResult(task_id="t1", status=TaskResultStatus.FAILED, reason_for_incompletion="card expired")
    log.finished(task, ExecutionOutcome(returned, False, None, 2, 0.001))
    assert handler.messages() == [
        "task t1 of type charge (workflow w1, attempt 1) failed terminally: the input or output breaks the "
        "worker's contract: missing argument 'amount'",
        "task t1 of type charge (workflow w1, attempt 1) returned FAILED: card expired",
    ]
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in handler.records)
    done = TaskResult(task_id="t1", status=TaskResultStatus.COMPLETED)
    logger.setLevel(logging.WARNING)
    log.finished(task, ExecutionOutcome(done, False, None, 2, 0.0123))
    assert len(handler.records) == 2
    logger.setLevel(logging.INFO)
    log.finished(task, ExecutionOutcome(done, False, None, 2, 0.0123))
    assert handler.messages()[2] == "task t1 of type charge completed in 12 ms"
