"""Benchmark harness: the dev server in its own process, the process-tree monitor, one measured run.

Linux only (the monitor reads /proc). Everything the runtimes under test do goes over HTTP (on
loopback, or over a bridge for ``scale_out.py``) to one ``python -m conductor_actors.devserver``
process; figures come from that server (task timestamps, request counters) and from /proc (CPU and
memory of the runtime's whole process tree).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workloads import Workload

__all__ = ["DevServerProcess", "Run", "TreeMonitor", "launch", "percentile", "run_once"]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
#: A run in which no workflow completes for this long is ended and reported as stalled.
STALL_SECONDS = 60.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class Scraper:
    """Scrapes ``/metrics`` every ``interval`` seconds, as a Prometheus server would (more often, in
    fact: the usual interval is 15 s), so that rendering the registry counts in the run's cost."""

    def __init__(self, port: int, interval: float = 1.0) -> None:
        self.port = port
        self.interval = interval
        self.scrapes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/metrics")
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status == 200:
                    self.scrapes += 1
            except (OSError, http.client.HTTPException):
                continue  # not serving yet, or already stopping

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _server_env() -> dict[str, str]:
    """The environment for the server process; makes a source checkout importable."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.isdir(os.path.join(root, "conductor_actors")):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


class DevServerProcess:
    """``python -m conductor_actors.devserver`` on a free port of ``host`` (loopback unless told;
    ``options``: more of its command-line options), with a keep-alive HTTP helper."""

    def __init__(self, *options: str, python: str = sys.executable, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self.url = f"http://{host}:{self.port}/api"
        self.process = subprocess.Popen(
            [python, "-m", "conductor_actors.devserver", "--host", host, "--port", str(self.port),
             "--log-level", "WARNING", *options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_server_env(),
        )
        self._conn: http.client.HTTPConnection | None = None
        deadline = time.monotonic() + 30
        while True:
            try:
                self.call("GET", "/__devserver__/stats")
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the dev server did not start") from None
                time.sleep(0.05)  # a polling probe, not a wait for a known event

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One request on the kept-alive connection; the JSON (or text) answer."""
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                data = None if body is None else json.dumps(body).encode()
                self._conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
                response = self._conn.getresponse()
                payload = response.read()
                break
            except (OSError, http.client.HTTPException):
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        if response.status >= 400:
            raise RuntimeError(f"{method} {path} -> {response.status}: {payload[:200]!r}")
        text = payload.decode()
        try:
            return json.loads(text) if text else None
        except ValueError:
            return text

    def preload(self, workflow: str, task_type: str, count: int) -> None:
        """Register ``workflow``, one SIMPLE task of ``task_type``, and start ``count`` of it."""
        self.call("POST", "/api/metadata/workflow", {
            "name": workflow, "version": 1, "schemaVersion": 2,
            "tasks": [{"name": task_type, "taskReferenceName": "t", "type": "SIMPLE"}],
        })
        for _ in range(count):
            self.call("POST", f"/api/workflow/{workflow}", {})

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (through /proc/<pid>/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
        except OSError:
            continue
    return found


def _cpu_and_rss(pid: int) -> tuple[float, int]:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/statm") as statm:
            resident = int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0.0, 0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS, resident


class TreeMonitor:
    """Samples CPU seconds and resident memory of a whole process tree every ``interval`` seconds.

    CPU of processes that exited is kept (their last sample), so restarts and short-lived helpers
    count too. ``peak_rss`` is the largest sum of resident memory seen at one sampling instant.
    """

    def __init__(self, root: int, interval: float = 0.02) -> None:
        self.root = root
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (monotonic time, tree CPU seconds)
        self.peak_rss = 0
        self._last_cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        rss = 0
        for pid in _tree(self.root):
            cpu, resident = _cpu_and_rss(pid)
            if cpu:
                self._last_cpu[pid] = cpu
            rss += resident
        self.peak_rss = max(self.peak_rss, rss)
        self.samples.append((time.monotonic(), sum(self._last_cpu.values())))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def cpu_at(self, moment: float) -> float:
        """Tree CPU seconds at ``moment`` (monotonic), interpolated between samples."""
        before = [s for s in self.samples if s[0] <= moment]
        after = [s for s in self.samples if s[0] >= moment]
        if not before:
            return after[0][1] if after else 0.0
        if not after:
            return before[-1][1]
        (t0, c0), (t1, c1) = before[-1], after[0]
        return c0 if t1 == t0 else c0 + (c1 - c0) * (moment - t0) / (t1 - t0)

    def stop(self) -> None:
        self._sample()
        self._stop.set()
        self._thread.join()


@dataclass
class Run:
    """The figures of one run of one runtime on one workload."""

    runtime: str
    workload: str
    tasks: int
    tasks_per_second: float
    cpu_ms_per_task: float
    peak_rss_mb: float
    requests_per_task: dict[str, float] = field(default_factory=dict)
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    littles_percent: float | None = None
    first_poll_seconds: float = 0.0
    completed: int = 0
    metrics_scrapes: int = 0
    ended_early: str | None = None  # why the run was ended before every task completed


def launch(runtime: str, workload: Workload, server: DevServerProcess, official_python: str | None,
           state_dir: str, metrics_port: int | None, *, prefix: Sequence[str] = (),
           extra_env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``runtime``'s process tree on ``workload`` against ``server``, as users start it, in a
    session of its own (so that ``os.killpg`` reaches the whole tree). ``prefix`` goes before the
    command (e.g. ``ip netns exec NAME``); ``extra_env`` adds environment variables."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, BENCH_WORKLOAD=workload.name, PYTHONPATH=here,
               CONDUCTOR_ACTORS_STATE_DIR=state_dir, CONDUCTOR_SERVER_URL=server.url, **(extra_env or {}))
    if runtime in ("ours", "ours_metrics"):
        metrics = ["--metrics-port", str(metrics_port)] if metrics_port else []
        command = [sys.executable, "-m", "conductor_actors", "--server-url", server.url,
                   "--log-level", "WARNING", *metrics, "apps.ours_app"]
    else:
        if official_python is None:
            raise RuntimeError("the official SDK's interpreter is not set up")
        command = [official_python, os.path.join(here, "apps", "official_app.py"), server.url]
    return subprocess.Popen([*prefix, *command], cwd=here, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def percentile(values: list[float], fraction: float) -> float:
    """The value at ``fraction`` (0..1) of ``values`` in order; 0.0 for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def run_once(runtime: str, workload: Workload, *, scale: float, official_python: str | None,
             timeout: float = 600.0) -> Run:
    """Start a server, preload the tasks, run ``runtime`` as a process tree until every task is done."""
    server = DevServerProcess()
    tasks = max(1, int(workload.tasks * scale))
    try:
        server.preload("bench", workload.task_type, 0 if workload.interval else tasks)
        server.call("POST", "/__devserver__/stats/reset")
        with tempfile.TemporaryDirectory(prefix="bench-state-") as state_dir:
            metrics_port = free_port() if runtime == "ours_metrics" else None
            launched_wall = time.time()
            ended_early: str | None = None
            given_up_wall = launched_wall
            process = launch(runtime, workload, server, official_python, state_dir, metrics_port)
            monitor = TreeMonitor(process.pid)
            scraper = Scraper(metrics_port) if metrics_port else None
            try:
                if workload.interval:
                    _trickle(server, workload, tasks, timeout)
                ended_early = _wait_done(server, tasks, timeout, process)
                given_up_wall = time.time()
            finally:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                monitor.stop()
                if scraper is not None:
                    scraper.stop()
        rows = server.call("GET", f"/__devserver__/tasks?taskType={workload.task_type}")
        stats = server.call("GET", "/__devserver__/stats")
    finally:
        server.stop()
    completed = [row for row in rows if row[0] == "COMPLETED"]
    starts = [row[2] / 1000 for row in completed]
    ends = [row[3] / 1000 for row in completed]
    # A run ended early is measured up to the moment it was given up, not to its last completion.
    span = ((given_up_wall if ended_early else max(ends)) - min(starts)) if completed else float("nan")
    first_task_wall = min(starts) if starts else launched_wall
    last_task_wall = given_up_wall if ended_early else (max(ends) if ends else first_task_wall)
    # Map the server's wall-clock times onto the monitor's clock: CPU is read from the first task's
    # start to the last task's end.
    wall_to_mono = time.monotonic() - time.time()
    cpu = monitor.cpu_at(last_task_wall + wall_to_mono) - monitor.cpu_at(first_task_wall + wall_to_mono)
    rate = len(completed) / span if span and span > 0 else 0.0
    latencies = [(row[3] - row[1]) for row in completed]
    requests = {name: count / max(1, len(completed)) for name, count in stats.items() if count and name != "total"}
    requests["total"] = stats.get("total", 0) / max(1, len(completed))
    limit = workload.littles_limit
    return Run(
        runtime=runtime, workload=workload.name, tasks=tasks, completed=len(completed),
        tasks_per_second=rate, cpu_ms_per_task=1000 * cpu / max(1, len(completed)),
        peak_rss_mb=monitor.peak_rss / 2**20, requests_per_task=requests,
        latency_p50_ms=statistics.median(latencies) if latencies else 0.0,
        latency_p99_ms=percentile(latencies, 0.99),
        littles_percent=(100 * rate / limit) if limit else None,
        first_poll_seconds=first_task_wall - launched_wall,
        metrics_scrapes=scraper.scrapes if scraper is not None else 0,
        ended_early=ended_early,
    )


def _trickle(server: DevServerProcess, workload: Workload, tasks: int, timeout: float) -> None:
    """Idle-latency runs: wait for the worker to poll, then enqueue one task every ``interval``."""
    deadline = time.monotonic() + timeout
    while not server.call("GET", f"/api/tasks/queue/polldata?taskType={workload.task_type}"):
        if time.monotonic() > deadline:
            raise RuntimeError("the worker never polled")
        time.sleep(0.05)  # a polling probe of another process's state
    time.sleep(1.0)  # let the worker settle into its idle rhythm before measuring
    next_at = time.monotonic()
    for _ in range(tasks):
        next_at += workload.interval
        server.call("POST", "/api/workflow/bench", {})
        time.sleep(max(0.0, next_at - time.monotonic()))  # the workload's pacing, not a wait


def _wait_done(server: DevServerProcess, tasks: int, timeout: float, process: subprocess.Popen[bytes],
               stall: float = STALL_SECONDS) -> str | None:
    """Wait until every workflow completed; returns None then, or why the run was ended early: the
    runtime exited, no workflow completed for ``stall`` seconds, or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    completed, progressed = -1, time.monotonic()
    while True:
        summary = server.call("GET", "/__devserver__/summary")
        now = time.monotonic()
        done = summary["workflows"].get("COMPLETED", 0)
        if done >= tasks:
            return None
        if done != completed:
            completed, progressed = done, now
        if process.poll() is not None:
            return f"the runtime exited early with code {process.returncode}"
        if now - progressed > stall:
            return f"stalled: no task completed for {stall:g} s ({summary['tasks']})"
        if now > deadline:
            return f"timed out after {timeout:g} s ({summary['tasks']})"
        # A polling probe of another process's state. The summary walks every workflow on the server's
        # loop, so asking often would slow the server down for the runtime under test.
        time.sleep(0.25)
