"""Scale-out: 1, 2 and 4 worker trees ("hosts") on one dev server, every task completed exactly once.

Each tree is started the way users start one (``python -m conductor_actors apps.ours_app``, the
benchmark app on the 50 ms sleep workload, ``--concurrency`` coroutines per tree) in a network
namespace of its own: a "host" with its own address on a private /24, joined by a veth pair to a
bridge that carries the server's address. The benchmark makes the namespaces and removes them
afterwards, also when a run fails or is interrupted (Ctrl-C, SIGTERM). Where it cannot make them
(not root, no ``ip`` command, the kernel refuses) it says so in one line and runs the trees on
loopback.

For each number of trees a fresh dev server (one process) gets ``--tasks`` one-task workflows per
tree; the trees run until every workflow completed. Then the same with ``--sigterm`` trees, one of
which gets SIGTERM mid-run. After each run the server is asked what happened to every task (see
``_check``): all completed, none twice, none lost. Printed per run: tasks/s, the scaling against one
tree, and the CPU of the server process and of the trees, so that a reader sees whether the server
(or the machine) was the bottleneck. Exits 1 when a check fails; a speed is never a failure.

    python benchmarks/scale_out.py                                  # 1, 2 and 4 trees, SIGTERM at 4
    python benchmarks/scale_out.py --trees 2 --tasks 40 --concurrency 2 --sigterm 2

Linux only. Runs on the main thread; the CPU monitors sample /proc on threads of their own.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import DevServerProcess, TreeMonitor, launch
from workloads import WORKLOADS

#: 50 ms sleeps on one event loop; the concurrency comes from the command line (via the environment).
WORKLOAD = WORKLOADS["sleep_async_100"]
NETNS_PREFIX = "scaleout-"
LINK_PREFIX = "sco"
#: How often the run's progress is read. The summary walks every workflow on the server's loop, so
#: asking much more often would slow the server down for the trees under test.
PROGRESS_INTERVAL = 0.2
#: A run in which no workflow completes for this long is ended and reported as a failure.
STALL_SECONDS = 60.0
#: The defaults of the command line (and of ``run.py --scale-out``). 25 coroutines per tree: at 4
#: trees that is at most 4 x 25 / 50 ms = 2,000 tasks/s, a sixth of what the dev server completes
#: for raw clients here (``devserver_throughput.py``, about 12,000 tasks/s), so that the server is
#: not what limits the scaling; its CPU share, printed per run, shows how far it is from one core.
DEFAULT_TREES = (1, 2, 4)
DEFAULT_TASKS = 3000
DEFAULT_CONCURRENCY = 25
DEFAULT_SIGTERM = 4


class NoNamespaces(Exception):
    """Network namespaces cannot be made here; the message says why."""


def _ip(*args: str) -> str:
    """Run ``ip`` with ``args``; its output. Raises ``NoNamespaces`` when it is missing or fails."""
    try:
        done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise NoNamespaces("no `ip` command") from None
    if done.returncode != 0:
        raise NoNamespaces(f"`ip {' '.join(args)}` failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ours(name: str, pattern: str) -> int | None:
    """The pid in ``name`` when it is one of this benchmark's names, else None."""
    match = re.fullmatch(pattern, name)
    return int(match.group(1)) if match else None


def sweep_stale() -> None:
    """Remove the namespaces and links of earlier runs whose process is gone (killed outright:
    SIGKILL leaves no chance to clean up). Those of runs still going are left alone."""
    for line in _ip("netns", "list").splitlines():
        name = line.split()[0] if line.split() else ""
        pid = _ours(name, rf"{NETNS_PREFIX}(\d+)-\d+")
        if pid is not None and not _alive(pid):
            _ip("netns", "del", name)
    for line in _ip("-o", "link", "show").splitlines():
        name = line.split(":")[1].strip().split("@")[0] if line.count(":") >= 2 else ""
        pid = _ours(name, rf"{LINK_PREFIX}(\d+)(?:br|v\d+)")
        if pid is not None and not _alive(pid):
            _ip("link", "del", name)


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.200.0.0-10.249.255.0 that no address or route of this machine overlaps, the
    first try picked by pid so that two runs at once look in different places."""
    seen = _ip("-4", "-o", "addr", "show") + _ip("-4", "route", "show", "table", "all")
    taken = [ipaddress.ip_network(text, strict=False) for text in re.findall(r"\d+\.\d+\.\d+\.\d+(?:/\d+)?", seen)]
    choices = 50 * 256
    for step in range(choices):
        number = (os.getpid() + step) % choices
        subnet = ipaddress.IPv4Network(f"10.{200 + number // 256}.{number % 256}.0/24")
        if not any(subnet.overlaps(other) for other in taken):
            return subnet
    raise NoNamespaces("no free /24 in 10.200.0.0/16-10.249.255.0/24")


class Hosts:
    """Where the trees run: ``count`` network namespaces on one bridge, or loopback.

    ``server_address`` is where the dev server listens (the bridge's address, or 127.0.0.1);
    ``prefix(i)`` runs a command on host ``i``. Leaving the ``with`` block removes every namespace
    and link made (also after an exception, Ctrl-C included); what could not be removed is printed.
    """

    def __init__(self, count: int, loopback: bool) -> None:
        self.namespaces: list[str] = []
        self.links: list[str] = []
        self.server_address = "127.0.0.1"
        self.addresses = ["127.0.0.1"] * count
        if loopback:
            self.description = "loopback (asked for with --loopback)"
            return
        try:
            self._make(count)
        except NoNamespaces as reason:
            self.remove()
            self.server_address, self.addresses = "127.0.0.1", ["127.0.0.1"] * count
            self.description = f"loopback: network namespaces cannot be made here ({reason})"
            return
        except BaseException:  # Ctrl-C during the set-up, say: remove what was made so far
            self.remove()
            raise
        self.description = (f"network namespaces {self.namespaces[0]} .. {self.namespaces[-1]}, addresses "
                            f"{self.addresses[0]} .. {self.addresses[-1]}, server on {self.server_address} "
                            f"(bridge {self.links[0]})")

    def _make(self, count: int) -> None:
        if os.geteuid() != 0:
            raise NoNamespaces("not root")
        if shutil.which("ip") is None:
            raise NoNamespaces("no `ip` command")
        sweep_stale()
        subnet = _free_subnet()
        addresses = [str(address) for address in subnet.hosts()]
        tag = f"{LINK_PREFIX}{os.getpid()}"
        bridge = f"{tag}br"
        _ip("link", "add", bridge, "type", "bridge")
        self.links.append(bridge)
        _ip("addr", "add", f"{addresses[0]}/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        self.server_address = addresses[0]
        for index in range(count):
            namespace, outside = f"{NETNS_PREFIX}{os.getpid()}-{index + 1}", f"{tag}v{index + 1}"
            _ip("netns", "add", namespace)
            self.namespaces.append(namespace)
            _ip("link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", namespace)
            self.links.append(outside)
            _ip("link", "set", outside, "master", bridge, "up")
            _ip("-n", namespace, "addr", "add", f"{addresses[index + 1]}/24", "dev", "eth0")
            _ip("-n", namespace, "link", "set", "eth0", "up")
            _ip("-n", namespace, "link", "set", "lo", "up")
            self.addresses[index] = addresses[index + 1]
        # `ip netns exec` also needs a mount namespace of its own for /sys: a container may allow
        # making namespaces but not that, so try it here, where loopback is still the way out.
        _ip("netns", "exec", self.namespaces[0], "true")

    def prefix(self, index: int) -> list[str]:
        return ["ip", "netns", "exec", self.namespaces[index]] if self.namespaces else []

    def remove(self) -> None:
        """Delete the links (veth ends, then the bridge) and the namespaces; never raises. Ctrl-C
        and SIGTERM wait until it is done (a second Ctrl-C would otherwise leave half of it)."""
        stops = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stops)
        try:
            for kind, names in (("link", list(reversed(self.links))), ("netns", self.namespaces)):
                for name in names:
                    try:
                        _ip(kind, "del", name)
                    except NoNamespaces as problem:
                        print(f"warning: could not remove {kind} {name}: {problem}", file=sys.stderr, flush=True)
            self.links, self.namespaces = [], []
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)

    def __enter__(self) -> Hosts:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.remove()


@dataclass
class Phase:
    """One run: ``trees`` trees on ``tasks`` tasks in all; with ``sigterm``, one tree is stopped."""

    trees: int
    tasks: int
    concurrency: int
    sigterm: bool = False
    completed: int = 0
    seconds: float = 0.0  # the measured window: from when every tree had started a task to the last end
    rate: float = 0.0  # tasks ended in that window per second
    server_cpu_percent: float = 0.0  # of one core, over the window
    trees_cpu_percent: float = 0.0  # of one core, all trees together, over the window
    by_tree: dict[str, int] = field(default_factory=dict)  # completed tasks per tree
    handed_back: int | None = None  # SIGTERM runs: tasks handed out more than once (handed back)
    picked_up: int | None = None  # SIGTERM runs: how many of those another tree than the stopped one completed
    signalled_after: int | None = None  # SIGTERM runs: completed workflows when the signal was sent
    stopped_exit: int | None = None  # SIGTERM runs: the stopped tree's exit code
    failures: list[str] = field(default_factory=list)

    @property
    def littles_limit(self) -> float:
        return self.trees * self.concurrency / WORKLOAD.sleep


@dataclass
class _Tree:
    name: str
    process: subprocess.Popen[bytes]
    monitor: TreeMonitor


def _start(hosts: Hosts, index: int, server: DevServerProcess, concurrency: int, state_dir: str) -> _Tree:
    name = f"host-{index + 1}"
    os.makedirs(os.path.join(state_dir, name))
    # Worker properties from the environment, as users set them per host: the concurrency, and a
    # worker id per host (the namespaces share one host name, real hosts would not).
    env = {"BENCH_HOST": name, "CONDUCTOR_WORKER_ALL_THREAD_COUNT": str(concurrency),
           "CONDUCTOR_WORKER_ALL_WORKER_ID": name}
    process = launch("ours", WORKLOAD, server, None, os.path.join(state_dir, name), None,
                     prefix=hosts.prefix(index), extra_env=env)
    return _Tree(name, process, TreeMonitor(process.pid, interval=0.1))


def _end(tree: _Tree) -> None:
    """SIGTERM to the whole tree (SIGKILL after a minute), then the monitor's last sample."""
    try:
        os.killpg(tree.process.pid, signal.SIGTERM)
        tree.process.wait(60)
    except ProcessLookupError:
        pass  # the tree is gone already
    except subprocess.TimeoutExpired:
        os.killpg(tree.process.pid, signal.SIGKILL)
    tree.process.wait()
    tree.monitor.stop()


def _completed_by(server: DevServerProcess, worker_id: str) -> int:
    query = f"taskType={WORKLOAD.task_type} AND status=COMPLETED AND workerId={worker_id}"
    found = server.call("GET", "/api/tasks/search?size=0&query=" + query.replace(" ", "%20"))
    return int(found["totalHits"])


def _await(server: DevServerProcess, phase: Phase, trees: list[_Tree], timeout: float) -> None:
    """Until every workflow completed. In a SIGTERM run the last tree is signalled once a third of
    the workflows completed and it completed one of them itself (so that its signal handlers are
    surely installed); its exit code is kept. Problems go to ``phase.failures``."""
    victim = trees[-1] if phase.sigterm else None
    deadline = time.monotonic() + timeout
    completed, progressed = -1, time.monotonic()
    while True:
        summary = server.call("GET", "/__devserver__/summary")
        done = summary["workflows"].get("COMPLETED", 0)
        now = time.monotonic()
        if (victim is not None and phase.signalled_after is None and 3 * done >= phase.tasks
                and _completed_by(server, victim.name)):
            victim.process.send_signal(signal.SIGTERM)  # the tree's parent only, as `kill PID` does
            phase.signalled_after = done
        if done >= phase.tasks:
            break
        if done != completed:
            completed, progressed = done, now
        exited = [t for t in trees
                  if t.process.poll() is not None and (t is not victim or phase.signalled_after is None)]
        if exited or now - progressed > STALL_SECONDS or now > deadline:
            why = (f"{exited[0].name} exited early with code {exited[0].process.returncode}" if exited
                   else f"no workflow completed for {STALL_SECONDS:g} s" if now <= deadline
                   else f"timed out after {timeout:g} s")
            phase.failures.append(f"ended early: {why} ({done} of {phase.tasks} workflows completed, "
                                  f"tasks {summary['tasks']})")
            return
        time.sleep(PROGRESS_INTERVAL)  # a polling probe of another process's state
    if victim is not None:
        if phase.signalled_after is None:  # a tiny run may end before the trigger: signal it now
            _await_poll(server, victim, deadline)
            victim.process.send_signal(signal.SIGTERM)
        try:
            phase.stopped_exit = victim.process.wait(60)
        except subprocess.TimeoutExpired:
            phase.failures.append(f"{victim.name} did not exit within 60 s of its SIGTERM")
        else:
            if phase.stopped_exit != 0:
                phase.failures.append(f"{victim.name} exited with code {phase.stopped_exit} after its SIGTERM")


def _await_poll(server: DevServerProcess, tree: _Tree, deadline: float) -> None:
    """Until the server saw ``tree`` poll, so that it is surely past its start-up (where SIGTERM would
    find no handler installed yet). The server keeps only the last poll per queue: the idle trees'
    polls take turns there."""
    path = f"/api/tasks/queue/polldata?taskType={WORKLOAD.task_type}"
    while not any(entry.get("workerId") == tree.name for entry in server.call("GET", path)):
        if time.monotonic() > deadline or tree.process.poll() is not None:
            return  # what happens to the signal then is the stopped tree's exit code
        time.sleep(0.02)  # a polling probe of another process's state


def _epoch_seconds(text: str) -> float:
    """The server's summary time (``2024-01-02T03:04:05.678Z``) as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _check(server: DevServerProcess, phase: Phase, names: list[str]) -> list[dict[str, Any]]:
    """What the server knows of every task of the run, against exactly once; the tasks' summaries.

    Each workflow has one task, so: as many tasks as workflows (none added), every workflow and
    every task COMPLETED (none lost), no conflicting terminal update (a second completion of a
    task: each execution's output is unique, so a task completed twice shows here), and each
    task's output names one of the trees (it was run by the benchmark app, once).
    """
    found = server.call("GET", f"/api/tasks/search?size={phase.tasks + 1000}&query=taskType={WORKLOAD.task_type}")
    rows: list[dict[str, Any]] = found["results"]
    summary = server.call("GET", "/__devserver__/summary")
    conflicts = [c for c in server.call("GET", "/__devserver__/conflicts") if c["taskType"] == WORKLOAD.task_type]
    statuses = Counter(row["status"] for row in rows)
    hosts = Counter(json.loads(row.get("output") or "{}").get("host") for row in rows if row["status"] == "COMPLETED")
    phase.completed = statuses["COMPLETED"]
    phase.by_tree = {name: hosts[name] for name in names}
    failures = phase.failures
    if found["totalHits"] != phase.tasks:
        failures.append(f"{found['totalHits']} tasks on the server for {phase.tasks} one-task workflows")
    if summary["workflows"].get("COMPLETED", 0) != phase.tasks or statuses["COMPLETED"] != phase.tasks:
        failures.append(f"lost: workflows {summary['workflows']}, tasks {dict(statuses)} of {phase.tasks}")
    if conflicts:
        failures.append(f"{len(conflicts)} task(s) completed twice, e.g. {conflicts[0]}")
    strangers = sum(count for host, count in hosts.items() if host not in names)
    if strangers:
        failures.append(f"{strangers} task(s) completed without a result of one of the trees")
    return rows


def _measure(phase: Phase, rows: list[dict[str, Any]], server: TreeMonitor, trees: list[_Tree]) -> None:
    """Rate and CPU over the window in which every tree was running: from the moment the last
    tree to start began its first task (trees start a few hundred ms apart on a busy machine) to
    the last task's end (the backlog runs dry for all trees at once)."""
    done = [row for row in rows if row["status"] == "COMPLETED"]
    if not done:
        return
    firsts: dict[str, float] = {}
    for row in done:
        host, started = json.loads(row["output"]).get("host"), _epoch_seconds(row["startTime"])
        firsts[host] = min(started, firsts.get(host, started))
    ends = [_epoch_seconds(row["endTime"]) for row in done]
    last = max(ends)
    first = max(firsts.values()) if len(firsts) == len(trees) else min(firsts.values())
    if last <= first:
        return
    phase.seconds = last - first
    phase.rate = sum(1 for end in ends if end >= first) / phase.seconds
    wall_to_mono = time.monotonic() - time.time()
    begin, end = first + wall_to_mono, last + wall_to_mono

    def percent(monitor: TreeMonitor) -> float:
        return 100 * (monitor.cpu_at(end) - monitor.cpu_at(begin)) / phase.seconds

    phase.server_cpu_percent = percent(server)
    phase.trees_cpu_percent = sum(percent(tree.monitor) for tree in trees)


def _handed_back(server: DevServerProcess, phase: Phase, rows: list[dict[str, Any]], stopped: str) -> None:
    """Tasks handed out more than once, and how many of them a tree other than ``stopped``
    completed (the task summaries lack the poll count: one read per task)."""
    again = [row for row in rows if server.call("GET", f"/api/tasks/{row['taskId']}")["pollCount"] > 1]
    phase.handed_back = len(again)
    phase.picked_up = sum(1 for row in again if json.loads(row.get("output") or "{}").get("host") != stopped)


def run_phase(hosts: Hosts, trees: int, tasks_per_tree: int, concurrency: int, *, sigterm: bool = False,
              timeout: float = 300.0) -> Phase:
    """Preload a fresh dev server, run ``trees`` trees on it until every workflow completed, check."""
    phase = Phase(trees, trees * tasks_per_tree, concurrency, sigterm)
    server = DevServerProcess(host=hosts.server_address)
    server_monitor = TreeMonitor(server.process.pid, interval=0.1)
    running: list[_Tree] = []
    try:
        server.preload("bench", WORKLOAD.task_type, phase.tasks)
        with tempfile.TemporaryDirectory(prefix="scale-out-") as state_dir, ExitStack() as stack:
            for index in range(trees):
                running.append(_start(hosts, index, server, concurrency, state_dir))
                stack.callback(_end, running[-1])
            _await(server, phase, running, timeout)
        rows = _check(server, phase, [tree.name for tree in running])
        if sigterm:
            _handed_back(server, phase, rows, running[-1].name)
        _measure(phase, rows, server_monitor, running)
    finally:
        server_monitor.stop()
        server.stop()
    return phase


@dataclass
class ScaleOut:
    """Every run of one benchmark, and where its trees ran."""

    hosts: str
    namespaces: list[str]
    phases: list[Phase]

    @property
    def failures(self) -> list[str]:
        return [f"{_label(p)}: {failure}" for p in self.phases for failure in p.failures]


def measure(trees: list[int], tasks_per_tree: int, concurrency: int, sigterm: int, *, loopback: bool = False,
            timeout: float = 300.0) -> ScaleOut:
    """Every run: one per number in ``trees``, then one with ``sigterm`` trees (0: none) of which
    one is stopped. Prints where the trees run and one line per run as it ends."""
    with Hosts(max([*trees, sigterm]), loopback) as hosts:
        print(f"hosts: {hosts.description}", flush=True)
        namespaces = list(hosts.namespaces)
        phases = []
        for count, stop_one in [*((n, False) for n in trees), *([(sigterm, True)] if sigterm else [])]:
            phase = run_phase(hosts, count, tasks_per_tree, concurrency, sigterm=stop_one, timeout=timeout)
            phases.append(phase)
            print(f"{_label(phase)}: {phase.completed} of {phase.tasks} tasks, {phase.rate:,.0f} tasks/s, server "
                  f"CPU {phase.server_cpu_percent:.0f}%, {'ok' if not phase.failures else 'FAILED'}", flush=True)
    return ScaleOut(hosts.description, namespaces, phases)


def _label(phase: Phase) -> str:
    return f"{phase.trees} trees, SIGTERM to one" if phase.sigterm else f"{phase.trees} tree{'s' * (phase.trees > 1)}"


def table(outcome: ScaleOut) -> str:
    """Markdown: one row per run, the scaling against the run with one tree, and what was checked."""
    one = next((p.rate for p in outcome.phases if p.trees == 1 and not p.sigterm), None)
    lines = ["| trees | tasks | tasks/s | scaling vs 1 tree (ideal) | % of Little's law | server CPU | "
             "trees' CPU | completed per tree | exactly once, none lost |",
             "|---|---|---|---|---|---|---|---|---|"]
    for p in outcome.phases:
        scaling = f"{p.rate / one:.2f}x ({p.trees}x)" if one and not p.sigterm else "-"
        checks = "yes" if not p.failures else "NO"
        if p.sigterm:
            when = f"after {p.signalled_after} completed" if p.signalled_after is not None else "after the last task"
            checks += (f"; host-{p.trees} stopped {when}, exit {p.stopped_exit}; {p.handed_back} handed back, "
                       f"{p.picked_up} of them completed by the others")
        lines.append(f"| {_label(p)} | {p.tasks} | {p.rate:,.0f} | {scaling} | {100 * p.rate / p.littles_limit:.0f}% | "
                     f"{p.server_cpu_percent:.0f}% | {p.trees_cpu_percent:.0f}% | "
                     f"{', '.join(str(n) for n in p.by_tree.values())} | {checks} |")
    return "\n".join(lines)


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # so that the trees, the server and the namespaces are removed on the way out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", default=",".join(map(str, DEFAULT_TREES)),
                        help="comma-separated numbers of trees (default: %(default)s)")
    parser.add_argument("--tasks", type=int, default=DEFAULT_TASKS, help="tasks per tree (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help="coroutines per tree (default: %(default)s; see benchmarks/README.md)")
    parser.add_argument("--sigterm", type=int, default=DEFAULT_SIGTERM,
                        help="trees in the run in which one gets SIGTERM mid-run, 0 for none (default: %(default)s)")
    parser.add_argument("--loopback", action="store_true", help="run the trees on loopback, without namespaces")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run (default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", help="also write the runs as JSON")
    args = parser.parse_args(argv)
    trees = [int(n) for n in args.trees.split(",") if n]
    if any(n < 1 for n in trees) or args.sigterm < 0 or args.sigterm == 1 or args.tasks < 1 or args.concurrency < 1:
        parser.error("--trees, --tasks and --concurrency must be at least 1, --sigterm 0 or at least 2")
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        outcome = measure(trees, args.tasks, args.concurrency, args.sigterm, loopback=args.loopback,
                          timeout=args.timeout)
    except KeyboardInterrupt:
        print("interrupted; the trees, the server and the namespaces are removed", file=sys.stderr)
        return 130
    print()
    print(table(outcome))
    for failure in outcome.failures:
        print(f"FAILED {failure}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"hosts": outcome.hosts, "namespaces": outcome.namespaces,
                       "phases": [asdict(p) for p in outcome.phases]}, handle, indent=1)
    return 1 if outcome.failures else 0


if __name__ == "__main__":
    sys.exit(main())
