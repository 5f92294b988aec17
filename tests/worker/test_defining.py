"""Defining workers: the decorator, the registry, Worker/WorkerInterface, spawn safety."""

from __future__ import annotations

import importlib
import inspect
import multiprocessing
import pickle
import socket
import threading
from typing import Any

import pytest

from conductor_actors.client import Task, TaskDef
from conductor_actors.worker import (
    Worker,
    WorkerConfigError,
    WorkerInterface,
    WorkerRegistrationError,
    WorkerTask,
    get_registered_worker_names,
    get_registered_workers,
    merge_workers,
    worker_task,
)


def registered(name: str, domain: str | None = None) -> Worker:
    matches = [w for w in get_registered_workers() if (w.task_definition_name, w.domain) == (name, domain)]
    assert len(matches) == 1, get_registered_workers()
    return matches[0]


def add(a: int, b: int) -> dict:
    return {"sum": a + b}


async def add_async(a: int, b: int) -> dict:
    return {"sum": a + b}


def other_add(a: int, b: int) -> dict:
    return {"sum": a + b}


def test_decorator_returns_a_wrapper_of_the_function_and_registers_a_worker():
    template = TaskDef(retry_count=7)
    decorated = worker_task(
        "deco_add",
        poll_interval_millis=250,
        thread_count=4,
        domain="blue",
        worker_id="w-1",
        poll_timeout=2000,
        lease_extend_enabled=True,
        register_task_def=True,
        overwrite_task_def=False,
        strict_schema=True,
        task_def=template,
        register_schema=True,
        processes=3,
    )(add)
    # the official decorator's contract: a functools.wraps wrapper that runs the function
    assert decorated is not add and decorated.__wrapped__ is add
    assert decorated(1, 2) == {"sum": 3}
    assert pickle.loads(pickle.dumps(add)) is add
    worker = registered("deco_add", "blue")
    assert worker.execute_function is add
    assert (worker.poll_interval_millis, worker.poll_interval, worker.thread_count) == (250.0, 250.0, 4)
    assert (worker.domain, worker.worker_id, worker.poll_timeout, worker.processes) == ("blue", "w-1", 2000, 3)
    assert worker.lease_extend_enabled and worker.register_task_def and worker.strict_schema
    assert worker.register_schema and not worker.overwrite_task_def
    assert worker.task_def_template is template
    assert worker.is_async is False
    assert worker.get_polling_interval_in_seconds() == 0.25
    assert worker.get_task_definition_name() == "deco_add"
    assert worker.get_domain() == "blue"


def test_decorator_defaults():
    worker_task("deco_defaults")(add)
    worker = registered("deco_defaults")
    assert (worker.poll_interval_millis, worker.thread_count) == (100.0, 1)
    assert (worker.poll_timeout, worker.processes) == (100, 1)
    assert (worker.domain, worker.task_def_template) == (None, None)
    assert worker.worker_id == socket.gethostname()  # the official default; each process reports its own id
    assert not worker.register_task_def and worker.overwrite_task_def and not worker.register_schema
    assert not worker.paused


def test_async_functions_are_async_workers():
    decorated = worker_task("deco_async")(add_async)
    assert decorated.__wrapped__ is add_async and inspect.iscoroutinefunction(decorated)
    assert registered("deco_async").is_async is True
    assert registered("deco_async").execute_function is add_async


def test_registry_names():
    worker_task("names_a")(add)
    worker_task("names_b")(other_add)
    worker_task("names_a", domain="eu")(add)
    names = get_registered_worker_names()
    assert names.index("names_a") < names.index("names_b")
    assert names.count("names_a") == 1


def test_same_task_name_with_a_different_function_is_an_error():
    worker_task("taken")(add)
    with pytest.raises(WorkerRegistrationError) as info:
        worker_task("taken")(other_add)
    message = str(info.value)
    assert "'taken'" in message and "add" in message and "other_add" in message
    worker_task("taken", domain="eu")(other_add)  # another domain is another key
    assert registered("taken").execute_function is add
    assert registered("taken", "eu").execute_function is other_add


def test_registering_the_same_function_again_replaces_it():
    worker_task("again", thread_count=1)(add)
    worker_task("again", thread_count=5)(add)
    assert registered("again").thread_count == 5


RELOADED = """
from conductor_actors.worker import worker_task

@worker_task(task_definition_name="reloadable", thread_count={threads})
def job(x: int) -> dict:
    return {{"x": x}}
"""


def test_module_reload_replaces_silently(write_module):
    path = write_module("reload_me.py", RELOADED.format(threads=1))
    import reload_me

    assert registered("reloadable").thread_count == 1
    path.write_text(RELOADED.format(threads=8))
    importlib.invalidate_caches()
    reloaded = importlib.reload(reload_me)
    worker = registered("reloadable")
    assert worker.thread_count == 8
    assert worker.execute_function is reloaded.job.__wrapped__


def test_legacy_worker_task_alias():
    assert WorkerTask("legacy_ms", poll_interval=300)(add).__wrapped__ is add
    assert registered("legacy_ms").poll_interval_millis == 300.0
    WorkerTask("legacy_s", poll_interval=300, poll_interval_seconds=2)(add)
    assert registered("legacy_s").poll_interval_millis == 2000.0
    WorkerTask("legacy_zero", poll_interval=150, poll_interval_seconds=0, domain="d", thread_count=2)(add)
    legacy = registered("legacy_zero", "d")
    assert (legacy.poll_interval_millis, legacy.thread_count) == (150.0, 2)
    with pytest.raises(WorkerConfigError, match="poll_interval_seconds='2'"):
        WorkerTask("legacy_bad", poll_interval_seconds="2")  # type: ignore[arg-type]


def test_worker_constructor_is_official_sdk_compatible():
    worker = Worker("ctor", add, 500, "dom", "wid", 3, True, 250, True, True, None, False, True, True, 2)
    assert (worker.poll_interval_millis, worker.domain) == (500.0, "dom")
    assert (worker.worker_id, worker.thread_count) == ("wid", 3)
    assert worker.register_task_def and worker.poll_timeout == 250 and worker.lease_extend_enabled
    assert worker.paused and not worker.overwrite_task_def and worker.strict_schema and worker.register_schema
    assert worker.processes == 2
    assert Worker("ctor_default", add).poll_interval_millis == 100.0
    assert Worker("ctor_async", add_async).is_async


@pytest.mark.parametrize("name", ["", "   ", None, 5])
def test_task_name_must_be_a_non_empty_string(name):
    with pytest.raises(WorkerRegistrationError, match="task_definition_name must be a non-empty string"):
        Worker(name, add)  # type: ignore[arg-type]


def test_task_def_must_be_a_task_def():
    with pytest.raises(WorkerRegistrationError, match="task_def must be a TaskDef"):
        Worker("bad_template", add, task_def_template={"name": "x"})  # type: ignore[arg-type]


class AsyncCallable:
    async def __call__(self, x: int) -> dict:
        return {"x": x}


def test_instance_with_async_call_is_async():
    assert Worker("callable_async", AsyncCallable()).is_async


# --- class-based workers -----------------------------------------------------------------


class GreeterWorker(WorkerInterface):
    def execute(self, task):
        return {"hello": task.input_data.get("name")}


class ConfiguredByClass(WorkerInterface):
    task_definition_name = "from_class_attribute"
    thread_count = 6
    domain = "cls"

    def execute(self, task):
        return None


def test_class_based_worker_helpers():
    worker = GreeterWorker("greet", thread_count=3, worker_id="me", poll_interval_millis=50, paused=True, processes=2)
    assert worker.get_task_definition_name() == "greet"
    assert worker.get_identity() == "me"
    assert worker.get_polling_interval_in_seconds() == 0.05
    assert (worker.thread_count, worker.paused, worker.processes, worker.is_async) == (3, True, 2, False)
    worker.poll_interval = 75
    assert worker.poll_interval_millis == 75.0
    result = worker.get_task_result_from_task(Task(task_id="t", workflow_instance_id="w"))
    assert (result.task_id, result.workflow_instance_id, result.worker_id) == ("t", "w", "me")


def test_class_attributes_are_defaults():
    worker = ConfiguredByClass()
    assert (worker.task_definition_name, worker.thread_count, worker.domain) == ("from_class_attribute", 6, "cls")
    assert ConfiguredByClass(domain="override").domain == "override"


def test_class_based_worker_without_name_is_rejected():
    with pytest.raises(WorkerRegistrationError, match="task_definition_name"):
        GreeterWorker()


def test_class_based_property_values_are_validated():
    with pytest.raises(WorkerConfigError, match="processes=0"):
        GreeterWorker("greet", processes=0)


# --- spawn safety --------------------------------------------------------------------------


def test_lambdas_are_refused_at_start_with_advice():
    worker = Worker("lambda_task", lambda x: x)
    with pytest.raises(WorkerRegistrationError) as info:
        worker.check_spawnable()
    assert "lambda" in str(info.value) and "`def` at module level" in str(info.value)


def test_nested_functions_are_rejected_with_advice():
    def inner(x: int) -> dict:
        return {}

    worker = Worker("nested_task", inner)
    with pytest.raises(WorkerRegistrationError) as info:
        worker.check_spawnable()
    message = str(info.value)
    assert "<locals>" in message and "module level" in message and "functools.wraps" in message


class LockHolder(WorkerInterface):
    def __init__(self) -> None:
        super().__init__("lock_holder")
        self.lock = threading.Lock()

    def execute(self, task):
        return None


def test_unpicklable_class_based_worker_is_rejected_with_advice():
    worker = LockHolder()
    with pytest.raises(WorkerRegistrationError) as info:
        worker.check_spawnable()
    message = str(info.value)
    assert "lock_holder" in message and "cannot be pickled" in message and "lock" in message
    assert "lazily" in message
    with pytest.raises(WorkerRegistrationError, match="cannot be pickled"):
        merge_workers([worker], [])


def test_picklable_class_based_worker_passes():
    worker = GreeterWorker("greet_ok", thread_count=2)
    worker.check_spawnable()
    copy = pickle.loads(pickle.dumps(worker))
    assert (copy.task_definition_name, copy.thread_count) == ("greet_ok", 2)


class Unpicklable:
    def __init__(self) -> None:
        self.lock = threading.Lock()

    def __call__(self, x: int) -> dict:
        return {}


def test_unpicklable_callable_is_refused_at_start():
    worker = Worker("callable_bad", Unpicklable())
    with pytest.raises(WorkerRegistrationError, match="cannot be pickled"):
        worker.check_spawnable()


def test_main_module_failures_mention_the_main_guard():
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec("def main_only(x):\n    return {'x': x}\nmain_lambda = lambda x: x\n", namespace)
    worker = Worker("main_only", namespace["main_only"])
    with pytest.raises(WorkerRegistrationError) as info:
        worker.check_spawnable()
    assert 'if __name__ == "__main__":' in str(info.value)
    with pytest.raises(WorkerRegistrationError) as info:
        Worker("main_lambda", namespace["main_lambda"]).check_spawnable()
    assert 'if __name__ == "__main__":' in str(info.value)


DECORATED = """
import functools
from conductor_actors.worker import worker_task

def plain_decorator(func):
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper

def wrapping_decorator(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper

@plain_decorator
@worker_task(task_definition_name="wrapped_badly")
def badly(x: int) -> dict:
    return {"x": x}

@wrapping_decorator
@worker_task(task_definition_name="wrapped_well")
def well(x: int) -> dict:
    return {"x": x}
"""


def test_name_rebound_by_a_decorator_without_wraps_is_rejected(write_module):
    write_module("decorated_workers.py", DECORATED)
    import decorated_workers  # noqa: F401

    worker = registered("wrapped_badly")
    with pytest.raises(WorkerRegistrationError) as info:
        worker.check_spawnable()
    message = str(info.value)
    assert "decorated_workers.badly" in message and "functools.wraps" in message
    with pytest.raises(WorkerRegistrationError, match="no longer points at the worker function"):
        pickle.dumps(worker)
    with pytest.raises(WorkerRegistrationError):
        merge_workers([], [worker])


def test_a_wraps_decorator_above_the_worker_is_fine(write_module):
    write_module("decorated_workers.py", DECORATED)
    import decorated_workers

    worker = registered("wrapped_well")
    worker.check_spawnable()
    copy = pickle.loads(pickle.dumps(worker))
    assert copy.execute_function is worker.execute_function
    # two functools.wraps hops: the outer decorator's wrapper, then @worker_task's
    assert copy.execute_function is inspect.unwrap(decorated_workers.well)


def test_decorator_below_worker_task_without_wraps_is_rejected(write_module):
    source = DECORATED.replace(
        "@plain_decorator\n@worker_task(task_definition_name=\"wrapped_badly\")",
        "@worker_task(task_definition_name=\"wrapped_badly\")\n@plain_decorator",
    )
    write_module("decorated_below.py", source)
    import decorated_below  # noqa: F401

    with pytest.raises(WorkerRegistrationError, match="defined inside another function"):
        registered("wrapped_badly").check_spawnable()


SPAWNED = """
from conductor_actors.client import Task
from conductor_actors.worker import BoundWorker, WorkerInterface, execute_sync, worker_task

@worker_task(task_definition_name="spawned_square", thread_count=2)
def square(n: int) -> dict:
    return {"square": n * n}

class Doubler(WorkerInterface):
    def execute(self, task):
        return {"double": task.input_data["n"] * 2}

def child(conn, worker):
    bound = BoundWorker(worker, "child")
    task = Task(task_id="t", workflow_instance_id="w", input_data={"n": 7})
    conn.send((type(worker).__name__, worker.thread_count, execute_sync(bound, task, lambda: False).result.output_data))
    conn.close()
"""


def test_workers_are_recreated_in_a_spawned_child(write_module):
    write_module("spawned_workers.py", SPAWNED)
    import spawned_workers

    context = multiprocessing.get_context("spawn")
    workers = [registered("spawned_square"), spawned_workers.Doubler("doubler", thread_count=3)]
    received = []
    for worker in workers:
        parent_end, child_end = context.Pipe(duplex=False)
        process = context.Process(target=spawned_workers.child, args=(child_end, worker))
        process.start()
        child_end.close()
        assert parent_end.poll(60), "the child did not answer"
        received.append(parent_end.recv())
        process.join(30)
        assert process.exitcode == 0
    assert received == [("Worker", 2, {"square": 49}), ("Doubler", 3, {"double": 14})]

