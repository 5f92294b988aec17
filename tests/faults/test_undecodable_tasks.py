"""One task that cannot be decoded never strands the others (both flavours, real worker processes).

A small proxy on loopback stands between the worker tree and the dev server. It passes every
exchange through, but re-encodes the tasks whose input ``n`` the test marked as broken, in the
answer of a batch poll or of update-v2: nested 10,000 deep, invalid UTF-8, an integer of 5,000
digits, or invalid UTF-8 in the task id itself (so its ids cannot be read). The other tasks of the
same answer must run normally; each broken task whose ids can be read must be failed on the server
with FAILED_WITH_TERMINAL_ERROR and a reason naming what was wrong; the one whose ids cannot be read
is logged at ERROR with what could be read. No slot is lost: the worker polls for all its slots
again afterwards.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from _support.fault_apps.compute import COMPUTE_TASK, compute_worker, expected_output
from _support.fault_apps.harness import WAIT, compute_workflow, journal_entries, wait_until

from conductor_actors import Configuration

JSON = "application/json"
#: Input ``n`` of each broken task -> how it is broken.
BROKEN = {100: "deep", 101: "invalid_utf8", 102: "huge_integer", 103: "unreadable_ids"}
#: Text in the input of the tasks broken with invalid UTF-8 (it must never be logged).
INPUT_MARKER = b"input-text-e1f7"
#: The reason each broken task that can be failed must carry on the server.
REASONS = {
    "deep": "the task could not be decoded: JSON nested 10002 levels deep",
    "invalid_utf8": "the task could not be decoded: invalid UTF-8 at byte",
    "huge_integer": "the task could not be decoded: an integer with 5001 digits, more than the 4300",
}


def broken_task(task: dict[str, Any], kind: str) -> bytes:
    """``task`` as JSON that ``json.loads`` refuses in the way ``kind`` names (its ids intact,
    except for ``unreadable_ids``)."""
    n = task["inputData"]["n"]
    head = json.dumps({key: value for key, value in task.items() if key != "inputData"}).encode()
    if kind == "deep":
        broken_input = b'{"n": %d, "x": ' % n + b"[" * 10_000 + b"]" * 10_000 + b"}"
    elif kind == "huge_integer":
        broken_input = b'{"n": %d, "big": 1' % n + b"0" * 5000 + b"}"
    else:
        broken_input = b'{"n": %d, "text": "%s \xe9"}' % (n, INPUT_MARKER)
    if kind == "unreadable_ids":
        quoted = json.dumps(task["taskId"]).encode()
        head = head.replace(quoted, quoted[:-1] + b'\xff"', 1)
    return head[:-1] + b', "inputData": ' + broken_input + b"}"


class BreakingProxy:
    """Loopback HTTP proxy in front of the dev server that breaks the marked tasks of poll and
    update-v2 answers (see the module doc) and records what passed through. Its handler threads
    write the records; the test reads them."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.lock = threading.Lock()
        self.broken: dict[str, tuple[str, str, str]] = {}  # taskId -> (kind, endpoint, workflowId)
        self.poll_counts: list[int] = []  # the count of every batch poll, in order
        self.updates: list[dict[str, Any]] = []  # every TaskResult sent, in order
        self.refusals: dict[str, int] = {}  # taskId -> FAILED_WITH_TERMINAL_ERROR updates still to refuse
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy.forward(self)

            do_POST = do_PUT = do_DELETE = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        """On a handler thread: pass one exchange through, breaking or refusing as configured."""
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        path = urlsplit(handler.path).path
        if path in ("/api/tasks", "/api/tasks/update-v2") and handler.command == "POST":
            result = json.loads(body)
            with self.lock:
                self.updates.append(result)
                refuse = result.get("status") == "FAILED_WITH_TERMINAL_ERROR" and self.refusals.get(
                    result["taskId"], 0) > 0
                if refuse:
                    self.refusals[result["taskId"]] -= 1
            if refuse:
                self.answer(handler, 503, b'{"status": 503, "message": "refused by the test proxy"}', JSON)
                return
        if path.startswith("/api/tasks/poll/batch/"):
            with self.lock:
                self.poll_counts.append(int(parse_qs(urlsplit(handler.path).query)["count"][0]))
        headers = {key: value for key, value in handler.headers.items()
                   if key.lower() in ("content-type", "accept", "x-authorization")}
        upstream = http.client.HTTPConnection(*self.upstream, timeout=WAIT)
        try:
            upstream.request(handler.command, handler.path, body=body or None, headers=headers)
            answer = upstream.getresponse()
            status, content_type, payload = answer.status, answer.getheader("Content-Type", ""), answer.read()
        finally:
            upstream.close()
        if status == 200 and path.startswith("/api/tasks/poll/batch/"):
            payload = b"[" + b",".join(self.encode(task, "poll") for task in json.loads(payload)) + b"]"
        elif status == 200 and path == "/api/tasks/update-v2" and payload.strip():
            payload = self.encode(json.loads(payload), "update-v2")
        self.answer(handler, status, payload, content_type)

    def encode(self, task: dict[str, Any], endpoint: str) -> bytes:
        """``task`` as JSON, broken when its input ``n`` is marked (recorded with ``endpoint``)."""
        kind = BROKEN.get(task.get("inputData", {}).get("n"))
        if kind is None:
            return json.dumps(task).encode()
        with self.lock:
            self.broken[task["taskId"]] = (kind, endpoint, task["workflowInstanceId"])
        return broken_task(task, kind)

    @staticmethod
    def answer(handler: BaseHTTPRequestHandler, status: int, payload: bytes, content_type: str) -> None:
        handler.send_response(status)
        if status != 204:
            handler.send_header("Content-Type", content_type or JSON)
            handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if status != 204:
            handler.wfile.write(payload)


@pytest.fixture
def proxy(dev_server: Any) -> Iterator[BreakingProxy]:
    breaking = BreakingProxy(dev_server.url)
    yield breaking
    breaking.close()


def start(dev_server: Any, workflow: str, numbers: list[int]) -> dict[int, str]:
    """Start one workflow per number, in this order (the server's queue is FIFO); n -> workflow id."""
    return {n: dev_server.start_workflow(workflow, {"n": n, "pause": 0}) for n in numbers}


def only_task(dev_server: Any, workflow_id: str) -> dict[str, Any]:
    [task] = dev_server.get_workflow(workflow_id)["tasks"]
    return task


def check_outcome(dev_server: Any, started: dict[int, str], capfd: pytest.CaptureFixture[str]) -> None:
    """Valid tasks COMPLETED with their output; each broken task with readable ids failed with
    FAILED_WITH_TERMINAL_ERROR naming the problem; the one without readable ids logged at ERROR.
    (The worker logs each line before it sends anything about that task, so once the server shows
    the outcome, the line is in the captured output.)"""
    valid = {n: wf for n, wf in started.items() if n not in BROKEN}
    failable = {n: wf for n, wf in started.items() if n in BROKEN and BROKEN[n] != "unreadable_ids"}
    assert dev_server.wait_for_workflows(list(valid.values()), WAIT) == dict.fromkeys(valid.values(), "COMPLETED")
    for n, workflow_id in valid.items():
        task = only_task(dev_server, workflow_id)
        assert task["outputData"] == expected_output(n, task["taskId"])
    statuses = dev_server.wait_for_workflows(list(failable.values()), WAIT)
    assert statuses == dict.fromkeys(failable.values(), "FAILED"), statuses
    for n, workflow_id in failable.items():
        task = only_task(dev_server, workflow_id)
        assert task["status"] == "FAILED_WITH_TERMINAL_ERROR", task
        assert task["reasonForIncompletion"].startswith(REASONS[BROKEN[n]]), task["reasonForIncompletion"]
    log = capfd.readouterr().err
    for workflow_id in failable.values():
        task_id = only_task(dev_server, workflow_id)["taskId"]
        assert f"task {task_id} (workflow {workflow_id}) could not be decoded" in log, log[-3000:]
    # The task whose id cannot be read: ERROR from the worker process with what could be read.
    unreadable = started[103]
    assert only_task(dev_server, unreadable)["status"] == "IN_PROGRESS"
    errors = [line for line in log.splitlines() if " ERROR " in line and "its ids cannot be read" in line]
    assert errors, log[-3000:]
    assert f"[{COMPUTE_TASK} " in errors[0] and "taskId unreadable" in errors[0]
    assert f"workflowInstanceId '{unreadable}'" in errors[0] and "invalid UTF-8 at byte" in errors[0]
    assert INPUT_MARKER.decode() not in log  # the input never reaches the log


def test_broken_tasks_of_a_batch_poll_are_failed_and_the_others_run(
    start_tree, dev_server, proxy, capfd, flavour, state_dir: Path
):
    """All tasks arrive in one batch-poll answer (8 slots, 8 queued tasks); the failure of one
    broken task is refused by the server for every attempt the worker makes, so it goes through
    the outbox like any result."""
    workflow = compute_workflow(dev_server, COMPUTE_TASK)
    started = start(dev_server, workflow, [0, 100, 1, 101, 2, 102, 3, 103])
    deep_task_id = only_task(dev_server, started[100])["taskId"]
    proxy.refusals[deep_task_id] = 3  # the worker's three attempts (FAULT_ENV): then the outbox
    tree = start_tree(
        [compute_worker(flavour, thread_count=8)], log_level="INFO",
        configuration=Configuration(server_api_url=proxy.url),
    )
    check_outcome(dev_server, started, capfd)
    assert {kind for kind, endpoint, _ in proxy.broken.values() if endpoint == "poll"} == set(BROKEN.values())
    assert proxy.poll_counts[0] == 8
    # Every slot came back: the worker asks for all 8 again (a lost slot would cap it at 7).
    settled = len(proxy.poll_counts)
    wait_until(lambda: 8 in proxy.poll_counts[settled:], "a poll for all 8 slots")
    # The refused failure was kept in the outbox and delivered from there.
    def closed() -> list[Any]:
        return [entry for entry in journal_entries(state_dir, "closed") if entry.task_id == deep_task_id]

    assert [entry.reason for entry in wait_until(closed, "the outbox to close its entry")] == ["delivered"]
    assert [(tree_status.state, tree_status.restarts) for tree_status in tree.status()] == [("up", 0)]


def test_a_broken_task_chained_by_update_v2_is_failed_and_the_worker_goes_on(
    start_tree, dev_server, proxy, capfd, flavour
):
    """One slot: the first task comes from a poll, every later one is chained by update-v2 (the
    queue never runs dry), broken ones included; the failure of a broken task chains the next."""
    workflow = compute_workflow(dev_server, COMPUTE_TASK)
    started = start(dev_server, workflow, [0, 100, 1, 101, 2, 102, 3, 103, 4])
    tree = start_tree(
        [compute_worker(flavour, thread_count=1)], log_level="INFO",
        configuration=Configuration(server_api_url=proxy.url),
    )
    check_outcome(dev_server, started, capfd)
    assert {kind for kind, endpoint, _ in proxy.broken.values() if endpoint == "update-v2"} == set(BROKEN.values())
    # After the task without readable ids the slot is free again: the worker polls (and got n=4).
    settled = len(proxy.poll_counts)
    wait_until(lambda: len(proxy.poll_counts) > settled, "polling to go on")
    failures = [update for update in proxy.updates if update["status"] == "FAILED_WITH_TERMINAL_ERROR"]
    assert len(failures) == 3 and all(re.match(r"the task could not be decoded: ", update["reasonForIncompletion"])
                                      for update in failures)
    assert [(tree_status.state, tree_status.restarts) for tree_status in tree.status()] == [("up", 0)]
