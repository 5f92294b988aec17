"""The test side of the metrics tests: settings, scraping, waiting and driving the dev server.

Runs on the test's thread. Never imported by worker processes (they import ``workers`` only).
``Scrape`` is one exposition (an HTTP scrape or the metrics file) parsed by prometheus-client's own
parser; ``http_get`` talks to the metrics HTTP server; ``wait_until`` (from ``_support.waiting``)
polls a condition with a deadline (tests never sleep to wait); ``register_flow`` / ``run_tasks``
drive the dev server.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from conductor_actors import Configuration, MetricsSettings, RuntimeSettings, TaskHandler
from conductor_actors.devserver import DevServer
from conductor_actors.settings import SupervisionSettings
from conductor_actors.worker import WorkerInterface

from ..waiting import WAIT, wait_until

__all__ = [
    "FAST_RUNTIME",
    "FAST_SUPERVISION",
    "TASK",
    "WAIT",
    "HandlerFactory",
    "HttpAnswer",
    "Scrape",
    "buckets",
    "http_get",
    "http_metrics",
    "make_handler",
    "register_flow",
    "run_tasks",
    "scrape",
    "scrape_until",
    "wait_until",
]

#: Task type of the metrics tests' worker.
TASK = "metrics_task"
#: The worker's inputs, as the one-task workflow passes them from its input (every one is always
#: given: a workflow input that is missing would reach the worker as null).
DEFAULT_INPUT: dict[str, Any] = {"size": 0, "text": "x", "fail": False, "seconds": 0.0, "index": 0}

#: Relay batches every 50 ms, heartbeats every 200 ms: counters reach the parent quickly.
FAST_RUNTIME = RuntimeSettings(
    relay_interval=0.05,
    heartbeat_interval=0.2,
    update_retry_delays=(0.05, 0.1),
    poll_error_backoff_base=0.05,
    poll_error_backoff_cap=0.2,
    backoff_jitter=0.0,
)
#: Restarts after 50 ms (no jitter), short shutdown budget.
FAST_SUPERVISION = SupervisionSettings(
    restart_backoff_base=0.05,
    restart_backoff_cap=2.0,
    restart_jitter=0.0,
    heartbeat_timeout=10.0,
    boot_timeout=WAIT,
    kill_timeout=0.5,
    shutdown_grace=2.0,
    shutdown_flush=1.0,
    fast_shutdown_timeout=1.0,
)


# -- reading expositions ------------------------------------------------------------------------


class Scrape:
    """One exposition text, parsed by ``prometheus_client.parser``; raises what the parser raises
    for text that is not the Prometheus text format.

    ``families`` maps each family name to the first family of that name. The parser makes one
    family per sample of an untyped family whose sample names differ from the family name (the
    quantiles mode's ``_bucket``/``_sum``/``_count``), so ``samples`` collects every family.
    """

    def __init__(self, text: str, content_type: str | None = None) -> None:
        self.text = text
        self.content_type = content_type
        self.family_list = list(text_string_to_metric_families(text))
        self.families: dict[str, Metric] = {}
        for family in self.family_list:
            self.families.setdefault(family.name, family)
        self.samples: list[Sample] = [sample for family in self.family_list for sample in family.samples]

    def declared_type(self, name: str) -> str | None:
        """The type the ``# TYPE`` line of ``name`` declares (None when there is no such line)."""
        prefix = f"# TYPE {name} "
        types = [line[len(prefix):].strip() for line in self.text.splitlines() if line.startswith(prefix)]
        return types[0] if types else None

    def find(self, name: str, **labels: str) -> list[Sample]:
        """Samples called ``name`` whose labels include ``labels``."""
        return [
            s for s in self.samples
            if s.name == name and all(s.labels.get(key) == value for key, value in labels.items())
        ]

    def total(self, name: str, **labels: str) -> float:
        """Sum of the samples ``find`` returns (0 when there is none)."""
        return float(sum(s.value for s in self.find(name, **labels)))

    def one(self, name: str, **labels: str) -> float:
        """The value of the single sample called ``name`` with exactly ``labels``."""
        found = [s for s in self.find(name, **labels) if s.labels == labels]
        assert len(found) == 1, f"expected one sample {name}{labels}, found {found}\n{self.lines(name)}"
        return float(found[0].value)

    def lines(self, prefix: str) -> str:
        """The exposition lines of metrics starting with ``prefix`` (for failure messages)."""
        return "\n".join(line for line in self.text.splitlines() if line.startswith(prefix))


def buckets(scrape: Scrape, name: str, **labels: str) -> list[tuple[float, float]]:
    """``(le, cumulative count)`` of histogram ``name``'s series with ``labels``, by bound."""
    return sorted((float(s.labels["le"]), s.value) for s in scrape.find(name + "_bucket", **labels))


# -- the metrics HTTP server --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class HttpAnswer:
    status: int
    content_type: str | None
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http_get(url: str, timeout: float = 10.0) -> HttpAnswer:
    """GET ``url``; any status is an answer (a 503 is not an exception)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return HttpAnswer(response.status, response.headers.get("Content-Type"), response.read())
    except urllib.error.HTTPError as error:
        with error:
            return HttpAnswer(error.code, error.headers.get("Content-Type"), error.read())


def scrape(handler: TaskHandler) -> Scrape:
    """Scrape ``handler``'s ``/metrics`` over HTTP; fails unless it answers 200."""
    assert handler.metrics is not None and handler.metrics.url is not None, "the handler serves no HTTP metrics"
    answer = http_get(handler.metrics.url + "/metrics")
    assert answer.status == 200, f"/metrics answered {answer.status}: {answer.body[:500]!r}"
    return Scrape(answer.body.decode("utf-8"), answer.content_type)


def scrape_until(handler: TaskHandler, condition: Callable[[Scrape], bool], what: str) -> Scrape:
    """Scrape again and again until ``condition`` holds for a scrape; returns that scrape. On
    timeout the failure shows the last scrape."""
    last: list[Scrape] = []

    def attempt() -> Scrape | None:
        current = scrape(handler)
        last[:] = [current]
        return current if condition(current) else None

    try:
        return wait_until(attempt, what)
    except AssertionError as exc:
        seen = last[0].text if last else "(no scrape)"
        raise AssertionError(f"{exc}\n----- last scrape -----\n{seen}") from None


# -- the dev server -----------------------------------------------------------------------------


def register_flow(server: DevServer, task_type: str = TASK) -> str:
    """A workflow of one ``task_type`` task fed from the workflow input, never retried (a failure
    is final at once); returns its name."""
    name = f"{task_type}_flow"
    server.register_workflow({
        "name": name,
        "version": 1,
        "schemaVersion": 2,
        "tasks": [{
            "name": task_type,
            "taskReferenceName": "only",
            "retryCount": 0,
            "inputParameters": {p: f"${{workflow.input.{p}}}" for p in DEFAULT_INPUT},
        }],
    })
    return name


def run_tasks(server: DevServer, inputs: Iterable[Mapping[str, Any]], task_type: str = TASK) -> dict[str, str]:
    """Run one workflow per input (over ``DEFAULT_INPUT``; ``index`` = its position unless given)
    to its end; returns workflow id -> status."""
    name = register_flow(server, task_type)
    ids = [
        server.start_workflow(name, {**DEFAULT_INPUT, "index": index, **item}) for index, item in enumerate(inputs)
    ]
    return dict(server.wait_for_workflows(ids, WAIT))


# -- handlers -----------------------------------------------------------------------------------


#: What the ``handler_factory`` fixture gives a test:
#: ``handler_factory(workers, metrics_settings=None, *, start=True, **TaskHandler_kwargs)``.
HandlerFactory = Callable[..., TaskHandler]


def http_metrics(**changes: Any) -> MetricsSettings:
    """HTTP mode on a free loopback port."""
    return MetricsSettings(http_port=0, http_host="127.0.0.1", **changes)


def make_handler(server: DevServer, workers: Sequence[WorkerInterface], metrics_settings: MetricsSettings,
                 **kwargs: Any) -> TaskHandler:
    """A ``TaskHandler`` (not started) for ``server``, hermetic (no environment, no scanned
    workers), with ``FAST_RUNTIME``/``FAST_SUPERVISION`` unless ``kwargs`` bring their own."""
    kwargs.setdefault("runtime_settings", FAST_RUNTIME)
    kwargs.setdefault("supervision", FAST_SUPERVISION)
    return TaskHandler(
        workers=list(workers),
        configuration=Configuration(server_api_url=server.url, env={}),
        metrics_settings=metrics_settings,
        scan_for_annotated_workers=False,
        env={},
        **kwargs,
    )
