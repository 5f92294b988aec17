"""Fault injection: each effect, limits by times and seconds, groups, removal, counters, admin HTTP."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable

import pytest
from devserver._support import Api, RawConnection, one_task_workflow, wait_until

from conductor_actors.devserver import DevServer

POLL = "/api/tasks/poll/batch/echo?timeout=0"


def test_status_answers_the_error_body_and_changes_nothing(dev_server: DevServer, api: Api, polled: dict) -> None:
    dev_server.faults.add("update_v1", status=503, times=1)
    reply = api.update(polled)
    assert reply.status == 503
    body = reply.json()
    assert body["status"] == 503 and body["retryable"] is True and "503" in body["message"]
    assert dev_server.get_task(polled["taskId"])["status"] == "IN_PROGRESS"  # the update was not applied
    assert api.update(polled).status == 200  # times=1: used up
    dev_server.faults.add("task_get", status=429, times=1)
    assert api.get(f"/api/tasks/{polled['taskId']}").json()["retryable"] is False


def test_delay_waits_then_processes_normally(dev_server: DevServer, api: Api, polled: dict) -> None:
    dev_server.faults.add("update", delay_ms=200, times=1)
    started = time.monotonic()
    reply = api.update(polled)
    assert reply.status == 200 and time.monotonic() - started >= 0.19
    assert dev_server.get_task(polled["taskId"])["status"] == "COMPLETED"


def test_delay_combines_with_another_effect(dev_server: DevServer, api: Api) -> None:
    dev_server.faults.add("poll_batch", delay_ms=150, status=500, times=1)
    started = time.monotonic()
    assert api.get(POLL).status == 500
    assert time.monotonic() - started >= 0.14


def test_a_delayed_request_does_not_block_other_connections(dev_server: DevServer,
                                                            make_api: Callable[..., Api]) -> None:
    fault = dev_server.faults.add("poll_batch", delay_ms=1000, times=1)
    slow, quick = make_api(), make_api()
    thread = threading.Thread(target=lambda: slow.get(POLL))
    thread.start()
    wait_until(lambda: fault.hits == 1, what="the delayed poll")
    started = time.monotonic()
    assert quick.get("/api/metadata/taskdefs").status == 200
    assert time.monotonic() - started < 0.8
    thread.join()


def test_drop_resets_the_connection_without_an_answer(dev_server: DevServer, api: Api, polled: dict) -> None:
    dev_server.faults.add("update_v2", drop=True, times=1)
    conn = RawConnection(dev_server)
    try:
        body = json.dumps({"taskId": polled["taskId"], "workflowInstanceId": polled["workflowInstanceId"],
                           "status": "COMPLETED"}).encode()
        conn.send(b"POST /api/tasks/update-v2 HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        with pytest.raises(ConnectionResetError):
            conn.sock.recv(1024)
    finally:
        conn.close()
    assert dev_server.get_task(polled["taskId"])["status"] == "IN_PROGRESS"
    dev_server.faults.add("poll", drop=True, times=1)
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        api.get(POLL)


@pytest.mark.parametrize(("kind", "content_type"), [("html", "text/html"), ("not_json", "text/plain"),
                                                    ("truncated_json", "application/json")])
def test_garbage_bodies(dev_server: DevServer, api: Api, kind: str, content_type: str) -> None:
    dev_server.faults.add("poll_batch", garbage=kind, times=1)
    reply = api.get(POLL)
    assert reply.status == 200 and reply.headers["content-type"].startswith(content_type)
    with pytest.raises(ValueError):
        json.loads(reply.body)
    if kind == "html":
        assert reply.text.lstrip().startswith("<!DOCTYPE html>")
    if kind == "truncated_json":
        assert reply.text.startswith("[{")


def test_missing_ids_garbage(dev_server: DevServer, api: Api) -> None:
    dev_server.faults.add("poll", garbage="missing_ids", times=2)
    batch = api.get(POLL).json()
    assert isinstance(batch, list) and len(batch) == 1
    assert "taskId" not in batch[0] and "workflowInstanceId" not in batch[0]
    single = api.get("/api/tasks/poll/echo").json()
    assert isinstance(single, dict) and "taskId" not in single
    dev_server.faults.add("task_get", garbage="missing_ids", times=1)
    with pytest.raises(ValueError):
        json.loads(api.get("/api/tasks/x").body)


def test_seconds_limits_a_fault_in_time(dev_server: DevServer, api: Api) -> None:
    fault = dev_server.faults.add("*", status=502, seconds=0.3)
    assert api.get(POLL).status == 502
    assert fault.active
    wait_until(lambda: api.get(POLL).status == 200, what="the fault to expire")
    assert not fault.active


def test_without_limits_a_fault_lasts_until_removed(dev_server: DevServer, api: Api) -> None:
    fault = dev_server.faults.add("poll", status=500)
    assert [api.get(POLL).status for _ in range(3)] == [500, 500, 500]
    assert fault.hits == 3
    fault.remove()
    assert api.get(POLL).status == 200
    fault.remove()  # idempotent
    dev_server.faults.add("poll", status=500)
    dev_server.faults.add("update", status=500)
    dev_server.faults.clear()
    assert api.get(POLL).status == 200


@pytest.mark.parametrize(("group", "hit", "missed"), [
    ("poll", ["/api/tasks/poll/batch/a", "/api/tasks/poll/a"], ["/api/tasks/queue/all"]),
    ("taskdefs", ["/api/metadata/taskdefs", "/api/metadata/taskdefs/a"], ["/api/metadata/workflow/a"]),
    ("*", ["/api/tasks/queue/all", "/api/metadata/taskdefs", "/api/workflow/x"], []),
])
def test_groups_match_their_endpoints(dev_server: DevServer, api: Api, group: str, hit: list[str],
                                      missed: list[str]) -> None:
    dev_server.faults.add(group, status=418)
    assert [api.get(path).status for path in hit] == [418] * len(hit)
    assert all(api.get(path).status != 418 for path in missed)


def test_update_group_covers_v1_and_v2(dev_server: DevServer, api: Api, polled: dict) -> None:
    dev_server.faults.add("update", status=500, times=2)
    assert api.update(polled).status == 500
    assert api.update(polled, v2=True).status == 500
    assert api.update(polled, v2=True).status == 204


def test_counters_count_every_request_including_faulted_ones(dev_server: DevServer, api: Api) -> None:
    dev_server.faults.add("poll_single", status=500, times=1)
    api.get(POLL)
    api.get("/api/tasks/poll/echo")
    api.get("/api/nowhere")
    stats = dev_server.stats()
    assert (stats["poll_batch"], stats["poll_single"], stats["total"]) == (1, 1, 3)
    assert set(stats) >= {"update_v1", "update_v2", "token", "schema_save", "workflow_status"}
    dev_server.reset_stats()
    assert dev_server.stats()["total"] == 0


def test_invalid_faults_are_rejected(dev_server: DevServer) -> None:
    faults = dev_server.faults
    for kwargs, fragment in (({"endpoint": "polls", "status": 500}, "unknown endpoint"),
                             ({"endpoint": "poll"}, "needs an effect"),
                             ({"endpoint": "poll", "status": 700}, "status"),
                             ({"endpoint": "poll", "garbage": "xml"}, "garbage"),
                             ({"endpoint": "poll", "status": 500, "drop": True}, "at most one"),
                             ({"endpoint": "poll", "status": 500, "times": 0}, "times"),
                             ({"endpoint": "poll", "status": 500, "seconds": -1}, "seconds"),
                             ({"endpoint": "poll", "delay_ms": -5}, "delay_ms")):
        endpoint = kwargs.pop("endpoint")
        with pytest.raises(ValueError, match=fragment):
            faults.add(endpoint, **kwargs)  # type: ignore[arg-type]
    assert faults.faults() == ()


def test_admin_http_drives_faults_and_stats(dev_server: DevServer, api: Api) -> None:
    added = api.post("/__devserver__/faults", {"endpoint": "poll", "status": 503, "times": 1})
    assert added.status == 200 and added.json()["endpoint"] == "poll"
    assert api.get("/__devserver__/faults").json()[0]["status"] == 503
    assert api.get(POLL).status == 503
    assert api.get(POLL).status == 200
    stats = api.get("/__devserver__/stats").json()
    assert stats["poll_batch"] == 2 and stats["total"] == 2  # admin calls are not counted
    fault_id = api.post("/__devserver__/faults", {"endpoint": "*", "status": 500}).json()["id"]
    assert api.get("/__devserver__/stats").status == 200  # admin calls are never faulted
    assert api.delete(f"/__devserver__/faults/{fault_id}").status == 200
    assert api.delete(f"/__devserver__/faults/{fault_id}").status == 404
    api.post("/__devserver__/faults", {"endpoint": "*", "status": 500})
    assert api.delete("/__devserver__/faults").status == 200
    assert api.get(POLL).status == 200
    assert api.post("/__devserver__/stats/reset").status == 200
    assert dev_server.stats()["total"] == 0
    bad = api.post("/__devserver__/faults", {"endpoint": "nope", "status": 500})
    assert bad.status == 400 and "unknown endpoint" in bad.json()["message"]
    assert api.post("/__devserver__/faults", {"endpoint": "poll", "colour": "red"}).status == 400
    assert api.get("/__devserver__/other").status == 404
    assert api.get("/__devserver__/stats/reset").status == 405


def test_admin_http_summarises_workflows_and_lists_task_times(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    one_task_workflow(dev_server, name="other", task="other")
    done = dev_server.start_workflow("wf")
    polled_task = api.get("/api/tasks/poll/batch/echo?count=1&workerid=w").json()[0]
    api.post("/api/tasks", {"taskId": polled_task["taskId"], "workflowInstanceId": done, "status": "COMPLETED"})
    dev_server.start_workflow("wf")
    dev_server.start_workflow("other")
    summary = api.get("/__devserver__/summary").json()
    assert summary == {"workflows": {"COMPLETED": 1, "RUNNING": 2}, "tasks": {"COMPLETED": 1, "SCHEDULED": 2}}
    rows = api.get("/__devserver__/tasks?taskType=echo").json()
    assert sorted(row[0] for row in rows) == ["COMPLETED", "SCHEDULED"]
    finished = next(row for row in rows if row[0] == "COMPLETED")
    assert finished[1] <= finished[2] <= finished[3]  # scheduled <= started <= ended (ms)
    assert len(api.get("/__devserver__/tasks").json()) == 3
    assert dev_server.stats()["total"] == 2  # the admin reads were not counted
