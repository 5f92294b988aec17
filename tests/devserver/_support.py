"""Helpers of the dev-server suite: a raw HTTP client on ``http.client`` and workflow shortcuts.

``Api`` keeps one keep-alive connection (so a test can also check connection behaviour) and
returns ``Reply`` objects with the status, headers and body exactly as the server sent them.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import quote

from _support.waiting import wait_until

from conductor_actors.devserver import DevServer

__all__ = ["WAIT", "Api", "RawConnection", "Reply", "one_task_workflow", "wait_until"]

#: Upper bound for a blocking call in this suite (``wait_until`` has its own); never reached when tests pass.
WAIT = 10.0


class Reply:
    """One HTTP answer."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.body[:300]!r})"


class Api:
    """Raw HTTP/1.1 calls to a dev server over one keep-alive ``http.client`` connection."""

    def __init__(self, server: DevServer, token: str | None = None) -> None:
        self.server = server
        self.token = token
        self.conn = http.client.HTTPConnection(server.host, server.port, timeout=WAIT)

    def close(self) -> None:
        self.conn.close()

    def call(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
             headers: dict[str, str] | None = None) -> Reply:
        """``path`` is below the server root (e.g. ``/api/tasks``); ``body`` is sent as JSON."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        sent = {"Content-Type": "application/json"}
        if self.token is not None:
            sent["X-Authorization"] = self.token
        sent.update(headers or {})
        self.conn.request(method, path, body=data, headers=sent)
        response = self.conn.getresponse()
        payload = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, payload)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.call("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.call("PUT", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Reply:
        return self.call("DELETE", path, **kwargs)

    # -- shortcuts -------------------------------------------------------------------------
    def poll(self, task_type: str, *, count: int = 1, timeout: int = 0, worker: str = "w1",
             domain: str | None = None) -> list[dict[str, Any]]:
        """Batch poll; asserts 200 and returns the list."""
        path = f"/api/tasks/poll/batch/{quote(task_type, safe='')}?workerid={worker}&count={count}&timeout={timeout}"
        if domain is not None:
            path += f"&domain={domain}"
        reply = self.get(path)
        assert reply.status == 200, reply
        tasks = reply.json()
        assert isinstance(tasks, list)
        return tasks

    def poll_one(self, task_type: str, **kwargs: Any) -> dict[str, Any]:
        """Batch poll that must return exactly one task."""
        tasks = self.poll(task_type, **kwargs)
        assert len(tasks) == 1, tasks
        return tasks[0]

    def update(self, task: dict[str, Any], status: str = "COMPLETED", *, v2: bool = False,
               **fields: Any) -> Reply:
        """Send a TaskResult for ``task`` (v1 or v2)."""
        result = {"taskId": task["taskId"], "workflowInstanceId": task["workflowInstanceId"],
                  "status": status, "workerId": "w1", **fields}
        return self.post("/api/tasks/update-v2" if v2 else "/api/tasks", result)


def one_task_workflow(server: DevServer, name: str = "wf", task: str = "echo", **task_fields: Any) -> None:
    """Register ``name``: one SIMPLE task ``task`` (ref ``<task>_ref``) with input ``x`` from the workflow."""
    server.register_workflow({
        "name": name, "version": 1, "schemaVersion": 2,
        "tasks": [{"name": task, "taskReferenceName": f"{task}_ref", "type": "SIMPLE",
                   "inputParameters": {"x": "${workflow.input.x}"}, **task_fields}],
    })


class RawConnection:
    """A plain socket for byte-level tests: send anything, read answers one by one."""

    def __init__(self, server: DevServer) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=WAIT)
        self.reader = self.sock.makefile("rb")

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_reply(self) -> Reply:
        """Read one answer (status line, headers, Content-Length body)."""
        status_line = self.reader.readline()
        if not status_line:
            raise ConnectionError("connection closed before an answer")
        parts = status_line.decode("latin-1").split(" ", 2)
        assert parts[0] == "HTTP/1.1", status_line
        headers: dict[str, str] = {}
        while True:
            line = self.reader.readline().decode("latin-1")
            if line in ("\r\n", ""):
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        return Reply(int(parts[1]), headers, self.reader.read(length) if length else b"")

    def at_eof(self) -> bool:
        """True when the server closed the connection (EOF or reset) and sent nothing more."""
        try:
            return self.reader.read(1) == b""
        except ConnectionResetError:
            return True
