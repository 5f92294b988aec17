"""Fixtures of the worker-pipeline behaviour tests.

``pipeline`` is a ``PipelineHarness`` for the test's flavour over a fresh dev server: it builds
workers from ``_support.pipeline_workers``, starts ``WorkerRunner``s with fast runtime settings and
an event recorder, starts one-task workflows, and stops every runner (opening every gate first) at
the end of the test.

``RecordingClient`` / ``AsyncRecordingClient`` wrap the real client at the transport seam: they
record every result sent (with times, and the most updates in flight at once), can make the next
calls of an endpoint fail with a given error, and can make polls ask the server for more tasks than
the pipeline asked for. ``auth_pipeline`` is a harness over a dev server with token auth whose
workers hold a wrong secret.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import pytest
import requests
from _support.pipeline_workers import GATES, worker_function

from conductor_actors.actors import TimerService
from conductor_actors.client import (
    AsyncConductorClient,
    AuthenticationSettings,
    ConductorClient,
    ConductorTransportError,
    Configuration,
    Task,
    TaskResult,
)
from conductor_actors.devserver import DevServer
from conductor_actors.events import (
    PollCompleted,
    PollFailure,
    PollStarted,
    TaskExecutionCompleted,
    TaskExecutionFailure,
    TaskExecutionStarted,
    TaskRunnerEvent,
    TaskUpdateFailure,
)
from conductor_actors.runtime import WorkerRunner
from conductor_actors.settings import RuntimeSettings
from conductor_actors.worker import Worker, WorkerConfig, resolve_worker_config

E = TypeVar("E", bound=TaskRunnerEvent)

#: Runtime settings that make retries and backoffs take milliseconds instead of seconds.
FAST_SETTINGS: dict[str, Any] = {
    "update_retry_delays": (0.01, 0.02),
    "poll_error_backoff_base": 0.01,
    "poll_error_backoff_cap": 0.05,
    "auth_backoff_base": 0.01,
    "auth_backoff_cap": 0.05,
    "backoff_jitter": 0.0,
    "shutdown_grace": 2.0,
    "shutdown_flush": 1.0,
}
#: Default wait (s) for something a test expects to happen.
WAIT = 10.0


class EventRecorder:
    """An in-process listener that keeps every task-runner event, in order (any thread), with the
    monotonic time it was published at."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.events: list[TaskRunnerEvent] = []
        self.times: list[float] = []

    def _record(self, event: TaskRunnerEvent) -> None:
        with self._cond:
            self.events.append(event)
            self.times.append(time.monotonic())
            self._cond.notify_all()

    on_poll_started = on_poll_completed = on_poll_failure = _record
    on_task_execution_started = on_task_execution_completed = on_task_execution_failure = _record
    on_task_update_failure = _record

    def of(self, kind: type[E]) -> list[E]:
        """Events of exactly class ``kind`` so far."""
        with self._cond:
            return [event for event in self.events if type(event) is kind]  # type: ignore[misc]

    def count(self, kind: type[TaskRunnerEvent]) -> int:
        return len(self.of(kind))

    def timed(self, kind: type[E]) -> list[tuple[float, E]]:
        """(monotonic time, event) of every event of exactly class ``kind`` so far."""
        with self._cond:
            return [(at, e) for at, e in zip(self.times, self.events) if type(e) is kind]  # type: ignore[misc]

    def wait_for(
        self, kind: type[E], count: int = 1, timeout: float = WAIT, where: Callable[[E], bool] | None = None
    ) -> list[E]:
        """Block until at least ``count`` events of ``kind`` (matching ``where``) arrived; returns them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self.events if type(e) is kind and (where is None or where(e))]
                if len(found) >= count:
                    return found  # type: ignore[return-value]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"timed out after {timeout} s waiting for {count} {kind.__name__} event(s); got {len(found)}"
                    )
                self._cond.wait(remaining)

    def none_within(self, kind: type[TaskRunnerEvent], seconds: float) -> bool:
        """True when no new event of ``kind`` arrives during the next ``seconds``."""
        deadline = time.monotonic() + seconds
        with self._cond:
            before = sum(1 for e in self.events if type(e) is kind)
            while True:
                if sum(1 for e in self.events if type(e) is kind) > before:
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return True
                self._cond.wait(remaining)

    def polls_in_flight(self) -> int:
        """Polls started and not yet answered."""
        with self._cond:
            started = sum(1 for e in self.events if type(e) is PollStarted)
            ended = sum(1 for e in self.events if type(e) in (PollCompleted, PollFailure))
        return started - ended

    def finished_task_ids(self) -> list[str]:
        """Task ids of every TaskExecutionCompleted / TaskExecutionFailure so far."""
        with self._cond:
            return [e.task_id for e in self.events if isinstance(e, (TaskExecutionCompleted, TaskExecutionFailure))]

    def started_task_ids(self) -> list[str]:
        return [e.task_id for e in self.of(TaskExecutionStarted)]

    def update_failures(self) -> list[TaskUpdateFailure]:
        return self.of(TaskUpdateFailure)


class UndeliverableSink:
    """The runner's ``undeliverable`` callback: keeps (task type, result, cause, attempts)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.calls: list[tuple[str, TaskResult, BaseException, int]] = []

    def __call__(self, task_type: str, result: TaskResult, cause: BaseException, attempts: int) -> None:
        with self._cond:
            self.calls.append((task_type, result, cause, attempts))
            self._cond.notify_all()

    def wait_for(self, count: int = 1, timeout: float = WAIT) -> list[tuple[str, TaskResult, BaseException, int]]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.calls) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"timed out after {timeout} s waiting for {count} undeliverable result(s)")
                self._cond.wait(remaining)
            return list(self.calls)


class _Recording:
    """What both recording clients share: the log of updates sent, their ends, scripted failures,
    and polls that ask the server for more tasks than the pipeline asked for."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        #: (client method, a copy of the TaskResult, monotonic time) for every update attempted, in order.
        self.sent: list[tuple[str, TaskResult, float]] = []
        #: (client method, task id, the error or None, monotonic time) for every update call that returned or raised.
        self.ended: list[tuple[str, str | None, BaseException | None, float]] = []
        #: The most update calls that were in flight at once.
        self.peak_in_flight = 0
        #: Polls ask the server for this many tasks more than the pipeline asked for (a server that
        #: ignores ``count``, seen from the pipeline).
        self.extra_tasks_per_poll = 0
        self._failures: dict[str, list[Callable[[TaskResult], BaseException]]] = {}

    def fail_next(self, method: str, *errors: Callable[[TaskResult], BaseException]) -> None:
        """Make the next ``len(errors)`` calls of ``method`` raise ``error(result)`` (nothing is sent)."""
        with self._cond:
            self._failures.setdefault(method, []).extend(errors)

    def _poll_count(self, count: int) -> int:
        return count + self.extra_tasks_per_poll

    def _begin(self, method: str, result: TaskResult) -> None:
        with self._cond:
            self.sent.append((method, copy.deepcopy(result), time.monotonic()))
            self.peak_in_flight = max(self.peak_in_flight, len(self.sent) - len(self.ended))
            self._cond.notify_all()
            pending = self._failures.get(method)
            error = pending.pop(0) if pending else None
        if error is not None:
            failure = error(result)
            self._end(method, result, failure)
            raise failure

    def _end(self, method: str, result: TaskResult, error: BaseException | None) -> None:
        with self._cond:
            self.ended.append((method, result.task_id, error, time.monotonic()))
            self._cond.notify_all()

    def in_flight(self) -> int:
        """Update calls begun and not yet ended."""
        with self._cond:
            return len(self.sent) - len(self.ended)

    def results_for(self, task_id: str) -> list[tuple[str, TaskResult, float]]:
        """Every update attempted for ``task_id``: (client method, result, monotonic time)."""
        with self._cond:
            return [entry for entry in self.sent if entry[1].task_id == task_id]

    def ends_for(self, task_id: str) -> list[tuple[str, BaseException | None, float]]:
        """Every update call for ``task_id`` that returned or raised: (client method, error or None, time)."""
        with self._cond:
            return [(method, error, at) for method, tid, error, at in self.ended if tid == task_id]

    def wait_ended(self, task_id: str, count: int = 1, timeout: float = WAIT) -> None:
        """Block until ``count`` update calls for ``task_id`` returned or raised."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while sum(1 for entry in self.ended if entry[1] == task_id) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"timed out after {timeout} s waiting for the updates of task {task_id}")
                self._cond.wait(remaining)

    def sent_before(self, until: float, where: Callable[[str, TaskResult, float], bool]) -> bool:
        """Wait until monotonic time ``until``; True as soon as an update matching ``where(method,
        result, time attempted)`` is attempted (one already attempted counts), False when none was."""
        with self._cond:
            while True:
                if any(where(method, result, at) for method, result, at in self.sent):
                    return True
                remaining = until - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)

class RecordingClient(_Recording):
    """A real ``ConductorClient`` at the transport seam of a sync pipeline, recording updates."""

    def __init__(self, inner: ConductorClient) -> None:
        super().__init__()
        self.inner = inner

    def batch_poll(self, task_type: str, *, count: int, **options: Any) -> list[Task]:
        return self.inner.batch_poll(task_type, count=self._poll_count(count), **options)

    def update_task(self, result: TaskResult) -> str:
        return self._call("update_task", self.inner.update_task, result)  # type: ignore[no-any-return]

    def update_task_v2(self, result: TaskResult) -> Any:
        return self._call("update_task_v2", self.inner.update_task_v2, result)

    def _call(self, method: str, call: Callable[[TaskResult], Any], result: TaskResult) -> Any:
        self._begin(method, result)
        try:
            answer = call(result)
        except BaseException as exc:
            self._end(method, result, exc)
            raise
        self._end(method, result, None)
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class AsyncRecordingClient(_Recording):
    """A real ``AsyncConductorClient`` at the transport seam of an async pipeline, recording updates.

    With ``abort_on_close`` (the default), ``aclose`` also fails the update calls still in flight with
    a ``ConductorTransportError`` and returns once the pipeline has handled those failures, as closing
    a connection pool that aborts its busy connections would. (The real client closes only its idle
    connections; a send it leaves in flight stays pending on the loop the runner then closes.)
    """

    def __init__(self, inner: AsyncConductorClient, abort_on_close: bool = True) -> None:
        super().__init__()
        self.inner = inner
        self.abort_on_close = abort_on_close
        self._calls: set[asyncio.Future[Any]] = set()
        self._closing = False

    async def batch_poll(self, task_type: str, *, count: int, **options: Any) -> list[Task]:
        return await self.inner.batch_poll(task_type, count=self._poll_count(count), **options)

    async def update_task(self, result: TaskResult) -> str:
        return await self._call("update_task", self.inner.update_task, result)  # type: ignore[no-any-return]

    async def update_task_v2(self, result: TaskResult) -> Any:
        return await self._call("update_task_v2", self.inner.update_task_v2, result)

    async def _call(self, method: str, call: Callable[[TaskResult], Any], result: TaskResult) -> Any:
        self._begin(method, result)
        inner = asyncio.ensure_future(call(result))
        self._calls.add(inner)
        try:
            answer = await inner
        except asyncio.CancelledError as exc:
            if not (self._closing and inner.cancelled()):
                self._end(method, result, exc)
                raise
            aborted = ConductorTransportError(f"{method}: the connection was closed by the client")
            self._end(method, result, aborted)
            raise aborted from None
        except BaseException as exc:
            self._end(method, result, exc)
            raise
        finally:
            self._calls.discard(inner)
        self._end(method, result, None)
        return answer

    async def aclose(self) -> None:
        self._closing = True
        if self.abort_on_close:
            for inner in list(self._calls):
                inner.cancel()
            deadline = time.monotonic() + WAIT
            while self._calls and time.monotonic() < deadline:  # their callers handle the failure meanwhile
                await asyncio.sleep(0.001)
            await asyncio.sleep(0)
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class PipelineHarness:
    """Runs workers of one flavour against one dev server; see the module docstring."""

    def __init__(
        self, server: DevServer, flavour: str, test_name: str, configuration: Configuration | None = None
    ) -> None:
        self.server = server
        self.flavour = flavour
        self.configuration = configuration or Configuration(server_api_url=server.url)
        self.recorder = EventRecorder()
        self.undeliverable = UndeliverableSink()
        self._test_name = "".join(c if c.isalnum() else "_" for c in test_name)[:40]
        self._runners: list[WorkerRunner] = []
        self._workflow_keys: dict[str, tuple[str, ...]] = {}

    # -- building ---------------------------------------------------------------------------
    def task_name(self, suffix: str = "") -> str:
        """A task type unique to this test (and flavour)."""
        return f"{self._test_name}{suffix}"

    def worker(self, kind: str, *, task_name: str | None = None, thread_count: int = 1, **props: Any) -> Worker:
        """A function worker of this flavour running ``<kind>_<flavour>`` from pipeline_workers."""
        return Worker(
            task_name or self.task_name(), worker_function(kind, self.flavour), thread_count=thread_count, **props
        )

    def recording_client(self, abort_on_close: bool = True) -> RecordingClient | AsyncRecordingClient:
        """A recording client of this flavour (pass it as ``client=``; the runner closes it).

        ``abort_on_close``: see ``AsyncRecordingClient`` (the sync client closes like the real one).
        """
        if self.flavour == "sync":
            return RecordingClient(ConductorClient(self.configuration, pool_size=16))
        return AsyncRecordingClient(AsyncConductorClient(self.configuration, pool_size=16), abort_on_close)

    def runner(
        self,
        worker: Worker,
        *,
        settings: RuntimeSettings | None = None,
        listeners: Sequence[object] | None = None,
        start: bool = True,
        client: Any = None,
        poll_timers: TimerService | None = None,
        on_task_limit: Callable[[str], None] | None = None,
        **config_overrides: Any,
    ) -> WorkerRunner:
        """A ``WorkerRunner`` for ``worker`` (environment ignored, ``config_overrides`` applied), with
        fast settings, the recorder and the undeliverable sink; started unless ``start=False``."""
        config: WorkerConfig = resolve_worker_config(worker, env={})
        if config_overrides:
            config = config.with_overrides(**config_overrides)
        runner = WorkerRunner(
            worker,
            self.configuration,
            config=config,
            settings=settings if settings is not None else fast_settings(),
            listeners=[self.recorder] if listeners is None else listeners,
            undeliverable=self.undeliverable,
            client=client,
            poll_timers=poll_timers,
            on_task_limit=on_task_limit,
        )
        self._runners.append(runner)
        if start:
            runner.start()
        return runner

    @staticmethod
    def settings(**overrides: Any) -> RuntimeSettings:
        """The fast runtime settings with ``overrides``."""
        return fast_settings(**overrides)

    # -- workflows --------------------------------------------------------------------------
    def start_workflows(self, inputs: Sequence[dict[str, Any]], task_name: str | None = None) -> list[str]:
        """Start one one-task workflow per input (the task's input = the workflow's input)."""
        name = task_name or self.task_name()
        keys = tuple(sorted({key for item in inputs for key in item}))
        if self._workflow_keys.get(name) != keys:
            self.server.register_workflow({
                "name": f"wf_{name}",
                "version": 1,
                "schemaVersion": 2,
                "ownerEmail": "tests@example.com",
                "tasks": [{
                    "name": name,
                    "taskReferenceName": "only",
                    "type": "SIMPLE",
                    "inputParameters": {key: f"${{workflow.input.{key}}}" for key in keys},
                }],
            })
            self._workflow_keys[name] = keys
        return [self.server.start_workflow(f"wf_{name}", dict(item)) for item in inputs]

    def complete(self, workflow_ids: Sequence[str], timeout: float = WAIT) -> None:
        """Wait until every workflow ended and assert they all COMPLETED."""
        statuses = self.server.wait_for_workflows(workflow_ids, timeout)
        failed = {wid: status for wid, status in statuses.items() if status != "COMPLETED"}
        assert not failed, f"workflows not COMPLETED: {failed}"

    def task_times(self, task_name: str | None = None) -> list[tuple[str, int, int, int]]:
        """(status, scheduled, start, end) in ms of every task of the type, as the server recorded
        them (``GET /__devserver__/tasks?taskType=...``; start and end are 0 until they happen)."""
        url = f"{self.server.base_url}/__devserver__/tasks"
        answer = requests.get(url, params={"taskType": task_name or self.task_name()}, timeout=WAIT)
        answer.raise_for_status()
        return [(status, scheduled or 0, start or 0, end or 0) for status, scheduled, start, end in answer.json()]

    def only_task(self, workflow_id: str) -> dict[str, Any]:
        """The single task of a one-task workflow's first attempt."""
        return self.server.get_workflow(workflow_id)["tasks"][0]  # type: ignore[no-any-return]

    def close(self) -> None:
        """Release every blocked worker and stop every runner; then collect garbage, so a coroutine a
        stopped event loop left behind is reported against this test rather than a later one."""
        GATES.reset()
        for runner in self._runners:
            runner.stop(grace=1.0, flush=1.0)
        self._runners.clear()
        gc.collect()


def fast_settings(**overrides: Any) -> RuntimeSettings:
    """``FAST_SETTINGS`` with ``overrides``."""
    return RuntimeSettings(**{**FAST_SETTINGS, **overrides})


@pytest.fixture
def pipeline(dev_server: DevServer, flavour: str, request: pytest.FixtureRequest) -> Iterator[PipelineHarness]:
    """A ``PipelineHarness`` of the test's flavour; every runner is stopped afterwards."""
    GATES.reset()
    harness = PipelineHarness(dev_server, flavour, request.node.name)
    try:
        yield harness
    finally:
        harness.close()


#: Credentials of ``auth_pipeline``: the server knows AUTH_KEY with AUTH_SECRET; workers send WRONG_SECRET.
AUTH_KEY, AUTH_SECRET, WRONG_SECRET = "runtime-tests", "the-right-secret", "a-wrong-secret"


@pytest.fixture
def auth_pipeline(flavour: str, request: pytest.FixtureRequest) -> Iterator[PipelineHarness]:
    """A ``PipelineHarness`` over a dev server with token auth whose workers hold a wrong secret."""
    GATES.reset()
    with DevServer(auth_key=AUTH_KEY, auth_secret=AUTH_SECRET) as server:
        configuration = Configuration(
            server_api_url=server.url, authentication_settings=AuthenticationSettings(AUTH_KEY, WRONG_SECRET)
        )
        harness = PipelineHarness(server, flavour, request.node.name, configuration)
        try:
            yield harness
        finally:
            harness.close()
