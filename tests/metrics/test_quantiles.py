"""Quantiles mode (``MetricsSettings(quantiles=True)``): poll, execute and update times carry the
five quantiles 0.5/0.75/0.9/0.95/0.99 next to their histogram buckets, under the same names.

The worker sleeps known times, so the quantiles have known lower bounds; the histogram buckets of
the same series give the observed range every quantile must lie in.
"""

from __future__ import annotations

import math

from _support.metrics_apps import make_worker
from _support.metrics_apps.harness import TASK, HandlerFactory, Scrape, buckets, http_metrics, run_tasks, scrape_until

from conductor_actors.devserver import DevServer

QUANTILE_LABELS = ("0.5", "0.75", "0.9", "0.95", "0.99")
#: Sleeps of the tasks that succeed and of those that fail (s).
SUCCESS_SLEEPS = (0.01, 0.02, 0.03, 0.04)
FAILURE_SLEEP = 0.06
QUANTILE_FAMILIES = ("task_poll_time_seconds", "task_execute_time_seconds", "task_update_time_seconds")


def observed_range(s: Scrape, name: str, **labels: str) -> tuple[float, float]:
    """``(low, high)``: every observation of the series is > low and <= high (from its buckets)."""
    rows = buckets(s, name, **labels)
    count = rows[-1][1]
    low = max((le for le, cumulative in rows if cumulative == 0), default=-math.inf)
    high = min(le for le, cumulative in rows if cumulative == count)
    return low, high


def quantiles_of(s: Scrape, name: str, **labels: str) -> dict[str, float]:
    return {q.labels["quantile"]: q.value for q in s.find(name, **labels) if "quantile" in q.labels}


def test_quantiles_sit_beside_the_buckets_for_every_series(
    flavour: str, dev_server: DevServer, handler_factory: HandlerFactory
) -> None:
    handler = handler_factory([make_worker(flavour, TASK)], http_metrics(quantiles=True))
    inputs = [{"seconds": seconds} for seconds in SUCCESS_SLEEPS * 3] + [{"seconds": FAILURE_SLEEP, "fail": True}] * 3
    statuses = run_tasks(dev_server, inputs)
    assert sorted(statuses.values()) == ["COMPLETED"] * 12 + ["FAILED"] * 3

    s = scrape_until(
        handler,
        lambda s: s.total("task_update_time_seconds_count", taskType=TASK) >= len(inputs)
        and not math.isnan(quantiles_of(s, "task_update_time_seconds", taskType=TASK).get("0.5", math.nan)),
        "every update observed, with quantiles",
    )

    minimum = {"SUCCESS": min(SUCCESS_SLEEPS), "FAILURE": FAILURE_SLEEP}
    for status, count in (("SUCCESS", 12), ("FAILURE", 3)):
        labels = {"taskType": TASK, "status": status}
        assert s.one("task_execute_time_seconds_count", **labels) == count
        assert s.one("task_execute_time_seconds_sum", **labels) >= count * minimum[status] * 0.99
        quantiles = quantiles_of(s, "task_execute_time_seconds", **labels)
        assert tuple(quantiles) == QUANTILE_LABELS, s.lines("task_execute_time_seconds{")
        low, high = observed_range(s, "task_execute_time_seconds", **labels)
        values = [quantiles[q] for q in QUANTILE_LABELS]
        assert values == sorted(values), f"{status}: quantiles decrease: {quantiles}"
        for q, value in quantiles.items():
            assert minimum[status] * 0.99 <= value and low < value <= high, (
                f"{status} quantile {q} = {value} outside the observed range ({low}, {high}]"
            )
    # the slowest successful task took at least the longest sleep: the top quantile saw it
    assert quantiles_of(s, "task_execute_time_seconds", taskType=TASK, status="SUCCESS")["0.99"] >= max(
        SUCCESS_SLEEPS
    ) * 0.99

    for name in QUANTILE_FAMILIES:
        series = {tuple(sorted(c.labels.items())) for c in s.find(name + "_count", taskType=TASK)}
        assert series, f"no {name} series"
        for labels in map(dict, series):
            assert tuple(quantiles_of(s, name, **labels)) == QUANTILE_LABELS, (name, labels)
            assert s.find(name + "_sum", **labels) and buckets(s, name, **labels)[-1][0] == math.inf
        # a family may not be both a histogram and a summary: it is declared untyped
        assert s.declared_type(name) in ("untyped", "unknown"), s.declared_type(name)

    # families without quantiles in the catalog stay plain histograms
    assert s.declared_type("http_api_client_request_seconds") == "histogram"
    assert not [x for x in s.find("http_api_client_request_seconds") if "quantile" in x.labels]
    assert s.declared_type("task_result_size_bytes") == "histogram"
