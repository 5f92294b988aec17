"""Task logs, get task, queue sizes."""

from __future__ import annotations

from devserver._support import Api, one_task_workflow

from conductor_actors.devserver import DevServer


def test_logs_append_raw_bodies_and_read_back(api: Api) -> None:
    assert api.get("/api/tasks/t-1/log").status == 204
    first = api.post("/api/tasks/t-1/log", raw=b"first line")
    assert (first.status, first.body) == (200, b"")
    api.post("/api/tasks/t-1/log", raw='"quoted" \\n ünïcode'.encode())
    logs = api.get("/api/tasks/t-1/log").json()
    assert [entry["log"] for entry in logs] == ["first line", '"quoted" \\n ünïcode']
    assert all(entry["taskId"] == "t-1" and entry["createdTime"] > 0 for entry in logs)
    assert api.post("/api/tasks/t-1/log", raw=b"\xff").status == 400


def test_get_task_or_404(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    dev_server.start_workflow("wf", {"x": 3})
    task_id = dev_server.tasks()[0]["taskId"]
    reply = api.get(f"/api/tasks/{task_id}")
    assert reply.status == 200 and reply.json()["inputData"] == {"x": 3}
    missing = api.get("/api/tasks/nope")
    assert missing.status == 404 and missing.json()["message"] == "Task not found for taskId: nope"


def test_queue_sizes(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    one_task_workflow(dev_server, "wf2", "other")
    for _ in range(3):
        dev_server.start_workflow("wf")
    dev_server.start_workflow("wf", task_to_domain={"echo": "d1"})
    dev_server.start_workflow("wf2")
    size = api.get("/api/tasks/queue/size?taskType=echo")
    assert (size.status, size.body) == (200, b"3")
    assert api.get("/api/tasks/queue/size?taskType=echo&domain=d1").json() == 1
    assert api.get("/api/tasks/queue/size").status == 400
    sizes = api.get("/api/tasks/queue/sizes?taskType=echo&taskType=other&taskType=none").json()
    assert sizes == {"echo": 3, "other": 1, "none": 0}
    assert api.get("/api/tasks/queue/all").json() == {"echo": 3, "d1:echo": 1, "other": 1}
    api.poll("echo", count=2)
    assert api.get("/api/tasks/queue/size?taskType=echo").json() == 1
    assert dev_server.queue_size("echo") == 1


def test_helpers_list_tasks_with_filters(dev_server: DevServer, api: Api) -> None:
    one_task_workflow(dev_server)
    one_task_workflow(dev_server, "wf2", "other")
    dev_server.start_workflow("wf")
    dev_server.start_workflow("wf2")
    api.poll_one("echo")
    assert [t["taskType"] for t in dev_server.tasks()] == ["echo", "other"]
    assert [t["taskType"] for t in dev_server.tasks(status="IN_PROGRESS")] == ["echo"]
    assert [t["status"] for t in dev_server.tasks(task_type="other")] == ["SCHEDULED"]
    # The helpers hand out copies: changing them changes nothing on the server.
    dev_server.tasks()[0]["status"] = "COMPLETED"
    assert dev_server.tasks(task_type="echo")[0]["status"] == "IN_PROGRESS"
