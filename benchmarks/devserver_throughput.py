"""Throughput of the embedded dev server: poll + update-v2 with keep-alive clients.

Starts ``python -m conductor_actors.devserver`` in its own process, loads a backlog of one-task
workflows, then drives it from ``--clients`` processes that behave like the official SDK's runner
with a backlog: batch poll, then ``POST /api/tasks/update-v2`` per task, executing the next task
that update returns at once, and polling again only on 204. Prints requests/s and tasks/s.

    python benchmarks/devserver_throughput.py --tasks 5000 --clients 4

This is a measurement, not a test: it exits 1 only if a request failed or a task was lost.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import DevServerProcess

WORKFLOW = "bench_wf"
TASK_TYPE = "bench_task"


class Client:
    """One keep-alive HTTP/1.1 connection speaking JSON.

    Deliberately minimal (a raw socket, one ``sendall`` per request, Content-Length framing), so
    that on a small machine the numbers measure the server rather than the client library.
    """

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.host = f"Host: {host}:{port}\r\n"
        self.buffer = b""
        self.requests = 0
        self.errors = 0

    def _fill(self) -> None:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("the dev server closed the connection")
        self.buffer += chunk

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = b"" if body is None else json.dumps(body).encode()
        head = (f"{method} {path} HTTP/1.1\r\n{self.host}Content-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n")
        self.sock.sendall(head.encode() + data)
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head_end = self.buffer.index(b"\r\n\r\n")
        lines = self.buffer[:head_end].split(b"\r\n")
        status = int(lines[0][9:12])
        length = 0
        for line in lines[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        end = head_end + 4 + length
        while len(self.buffer) < end:
            self._fill()
        payload, self.buffer = self.buffer[head_end + 4:end], self.buffer[end:]
        self.requests += 1
        if status >= 300:
            self.errors += 1
            print(f"error: {method} {path} -> {status} {payload[:200]!r}", file=sys.stderr)
        return status, payload


def load_backlog(host: str, port: int, tasks: int, threads: int) -> float:
    """Register the workflow and start ``tasks`` workflows; returns the seconds it took."""
    setup = Client(host, port)
    definition = {"name": WORKFLOW, "version": 1, "schemaVersion": 2, "ownerEmail": "bench@example.com",
                  "tasks": [{"name": TASK_TYPE, "taskReferenceName": "t1", "type": "SIMPLE",
                             "inputParameters": {"i": "${workflow.input.i}"}}]}
    setup.call("PUT", "/api/metadata/workflow", [definition])
    started = time.perf_counter()
    errors = setup.errors
    errors_lock = threading.Lock()  # the starter threads add their counts here

    def starter(first: int) -> None:
        nonlocal errors
        client = Client(host, port)
        for index in range(first, tasks, threads):
            client.call("POST", f"/api/workflow/{WORKFLOW}", {"i": index})
        with errors_lock:
            errors += client.errors

    pool = [threading.Thread(target=starter, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise RuntimeError(f"{errors} requests failed while loading the backlog")
    return time.perf_counter() - started


def drive(host: str, port: int, worker: int, batch: int, go: Any, results: Any) -> None:
    """A client process: poll, then update-v2 chains, until the queue is empty."""
    client = Client(host, port)
    worker_id = f"bench-{worker}"
    poll_path = f"/api/tasks/poll/batch/{TASK_TYPE}?workerid={worker_id}&count={batch}&timeout=100"
    done = 0
    go.wait()
    started = time.perf_counter()
    last = started
    while True:
        status, body = client.call("GET", poll_path)
        tasks = json.loads(body) if status == 200 else []
        if not tasks:
            break
        for task in tasks:
            while task is not None:
                result = {"taskId": task["taskId"], "workflowInstanceId": task["workflowInstanceId"],
                          "workerId": worker_id, "status": "COMPLETED",
                          "outputData": {"i": task["inputData"].get("i")}}
                status, body = client.call("POST", "/api/tasks/update-v2", result)
                if status >= 300:
                    break
                done += 1
                last = time.perf_counter()
                task = json.loads(body) if status == 200 else None
    results.put((worker, client.requests, done, client.errors, started, last))


def per_second(count: int, seconds: float) -> str:
    """``count / seconds`` for printing; "n/a" when no time was measured (nothing was done, or too
    fast for the clock), rather than a division by zero."""
    return f"{count / seconds:,.0f}" if seconds > 0 else "n/a"


@dataclass(frozen=True)
class Throughput:
    """One measurement: ``done`` of ``tasks`` completed by ``clients`` processes in ``elapsed`` s."""

    tasks: int
    clients: int
    batch: int
    v2_wait_ms: int
    load_seconds: float
    requests: int
    done: int
    errors: int
    elapsed: float
    left: int  # tasks still in the queue afterwards
    polls: int
    updates: int

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def complete(self) -> bool:
        return self.errors == 0 and self.done == self.tasks and self.left == 0


def measure(tasks: int, clients: int = 4, batch: int = 10, v2_wait_ms: int = 0) -> Throughput:
    """Start a dev server, load ``tasks`` workflows and drive them with ``clients`` processes."""
    server = DevServerProcess("--update-v2-poll-timeout-ms", str(v2_wait_ms))
    host, port = "127.0.0.1", server.port
    try:
        load_seconds = load_backlog(host, port, tasks, threads=min(4, clients))
        server.call("POST", "/__devserver__/stats/reset")
        context = multiprocessing.get_context("spawn")
        go = context.Event()
        results = context.Queue()
        workers = [context.Process(target=drive, args=(host, port, n, batch, go, results)) for n in range(clients)]
        for worker in workers:
            worker.start()
        go.set()
        outcomes = [results.get(timeout=600) for _ in workers]
        for worker in workers:
            worker.join()
        size = server.call("GET", f"/api/tasks/queue/size?taskType={TASK_TYPE}")
        stats = server.call("GET", "/__devserver__/stats")
    finally:
        server.stop()
    return Throughput(
        tasks=tasks, clients=clients, batch=batch, v2_wait_ms=v2_wait_ms, load_seconds=load_seconds,
        requests=sum(o[1] for o in outcomes), done=sum(o[2] for o in outcomes), errors=sum(o[3] for o in outcomes),
        elapsed=max(o[5] for o in outcomes) - min(o[4] for o in outcomes), left=int(size),
        polls=stats["poll_batch"], updates=stats["update_v2"],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=5000, help="backlog size (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=4, help="client processes (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=10, help="poll count per batch poll (default: %(default)s)")
    parser.add_argument("--v2-wait-ms", type=int, default=0,
                        help="the server's update-v2 next-task wait (default: %(default)s). With a backlog the "
                             "queue only runs dry at the very end, where every task a client still holds would "
                             "wait this long for nothing: idle time, not throughput")
    args = parser.parse_args(argv)
    if args.tasks < 1 or args.clients < 1 or args.batch < 1:
        parser.error("--tasks, --clients and --batch must be at least 1")
    got = measure(args.tasks, args.clients, args.batch, args.v2_wait_ms)
    print(f"backlog: {got.tasks} workflows started in {got.load_seconds:.2f} s "
          f"({per_second(got.tasks, got.load_seconds)} starts/s)")
    print(f"clients: {got.clients} processes, batch poll count {got.batch}, update-v2 wait {got.v2_wait_ms} ms")
    print(f"tasks completed: {got.done} in {got.elapsed:.2f} s -> {per_second(got.done, got.elapsed)} tasks/s")
    print(f"requests: {got.requests} ({got.polls} polls, {got.updates} update-v2) "
          f"-> {per_second(got.requests, got.elapsed)} requests/s")
    print(f"errors: {got.errors}; tasks left in queue: {got.left}")
    return 0 if got.complete else 1


if __name__ == "__main__":
    sys.exit(main())
