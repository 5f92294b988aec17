"""What a scrape of the real ``/metrics`` endpoint shows after real worker processes ran tasks.

Each test runs one worker process of the test's flavour ("sync" = ``def`` worker on threads,
"async" = ``async def`` worker on an event loop) under a ``TaskHandler`` with HTTP metrics, runs
tasks through the dev server, then scrapes until the relayed counters arrived (batches come every
relay interval) and checks the numbers exactly.
"""

from __future__ import annotations

from typing import Any

from _support.metrics_apps import FAILURE_CLASS_NAME, make_worker, output_of, serialised_size
from _support.metrics_apps.harness import TASK, HandlerFactory, Scrape, buckets, http_get, run_tasks, scrape_until

from conductor_actors.devserver import DevServer
from conductor_actors.metrics._catalog import SIZE_BUCKETS

N = 12


def test_a_run_of_n_tasks_is_counted_once_each(
    flavour: str, dev_server: DevServer, handler_factory: HandlerFactory
) -> None:
    handler = handler_factory([make_worker(flavour, TASK)])
    statuses = run_tasks(dev_server, [{"size": 5}] * N)
    assert set(statuses.values()) == {"COMPLETED"}

    s = scrape_until(
        handler, lambda s: s.total("task_update_time_seconds_count", taskType=TASK) >= N,
        f"{N} result updates counted",
    )

    assert s.one("task_execution_started_total", taskType=TASK) == N
    assert s.one("task_execute_time_seconds_count", taskType=TASK, status="SUCCESS") == N
    assert s.find("task_execute_time_seconds_count", status="FAILURE") == []
    assert s.one("task_poll_total", taskType=TASK) >= 1
    assert s.total("task_poll_time_seconds_count", taskType=TASK) >= 1
    assert s.total("task_update_time_seconds_count", taskType=TASK) == N
    # every update is one POST /tasks/update-v2, labelled with the path (no ids in labels)
    updates = s.find("http_api_client_request_seconds_count", uri="/tasks/update-v2")
    assert {u.labels["method"] for u in updates} == {"POST"}
    assert sum(u.value for u in updates) == N
    polls = s.find("http_api_client_request_seconds_count", uri="/tasks/poll/batch/{taskType}")
    assert sum(p.value for p in polls) >= 1
    assert s.one("active_workers", taskType=TASK) == 1
    assert s.one("worker_restart_total", taskType=TASK) == 0

    assert [sample for sample in s.samples if "pid" in sample.labels] == []
    assert [sample for sample in s.samples if "quantile" in sample.labels] == [], "quantiles are off by default"
    assert s.families["task_execute_time_seconds"].type == "histogram"
    media_type, *parameters = [part.strip() for part in (s.content_type or "").split(";")]
    assert media_type == "text/plain", s.content_type
    params = dict(p.split("=", 1) for p in parameters)
    assert params.get("version") in ("0.0.4", "1.0.0"), s.content_type
    assert params.get("charset", "").lower() == "utf-8", s.content_type

    assert handler.metrics is not None and handler.metrics.url is not None
    root = http_get(handler.metrics.url + "/")
    assert (root.status, root.content_type) == (200, s.content_type)
    assert Scrape(root.body.decode()).one("task_execution_started_total", taskType=TASK) == N
    assert http_get(handler.metrics.url + "/nothing-here").status == 404


def test_a_worker_that_raises_is_counted_by_exception_class(
    flavour: str, dev_server: DevServer, handler_factory: HandlerFactory
) -> None:
    handler = handler_factory([make_worker(flavour, TASK)])
    inputs = [{"fail": index % 3 == 0} for index in range(N)]
    failures = sum(1 for item in inputs if item["fail"])
    statuses = run_tasks(dev_server, inputs)
    assert sorted(statuses.values()) == sorted(["FAILED"] * failures + ["COMPLETED"] * (N - failures))

    s = scrape_until(  # each update is observed after its execution: the last number to arrive
        handler, lambda s: s.total("task_update_time_seconds_count", taskType=TASK) >= N,
        f"{N} result updates counted",
    )

    # one series, labelled with the class name: every message differs, none is a label
    errors = s.find("task_execute_error_total", taskType=TASK)
    assert [e.labels["exception"] for e in errors] == [FAILURE_CLASS_NAME], s.lines("task_execute_error_total")
    assert errors[0].value == failures
    assert s.one("task_execute_time_seconds_count", taskType=TASK, status="FAILURE") == failures
    assert s.one("task_execute_time_seconds_count", taskType=TASK, status="SUCCESS") == N - failures
    assert s.one("task_execution_started_total", taskType=TASK) == N
    assert "was asked to fail" not in s.text


def test_the_processes_of_one_worker_share_one_series(
    flavour: str, dev_server: DevServer, handler_factory: HandlerFactory
) -> None:
    # one task at a time per process, each a little slow: the second process has to take some
    handler = handler_factory([make_worker(flavour, TASK, thread_count=1, processes=2)])
    tasks = 8
    statuses = run_tasks(dev_server, [{"seconds": 0.1}] * tasks)
    assert set(statuses.values()) == {"COMPLETED"}
    workers = {task["workerId"] for task in dev_server.tasks(task_type=TASK)}
    assert len(workers) == 2, f"the tasks did not spread over both processes: {workers}"

    s = scrape_until(
        handler, lambda s: s.total("task_update_time_seconds_count", taskType=TASK) >= tasks,
        f"{tasks} updates counted from both processes",
    )

    assert s.one("task_execution_started_total", taskType=TASK) == tasks
    assert s.one("task_execute_time_seconds_count", taskType=TASK, status="SUCCESS") == tasks
    assert s.one("active_workers", taskType=TASK) == 2
    assert s.one("worker_processes", taskType=TASK, state="up") == 2
    assert [sample for sample in s.samples if "pid" in sample.labels] == []


def test_result_sizes_are_the_serialised_outputs_in_bytes(
    flavour: str, dev_server: DevServer, handler_factory: HandlerFactory
) -> None:
    handler = handler_factory([make_worker(flavour, TASK)])
    # 11 bytes of JSON around the blob: 11, exactly 100 (a bucket bound), 511, 5011, 50011 bytes,
    # and 10 two-byte characters (31 bytes, 21 characters)
    inputs: list[dict[str, Any]] = [
        {"size": 0}, {"size": 89}, {"size": 500}, {"size": 5000}, {"size": 50000}, {"size": 10, "text": "é"},
    ]
    expected = [serialised_size(output_of(item["size"], str(item.get("text", "x")))) for item in inputs]
    assert expected == [11, 100, 511, 5011, 50011, 31]
    statuses = run_tasks(dev_server, inputs)
    assert set(statuses.values()) == {"COMPLETED"}
    held = sorted(serialised_size(task["outputData"]) for task in dev_server.tasks(task_type=TASK))
    assert held == sorted(expected), "the dev server holds other outputs than the worker returned"

    s = scrape_until(
        handler, lambda s: s.total("task_result_size_bytes_count", taskType=TASK) >= len(inputs),
        "every result size observed",
    )

    assert s.one("task_result_size_bytes_count", taskType=TASK) == len(inputs)
    assert s.one("task_result_size_bytes_sum", taskType=TASK) == sum(held)
    assert_buckets_hold(s, "task_result_size_bytes", held, SIZE_BUCKETS, taskType=TASK)


def assert_buckets_hold(s: Scrape, name: str, values: list[int], bounds: tuple[float, ...], **labels: str) -> None:
    """Each cumulative bucket of ``name`` counts exactly the values <= its bound."""
    expected = [(bound, float(sum(1 for v in values if v <= bound))) for bound in bounds]
    expected.append((float("inf"), float(len(values))))
    assert buckets(s, name, **labels) == expected, s.lines(name)
