"""Polling: batch and single polls, long-poll wake-up, hand-out fields, limits, domains, poll data."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from devserver._support import WAIT, Api, one_task_workflow, wait_until

from conductor_actors.devserver import DevServer


def test_batch_poll_hands_out_up_to_count_in_fifo_order(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    ids = [dev_server.start_workflow("wf", {"x": n}) for n in range(5)]
    first = api.poll("echo", count=3)
    rest = api.poll("echo", count=10)
    assert [t["workflowInstanceId"] for t in first + rest] == ids
    assert [t["inputData"] for t in first] == [{"x": 0}, {"x": 1}, {"x": 2}]
    assert api.poll("echo") == []


def test_count_defaults_to_one_and_must_be_positive(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    for n in range(2):
        dev_server.start_workflow("wf", {"x": n})
    assert len(api.get("/api/tasks/poll/batch/echo").json()) == 1
    for count in ("0", "-1"):
        reply = api.get(f"/api/tasks/poll/batch/echo?count={count}")
        assert reply.status == 400 and "count" in reply.json()["message"]
    assert api.get("/api/tasks/poll/batch/echo?count=many").status == 400


def test_timeout_above_5000_ms_is_rejected(api: Api) -> None:
    reply = api.get("/api/tasks/poll/batch/echo?timeout=5001")
    assert reply.status == 400
    assert reply.json()["message"] == "Long Poll Timeout value cannot be more than 5 seconds"
    assert api.get("/api/tasks/poll/batch/echo?timeout=-5").status == 400


def test_an_empty_poll_waits_its_timeout_then_answers_an_empty_list(api: Api) -> None:
    started = time.monotonic()
    reply = api.get("/api/tasks/poll/batch/echo?timeout=200")
    elapsed = time.monotonic() - started
    assert (reply.status, reply.json()) == (200, [])
    assert 0.19 <= elapsed < 2.0
    started = time.monotonic()
    assert api.get("/api/tasks/poll/batch/echo").json() == []  # default timeout is 100 ms
    assert time.monotonic() - started >= 0.09


def test_a_parked_batch_poll_answers_with_the_first_ready_task_not_waiting_for_count_unlike_sql_queues(
    dev_server: DevServer, make_api: Callable[..., Api]
) -> None:
    # Deliberate deviation: the real server's SQL queue DAOs would hold this count=5 poll until the
    # timeout (5 s) because only one task is ready; the dev server answers with the one task.
    one_task_workflow(dev_server)
    waiting, other = make_api(), make_api()
    answer: dict[str, object] = {}

    def long_poll() -> None:
        started = time.monotonic()
        answer["tasks"] = waiting.poll("echo", count=5, timeout=5000)
        answer["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=long_poll)
    thread.start()
    # Wait until the poll is parked (its poll data is recorded when it arrives).
    wait_until(lambda: other.get("/api/tasks/queue/polldata?taskType=echo").json(), what="the poll to arrive")
    # The parked poll does not block other requests.
    assert other.get("/api/metadata/taskdefs").status == 200
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    thread.join(WAIT)
    tasks = answer["tasks"]
    assert isinstance(tasks, list) and [t["workflowInstanceId"] for t in tasks] == [workflow_id]
    assert answer["elapsed"] < 4.0  # woken, not timed out


def test_a_batch_poll_with_fewer_ready_tasks_than_count_answers_at_once_unlike_sql_queues(
    dev_server: DevServer, api: Api
) -> None:
    # The real server's SQL queue DAOs keep polling for `count` tasks until the timeout; the dev
    # server hands out the two ready tasks at once (the server's own API docs describe this).
    one_task_workflow(dev_server)
    ids = [dev_server.start_workflow("wf", {"x": n}) for n in range(2)]
    started = time.monotonic()
    tasks = api.poll("echo", count=5, timeout=3000)
    elapsed = time.monotonic() - started
    assert [t["workflowInstanceId"] for t in tasks] == ids
    assert elapsed < 1.5  # far from the 3 s a count-waiting queue would take


def test_many_parked_polls_each_get_one_task(dev_server: DevServer, make_api: Callable[..., Api]) -> None:
    one_task_workflow(dev_server)
    apis = [make_api() for _ in range(4)]
    results: list[list[dict[str, object]]] = []
    lock = threading.Lock()

    def long_poll(client: Api) -> None:
        tasks = client.poll("echo", count=1, timeout=3000)
        with lock:
            results.append(tasks)

    threads = [threading.Thread(target=long_poll, args=(client,)) for client in apis]
    for thread in threads:
        thread.start()
    wait_until(lambda: dev_server.stats()["poll_batch"] == 4, what="four parked polls")
    ids = {dev_server.start_workflow("wf", {"x": n}) for n in range(4)}
    for thread in threads:
        thread.join(WAIT)
    assert sorted(len(r) for r in results) == [1, 1, 1, 1]
    assert {r[0]["workflowInstanceId"] for r in results} == ids


def test_hand_out_sets_the_task_fields(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    workflow_id = dev_server.start_workflow("wf", {"x": 7})
    scheduled = dev_server.tasks()[0]
    assert scheduled["status"] == "SCHEDULED" and scheduled["pollCount"] == 0 and scheduled["startTime"] == 0
    task = api.poll_one("echo", worker="host-a")
    assert task["status"] == "IN_PROGRESS"
    assert task["workerId"] == "host-a"
    assert task["pollCount"] == 1
    assert task["callbackAfterSeconds"] == 0
    assert task["startTime"] >= task["scheduledTime"] > 0
    assert task["updateTime"] == task["startTime"]
    assert task["workflowInstanceId"] == workflow_id
    assert task["taskType"] == task["taskDefName"] == "echo"
    assert task["referenceTaskName"] == "echo_ref"
    assert task["retryCount"] == 0 and task["responseTimeoutSeconds"] == 3600
    assert task["workflowTask"]["type"] == "SIMPLE"
    assert "domain" not in task
    assert dev_server.get_task(task["taskId"])["status"] == "IN_PROGRESS"


def test_single_poll_answers_a_task_or_204(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    started = time.monotonic()
    empty = api.get("/api/tasks/poll/echo?workerid=w")
    assert empty.status == 204 and empty.body == b""
    assert time.monotonic() - started >= 0.09  # the server's 100 ms
    workflow_id = dev_server.start_workflow("wf", {"x": 1})
    reply = api.get("/api/tasks/poll/echo?workerid=w")
    assert reply.status == 200
    assert reply.json()["workflowInstanceId"] == workflow_id
    assert reply.json()["pollCount"] == 1


def test_domains_separate_queues(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    plain = dev_server.start_workflow("wf", {"x": 0})
    in_d1 = dev_server.start_workflow("wf", {"x": 1}, task_to_domain={"echo": "d1"})
    assert dev_server.queue_size("echo") == 1 and dev_server.queue_size("echo", "d1") == 1
    from_d1 = api.poll("echo", count=5, domain="d1")
    assert [t["workflowInstanceId"] for t in from_d1] == [in_d1]
    assert from_d1[0]["domain"] == "d1"
    assert api.poll("echo", count=5, domain="d2") == []
    assert [t["workflowInstanceId"] for t in api.poll("echo", count=5)] == [plain]
    # An empty domain parameter means no domain, as the SDK omits it.
    assert api.get("/api/tasks/poll/batch/echo?domain=&count=5").json() == []


def test_task_to_domain_star_per_type_override_and_no_domain(dev_server: DevServer, api: Api) -> None:
    dev_server.register_workflow({"name": "two", "tasks": [
        {"name": "a", "taskReferenceName": "a_ref"}, {"name": "b", "taskReferenceName": "b_ref"}]})
    dev_server.start_workflow("two", task_to_domain={"*": "blue", "b": "NO_DOMAIN"})
    task_a = api.poll_one("a", domain="blue")
    assert api.update(task_a).status == 200
    assert api.poll("b", domain="blue") == []
    assert "domain" not in api.poll_one("b")


def test_a_domain_list_prefers_a_recently_polled_domain(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    # Nobody polled d1 or d2 yet: the last entry wins.
    dev_server.start_workflow("wf", task_to_domain={"echo": "d1,d2"})
    assert dev_server.queue_size("echo", "d2") == 1
    # Now d1 is active (a poll in the last 10 s): it is picked first.
    assert api.poll("echo", domain="d1") == []
    dev_server.start_workflow("wf", task_to_domain={"echo": "d1,d2"})
    assert dev_server.queue_size("echo", "d1") == 1
    # "d3,NO_DOMAIN" with no active d3 means no domain at all.
    dev_server.start_workflow("wf", task_to_domain={"echo": "d3,NO_DOMAIN"})
    assert dev_server.queue_size("echo") == 1


def test_poll_data_records_every_poll(dev_server: DevServer, api: Api) -> None:
    before = int(time.time() * 1000)
    api.poll("echo", worker="alpha")
    api.poll("echo", worker="beta", domain="d9")
    api.poll("other", worker="gamma")
    entries = api.get("/api/tasks/queue/polldata?taskType=echo").json()
    by_domain = {e.get("domain"): e for e in entries}
    assert by_domain[None]["workerId"] == "alpha" and by_domain["d9"]["workerId"] == "beta"
    assert all(e["queueName"] == "echo" and e["lastPollTime"] >= before for e in entries)
    assert len(entries) == 2
    assert api.get("/api/tasks/queue/polldata").status == 400  # taskType is required
