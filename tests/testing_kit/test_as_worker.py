"""``conductor_actors.testing.as_worker``: what the testing kit runs for a function or a worker."""

from __future__ import annotations

import asyncio

import pytest

from conductor_actors import Task, Worker, WorkerInterface, get_registered_workers, worker_task
from conductor_actors.testing import as_worker


@worker_task(task_definition_name="kit_as_worker_sync", thread_count=6, domain="kit", poll_interval_millis=250)
def decorated_sync(text: str) -> dict:
    return {"text": text}


@worker_task(task_definition_name="kit_as_worker_async", thread_count=9)
async def decorated_async(text: str) -> dict:
    await asyncio.sleep(0)
    return {"text": text}


def plain(text: str) -> dict:
    return {"text": text}


async def plain_async(text: str) -> dict:
    await asyncio.sleep(0)
    return {"text": text}


class Echo(WorkerInterface):
    task_definition_name = "kit_echo"

    def execute(self, task: Task) -> dict:
        return dict(task.input_data)


@pytest.mark.parametrize("function", [decorated_sync, decorated_async])
def test_a_decorated_function_is_its_registered_worker(function: object) -> None:
    """The decorator's worker itself, so its options (name, thread_count, domain...) apply."""
    worker = as_worker(function)
    assert any(worker is registered for registered in get_registered_workers())
    # the registry holds the original function; the decorator returned a functools.wraps wrapper
    assert isinstance(worker, Worker) and worker.execute_function is function.__wrapped__  # type: ignore[attr-defined]
    assert worker.is_async == (function is decorated_async)


def test_the_decorators_options_come_along() -> None:
    worker = as_worker(decorated_sync)
    assert (worker.get_task_definition_name(), worker.thread_count, worker.domain, worker.poll_interval_millis) == (
        "kit_as_worker_sync", 6, "kit", 250)


@pytest.mark.parametrize("function", [plain, plain_async])
def test_a_plain_function_becomes_a_worker_named_after_it(function: object) -> None:
    worker = as_worker(function)
    assert isinstance(worker, Worker) and worker.execute_function is function
    assert worker.get_task_definition_name() == function.__name__  # type: ignore[attr-defined]
    assert worker.thread_count == 1
    assert not any(worker is registered for registered in get_registered_workers())


def test_a_task_name_can_be_given() -> None:
    assert as_worker(plain, "kit_custom").get_task_definition_name() == "kit_custom"
    renamed = as_worker(decorated_sync, "kit_other_name")  # not the registered name: a fresh worker
    assert renamed.get_task_definition_name() == "kit_other_name"
    assert renamed is not as_worker(decorated_sync)


def test_a_worker_is_returned_as_it_is() -> None:
    echo = Echo()
    assert as_worker(echo) is echo
    explicit = Worker("kit_explicit", plain)
    assert as_worker(explicit) is explicit


def test_something_that_is_not_a_worker_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="expected a worker or a function, got int"):
        as_worker(42)
