"""Benchmarks: conductor_actors against the official Conductor Python SDK, side by side, in one run.

    python benchmarks/run.py                       # every workload, 3 repeats, both runtimes
    python benchmarks/run.py --workloads noop_sync --repeats 1 --scale 0.1

Sets up the official SDK (conductor-python 2.0.0 from PyPI) in its own virtual environment under
``benchmarks/.work/`` (never a dependency of the package), then for every workload and repeat runs
each runtime, alternating which goes first, against a fresh dev server in its own process, as a
whole process tree started the way users start it. Prints a markdown table of medians with the ratio
to the official SDK; ``--readme`` also writes it into ``benchmarks/README.md``. Under the table go the
ceilings of this server measured in the same run (bare update-v2 chains for the async sleep workloads,
raw keep-alive clients for the no-op ones) and, with ``--scale-out``, the rows of ``scale_out.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import devserver_throughput  # noqa: E402
import scale_out  # noqa: E402
from _harness import Run, run_once  # noqa: E402
from chain_ceiling import measure  # noqa: E402
from workloads import WORKLOADS, Workload  # noqa: E402

OFFICIAL_SDK = "conductor-python==2.0.0"
README = os.path.join(HERE, "README.md")
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def official_python(work_dir: str) -> str:
    """The official SDK's interpreter, creating its virtual environment the first time."""
    venv = os.path.join(work_dir, "official-sdk")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        print(f"setting up {OFFICIAL_SDK} in {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", OFFICIAL_SDK], check=True)
    return python


def compile_bytecode(official: str | None) -> None:
    """Compile both runtimes' modules (and the benchmark's own) to bytecode before measuring.

    pip compiles a package's modules when it installs it, so the official SDK's are compiled; this
    package may be an editable checkout, whose modules are compiled only when an interpreter may
    write bytecode (PYTHONDONTWRITEBYTECODE unset). Without this every process of the tree would
    compile this package's source at each start and "first poll" would measure the compiler.
    """
    import compileall

    import conductor_actors

    # The benchmark's own modules are here and in apps/; one level only, so that the official
    # SDK's environment under the default work directory is left to its own interpreter below.
    for directory, levels in ((os.path.dirname(conductor_actors.__file__), None), (HERE, 1)):
        if not compileall.compile_dir(directory, maxlevels=levels, quiet=1):
            raise RuntimeError(f"could not compile the modules under {directory}")
    if official is not None:
        environment = os.path.dirname(os.path.dirname(official))
        subprocess.run([official, "-m", "compileall", "-q", os.path.join(environment, "lib")], check=True)


def median_run(runs: list[Run]) -> dict[str, float | None]:
    def med(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return statistics.median(present) if present else None

    return {
        "tasks_per_second": med([r.tasks_per_second for r in runs]),
        "cpu_ms_per_task": med([r.cpu_ms_per_task for r in runs]),
        "peak_rss_mb": med([r.peak_rss_mb for r in runs]),
        "requests_per_task": med([r.requests_per_task.get("total", 0.0) for r in runs]),
        "latency_p50_ms": med([r.latency_p50_ms for r in runs]),
        "latency_p99_ms": med([r.latency_p99_ms for r in runs]),
        "littles_percent": med([r.littles_percent for r in runs]),
        "first_poll_seconds": med([r.first_poll_seconds for r in runs]),
        "ended_early": float(sum(1 for r in runs if r.ended_early)),
        "runs": float(len(runs)),
    }


COLUMNS = [
    ("tasks/s", "tasks_per_second", "{:.0f}", True),
    ("CPU ms/task", "cpu_ms_per_task", "{:.2f}", False),
    ("peak RSS MB", "peak_rss_mb", "{:.0f}", False),
    ("requests/task", "requests_per_task", "{:.3f}", False),
    ("latency p50 ms", "latency_p50_ms", "{:.1f}", False),
    ("latency p99 ms", "latency_p99_ms", "{:.1f}", False),
    ("% of Little's law", "littles_percent", "{:.0f}%", True),
    ("first poll s", "first_poll_seconds", "{:.2f}", False),
]


def table(results: dict[str, dict[str, dict[str, float | None]]]) -> str:
    """Markdown: one row per workload and runtime, plus the ratio ours/official per figure."""
    lines = [
        "| workload | runtime | " + " | ".join(c[0] for c in COLUMNS) + " |",
        "|---|---|" + "---|" * len(COLUMNS),
    ]
    for workload, by_runtime in results.items():
        for runtime, label in RUNTIME_LABELS.items():
            if runtime not in by_runtime:
                continue
            figures = by_runtime[runtime]
            cells = [fmt.format(figures[key]) if figures.get(key) is not None else "-" for _, key, fmt, _ in COLUMNS]
            if figures.get("ended_early"):
                label += f" ({figures['ended_early']:.0f} of {figures.get('runs', 0):.0f} runs ended early)"
            lines.append(f"| {workload} | {label} | " + " | ".join(cells) + " |")
        for top, bottom, label in RATIOS:
            if top in by_runtime and bottom in by_runtime:
                cells = _ratios(by_runtime[top], by_runtime[bottom])
                lines.append(f"| {workload} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


RUNTIME_LABELS = {
    "ours": "conductor_actors",
    "ours_metrics": "conductor_actors, metrics on",
    "official": "official SDK 2.0.0",
}
RATIOS = [
    ("ours", "official", "ratio (ours / official)"),
    ("ours_metrics", "ours", "ratio (metrics on / off)"),
]


def _ratios(top: dict[str, float | None], bottom: dict[str, float | None]) -> list[str]:
    cells = []
    for _, key, _, _ in COLUMNS:
        mine, theirs = top.get(key), bottom.get(key)
        cells.append(f"{mine / theirs:.2f}x" if mine is not None and theirs else "-")
    return cells


CEILING_INTRO = (
    "Ceiling of the async sleep workloads on this server (`chain_ceiling.py`: bare update-v2 chains on "
    "one event loop, no runtime; the least any async runtime does per task):"
)


def ceiling_lines(workloads: list[Workload], scale: float) -> list[str]:
    """One line per async sleep workload: what bare update-v2 chains reach at its concurrency."""
    lines = []
    for workload in workloads:
        if workload.flavour != "async" or not workload.sleep:
            continue
        ceiling = measure(workload.thread_count, workload.sleep, max(1, int(workload.tasks * scale)))
        lines.append(
            f"- {workload.name}: {ceiling.rate:,.0f} tasks/s, {ceiling.littles_percent:.0f}% of Little's law "
            f"(asyncio.sleep p50 {1000 * statistics.median(ceiling.slept):.1f} ms, update-v2 round trip p50 "
            f"{1000 * statistics.median(ceiling.round_trips):.1f} ms)"
        )
        print(lines[-1], flush=True)
    return lines


def devserver_line(workloads: list[Workload], results: dict[str, dict[str, dict[str, float | None]]],
                   scale: float) -> str | None:
    """The dev server's own ceiling (``devserver_throughput.py``) with the share of it this runtime
    reached on each no-op workload; None when the run has no no-op workload."""
    noop = [w for w in workloads if not (w.sleep or w.cpu or w.interval)]
    if not noop:
        return None
    tasks = max(1, int(max(w.tasks for w in noop) * scale))
    ceiling = devserver_throughput.measure(tasks, clients=4)
    if not ceiling.complete:
        raise RuntimeError(f"the dev server's ceiling run did not complete: {ceiling}")
    shares = []
    for workload in noop:
        rate = results.get(workload.name, {}).get("ours", {}).get("tasks_per_second")
        if rate is not None:
            shares.append(f"{workload.name} {100 * rate / ceiling.rate:.0f}%")
    reached = f"; conductor_actors reaches {', '.join(shares)} of it." if shares else "."
    line = (f"Ceiling of the no-op workloads on this server (`devserver_throughput.py --tasks {tasks} --clients 4`: "
            f"batch poll and update-v2 chains from four processes of raw keep-alive clients, no runtime): "
            f"{ceiling.rate:,.0f} tasks/s{reached}")
    print(line, flush=True)
    return line


SCALE_OUT_INTRO = (
    "Scale-out (`scale_out.py --tasks {tasks}`: {trees} trees of this runtime with {concurrency} coroutines "
    "each, every tree on a host of its own, on the 50 ms sleep workload against one dev server; then a "
    "SIGTERM to one of {sigterm} trees mid-run). Hosts: {hosts}."
)


def scale_out_section(scale: float) -> tuple[str, list[str]]:
    """The scale-out benchmark's table with its introduction, and its failed checks."""
    tasks = max(10, int(scale_out.DEFAULT_TASKS * scale))
    trees, concurrency, sigterm = scale_out.DEFAULT_TREES, scale_out.DEFAULT_CONCURRENCY, scale_out.DEFAULT_SIGTERM
    outcome = scale_out.measure(list(trees), tasks, concurrency, sigterm)
    intro = SCALE_OUT_INTRO.format(tasks=tasks, trees=", ".join(map(str, trees)), concurrency=concurrency,
                                   sigterm=sigterm, hosts=outcome.hosts)
    return intro + "\n\n" + scale_out.table(outcome), outcome.failures


def machine() -> str:
    cpus = os.cpu_count() or 0
    return f"{platform.system()} {platform.machine()}, {cpus} CPU(s), Python {platform.python_version()}"


def write_readme(markdown: str, note: str) -> None:
    with open(README) as handle:
        text = handle.read()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{README} lacks the {BEGIN} / {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(README, "w") as handle:
        handle.write(f"{head}{BEGIN}\n{note}\n\n{markdown}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="conductor_actors vs the official Conductor Python SDK")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated (default: all)")
    parser.add_argument("--runtimes", default="ours,official,ours_metrics",
                        help="comma-separated from ours, official, ours_metrics (default: all three; "
                             "ours_metrics, ours with Prometheus metrics served, runs on the noop workloads only)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per runtime and workload (default 3)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every workload's task count")
    parser.add_argument("--work-dir", default=os.path.join(HERE, ".work"), help="where the official SDK lives")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds after which a run is ended and reported as ended early (default 600)")
    parser.add_argument("--json", metavar="FILE", help="also write every run's figures as JSON")
    parser.add_argument("--readme", action="store_true", help="write the table into benchmarks/README.md")
    parser.add_argument("--scale-out", action="store_true",
                        help="also run scale_out.py (1, 2 and 4 trees on one server) and add its table")
    args = parser.parse_args(argv)
    workloads = [WORKLOADS[name] for name in args.workloads.split(",")]
    runtimes = [r for r in args.runtimes.split(",") if r]
    unknown = set(runtimes) - set(RUNTIME_LABELS)
    if unknown:
        parser.error(f"unknown runtime(s): {', '.join(sorted(unknown))}")
    os.makedirs(args.work_dir, exist_ok=True)
    interpreter = official_python(args.work_dir) if "official" in runtimes else None
    compile_bytecode(interpreter)
    every: list[Run] = []
    results: dict[str, dict[str, dict[str, float | None]]] = {}
    started = time.monotonic()
    for workload in workloads:
        taking_part = [r for r in runtimes if r != "ours_metrics" or workload.metrics_variant]
        runs: dict[str, list[Run]] = {r: [] for r in taking_part}
        for repeat in range(args.repeats):
            order = taking_part if repeat % 2 == 0 else list(reversed(taking_part))
            for runtime in order:
                run = run_once(runtime, workload, scale=args.scale, official_python=interpreter,
                               timeout=args.timeout)
                runs[runtime].append(run)
                every.append(run)
                print(f"{workload.name:>17} {runtime:>12} #{repeat + 1}: {run.tasks_per_second:7.0f} tasks/s, "
                      f"{run.cpu_ms_per_task:5.2f} ms CPU/task, {run.peak_rss_mb:5.0f} MB, "
                      f"p50 {run.latency_p50_ms:6.1f} ms, first poll {run.first_poll_seconds:.2f} s", flush=True)
                if run.ended_early:
                    print(f"{'':>17} ended early after {run.completed} of {run.tasks} tasks: {run.ended_early}",
                          flush=True)
        results[workload.name] = {runtime: median_run(r) for runtime, r in runs.items()}
    markdown = table(results)
    early = [r for r in every if r.ended_early]
    if early:
        markdown += ("\n\nRuns ended before every task completed (their figures cover the time until they "
                     "were ended):\n\n")
        markdown += "\n".join(f"- {r.workload}, {RUNTIME_LABELS[r.runtime]}: {r.completed} of {r.tasks} tasks; "
                               f"{r.ended_early}" for r in early)
    ceilings = ceiling_lines(workloads, args.scale) if "ours" in runtimes else []
    if ceilings:
        markdown += "\n\n" + CEILING_INTRO + "\n\n" + "\n".join(ceilings)
    noop_ceiling = devserver_line(workloads, results, args.scale) if "ours" in runtimes else None
    if noop_ceiling:
        markdown += "\n\n" + noop_ceiling
    scale_out_failures: list[str] = []
    if args.scale_out:
        section, scale_out_failures = scale_out_section(args.scale)
        markdown += "\n\n" + section
        for failure in scale_out_failures:
            print(f"scale-out check FAILED: {failure}", flush=True)
    print()
    print(markdown)
    note = (f"Medians of {args.repeats} run(s) per runtime (scale {args.scale:g}); {machine()}; "
            f"{time.strftime('%Y-%m-%d')}; {time.monotonic() - started:.0f} s in all.")
    print(f"\n{note}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump([asdict(run) for run in every], handle, indent=1)
    if args.readme:
        write_readme(markdown, note)
    incomplete = [r for r in every if r.completed < r.tasks]
    return 1 if incomplete or scale_out_failures else 0


if __name__ == "__main__":
    sys.exit(main())
