"""Every script in ``examples/`` runs as ``python examples/<name>.py``, exits 0 and prints what it promises.

Each script starts its own dev server and worker processes; the test runs it as a subprocess in a
hermetic environment (no ``CONDUCTOR*`` variable from the outside, an outbox directory of its own)
and checks its key output lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: The longest a script may take (they take a few seconds; spawning is slow on a loaded machine).
SCRIPT_TIMEOUT = 60.0

#: Example scripts whose own tests live elsewhere.
TESTED_ELSEWHERE = {
    "update_failure_journal.py": "tests/handler/test_example_journal.py",
    "alerting_actor.py": "tests/examples/test_actor_examples.py",
    "redelivering_actor.py": "tests/examples/test_actor_examples.py",
}


@dataclass(frozen=True)
class Script:
    name: str
    expected: tuple[str, ...]  # regexes, each must match a whole line of stdout
    args: tuple[str, ...] = ()


SCRIPTS = (
    Script("sync_and_async_workers.py", (
        r"worker process_data +pid \d+ +\(def: a thread pool\)",
        r"worker fetch_data +pid \d+ +\(async def: one event loop\)",
        r"worker log_event +pid \d+ +\(async def: one event loop\)",
        r"  process_data +COMPLETED +output=\{'result': 385\}",
        r"  fetch_data +COMPLETED +output=\{'data': \{.*",
        r"  log_event +COMPLETED +output=\{\}",
        r"  notify +COMPLETED +output=\{\}",
        r"workflow COMPLETED: output=\{'result': 385, 'fetched': 'process_data'\}",
    )),
    Script("worker_configuration.py", (
        r"Conductor Worker\[name=process_order, pid=\d+, status=active, poll_interval=1000ms, domain=production, "
        r"thread_count=50, poll_timeout=100ms, lease_extend=false, register_task_def=false\]",
        r"  thread_count += 50  \(conductor\.worker\.process_order\.thread_count\)",
        r"  domain += production  \(conductor\.worker\.all\.domain\)",
        r"Conductor Worker\[name=ship_order, .*poll_interval=250ms, domain=production, thread_count=20, .*",
        r"  poll_interval_millis = 250  \(CONDUCTOR_WORKER_SHIP_ORDER_POLL_INTERVAL\)",
        r"a bad value stops the start-up: CONDUCTOR_WORKER_PROCESS_ORDER_LEASE_EXTEND_ENABLED='sometimes': "
        r"lease_extend_enabled must be a boolean .*",
        r"process_order ran in domain 'production' on worker \S+-\d+: COMPLETED "
        r"\{'order_id': 'o-7', 'status': 'processed'\}",
        r"ship_order ran in domain 'production' on worker \S+-\d+: COMPLETED .*",
    )),
    Script("task_definitions.py", (
        r"task definitions on the server \(4 schemas saved\):",
        r"  process_order: description='process one order', retryCount=2, "
        r"schemas=\{'input': 'process_order_input', 'output': 'process_order_output'\}",
        r"  validate_order: description=None, retryCount=3, "
        r"schemas=\{'input': 'validate_order_input', 'output': 'validate_order_output'\}",
        r"  stable_task: description='tuned by the ops team', retryCount=7, schemas=none",
        r'    "\$schema": "http://json-schema.org/draft-07/schema#",',
        r"validate_order_input: additionalProperties=false",
        r"process_order \{'order_id': 'o-1', .*\}: COMPLETED \{'status': 'processed', 'order_id': 'o-1'\}",
        r"process_order \{'order_id': 'o-2', 'amount': 5.0\}: FAILED_WITH_TERMINAL_ERROR "
        r"input 'order.customer_id': missing required field \(expected int\)",
    )),
    Script("long_running_tasks.py", (
        r"batch of 250 items: batch_processor COMPLETED after 3 execution\(s\): "
        r"\{'status': 'completed', 'total_processed': 250\}",
        r"request approved: wait_for_approval COMPLETED after \d execution\(s\): \{'status': 'approved'\}",
        r"request rejected: wait_for_approval FAILED after \d execution\(s\): Request rejected: REJECTED",
        r"report \(lease extended\): build_report COMPLETED after 1 execution\(s\): \{'pages': 12, 'seconds': 2.5\}",
    )),
    Script("event_listeners.py", (
        r"\[pid \d+\] Task \S+ completed in \d+\.\dms; Output size: \d+ bytes",
        r"ALERT: SLA breach: score_lead took \d+ms",
        r"\[pid \d+\] ml_task cost so far in this process: \$0\.\d{4}",
        r"ALERT: CRITICAL: Task update failed after 3 attempts: task \S+ of workflow \S+, "
        r"result COMPLETED \{'label': 'positive'\} \(ConductorHTTPError\)",
        r"the dev server refused 3 updates; the outbox delivered the result afterwards",
        r"  ml_task: 3 completed, 1 update failed",
        r"  score_lead: 3 completed, 1 failed",
        r"workflows: 6 COMPLETED, 1 FAILED",
    )),
    Script("metrics_http_and_file.py", (
        r"HTTP mode: GET http://127\.0\.0\.1:\d+/metrics",
        r'  task_execute_time_seconds_count\{status="SUCCESS",taskType="store_image"\} 5\.0',
        r'  task_poll_total\{taskType="resize_image"\} \d+\.0',
        r'  active_workers\{taskType="store_image"\} 1\.0',
        r"GET http://127\.0\.0\.1:\d+/health -> 200 ok \(resize_image up, store_image up\)",
        r"file mode: .*workers\.prom \(rewritten every 0\.2 s\)",
        r'  task_execute_time_seconds_count\{status="SUCCESS",taskType="resize_image"\} 5\.0',
    )),
    Script("worker_discovery.py", (
        r"recursive=False: 2 workers \['greet_sync', 'greet_async'\]",
        r"Discovered 3 worker\(s\) in 4 scanned module\(s\)",
        r"  create_invoice \[sync\] discovered\.billing\.invoices\.create_invoice",
        r"  greet_async \[async\] discovered\.greetings\.greet_async",
        r"started 3 worker processes: create_invoice, greet_async, greet_sync",
        r"workflow COMPLETED: \{'greeting': 'Hello again, ada!', 'invoice': 'INV-ADA-42\.00'\}",
    )),
    Script("class_based_workers.py", (
        r"run_task\(ReverseText\): COMPLETED \{'reversed': 'revres on deen stset tinu'\}",
        r"run_task\(CountWords\): COMPLETED \{'words': 5\}",
        r"worker reverse_text: sync execute",
        r"worker count_words: async execute",
        r"workflow COMPLETED: \{'reversed': 'ssecorp nwo rieht ni nur srekrow ssalc', 'words': 7\}",
    )),
    Script("order_pipeline.py", (
        r"  20/20 workflows finished \(\d+/s\)",
        r"orders: +20 started, 19 completed, 1 failed \(invalid on purpose\), 0 other",
        r"throughput: +\d+ workflows/s \(\d+ tasks/s\) in \d+\.\d\d s",
        r"latency: +p50 \d+ ms, p99 \d+ ms \(workflow start to end; retried orders wait for their retry delay\)",
        r"first failure: .*amount must be positive.*",
    ), args=("--orders", "20")),
    Script("performance_workloads.py", (
        r"compute_task +def: a thread pool +thread_count=4 +pid \d+ +4 task\(s\) COMPLETED, slowest \d+ ms",
        r"file_task +def: a thread pool +thread_count=20 +pid \d+ +4 task\(s\) COMPLETED, slowest \d+ ms",
        r"api_task +async def: one event loop +thread_count=50 +pid \d+ +4 task\(s\) COMPLETED, slowest \d+ ms",
        r"mixed_task +async def: one event loop +thread_count=10 +pid \d+ +4 task\(s\) COMPLETED, slowest \d+ ms",
        r"workflows: 4 of 4 COMPLETED",
        r"last workflow COMPLETED: output=\{'sum_of_squares': 30, 'file': 'order 3: 4 item\(s\)', "
        r"'task_def': 'compute_task', 'digest': \{'keys': \d+, 'name': 'compute_task'\}\}",
    ), args=("--workflows", "4")),
    Script("concurrent_api_calls.py", (
        r"worker api_calls pid \d+: async def, thread_count=100 \(one event loop thread\)",
        r"120 of 120 api_calls tasks COMPLETED in \d+\.\d s; one call at a time would take 60 s",
        r"the API served 120 requests, at most \d+ at the same time",
        r"last workflow COMPLETED: output=\{'answer': \{'path': '/orders/119', 'status': 'ok'\}\}",
    ), args=("--calls", "120", "--delay", "0.5")),
    Script("rollback_to_def.py", (
        r"worker fetch_data pid \d+ \(def: a thread pool\)",
        r"  fetch_data COMPLETED output=\{'name': 'fetch_data', 'thread': '\S+'\}",
        r"  fetch_data COMPLETED output=\{'name': 'charge_payment', 'thread': '\S+'\}",
        r"  fetch_data COMPLETED output=\{'name': 'send_confirmation', 'thread': '\S+'\}",
        r"workflows: 3 of 3 COMPLETED, each task on its own asyncio.run event loop",
    )),
)


def example_env(test_dir: Path) -> dict[str, str]:
    """Ours without ``CONDUCTOR*`` variables and with an outbox directory of the test's own. Output
    stays buffered as for a user: a worker process's ``print(..., flush=True)`` is then one write, so
    lines of several processes never mix."""
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith("CONDUCTOR") and k != "PYTHONUNBUFFERED"}
    env["CONDUCTOR_ACTORS_STATE_DIR"] = str(test_dir / "state")
    return env


def test_every_example_script_is_tested() -> None:
    """A new script in examples/ needs an entry here (or a test elsewhere)."""
    scripts = {path.name for path in EXAMPLES.glob("*.py")}
    covered = {script.name for script in SCRIPTS} | set(TESTED_ELSEWHERE)
    assert scripts == covered, f"untested: {sorted(scripts - covered)}; gone: {sorted(covered - scripts)}"


@pytest.mark.parametrize("script", SCRIPTS, ids=[script.name for script in SCRIPTS])
def test_example_script_runs_and_prints_its_results(script: Script, tmp_path: Path) -> None:
    """The script exits 0 within the time bound, prints each expected line, and no traceback."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script.name), *script.args], cwd=tmp_path, env=example_env(tmp_path),
        capture_output=True, text=True, timeout=SCRIPT_TIMEOUT, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"exit code {done.returncode}\n{done.stdout}\n{done.stderr}"
    lines = done.stdout.splitlines()
    missing = [pattern for pattern in script.expected if not any(re.fullmatch(pattern, line) for line in lines)]
    assert not missing, f"lines not printed: {missing}\n--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"
    assert "Traceback" not in without_task_failures(done.stderr), done.stderr


def without_task_failures(stderr: str) -> str:
    """``stderr`` without the lines the worker processes log for a failed task (the failure line of
    ``conductor_actors.tasks`` and its traceback): an example whose worker raises on purpose logs
    them, and only a traceback of anything else means the script itself went wrong."""
    kept, skipping = [], False
    for line in stderr.splitlines():
        if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line):  # a new log line ends the one before
            skipping = " conductor_actors.tasks: " in line
        if not skipping:
            kept.append(line)
    return "\n".join(kept)
