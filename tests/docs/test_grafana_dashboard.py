"""``examples/grafana/conductor-actors.json`` is a well-formed Grafana dashboard over our metrics.

Its structure is checked (panels with unique ids on a non-overlapping grid, every data panel with
targets on the ``$datasource`` variable), and every PromQL expression is read token by token:
each series it selects must exist in ``conductor_actors.metrics.CATALOG`` under Prometheus'
naming rules (``_bucket``/``_sum``/``_count`` for histograms, ``_total`` kept for counters), each
label it matches or groups by must exist on those series, and each function must be a PromQL
function. A renamed metric or label therefore fails here before a dashboard goes blank.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from _support.docs_tools import REPO_ROOT

from conductor_actors.metrics import CATALOG, MetricKind

DASHBOARD = REPO_ROOT / "examples" / "grafana" / "conductor-actors.json"
#: Labels Prometheus attaches to every scraped series.
TARGET_LABELS = frozenset({"job", "instance"})
GRID_COLUMNS = 24
PANEL_TYPES = {"timeseries", "stat", "gauge", "bargauge", "table", "heatmap"}
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range", "__range_s"}
AGGREGATORS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
               "quantile"}
FUNCTIONS = AGGREGATORS | {
    "rate", "irate", "increase", "delta", "idelta", "deriv", "histogram_quantile", "clamp_min", "clamp_max", "abs",
    "ceil", "floor", "round", "vector", "scalar", "time", "label_replace", "sort", "sort_desc", "absent",
    "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "changes", "resets",
}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
OPERATOR_WORDS = {"and", "or", "unless", "bool", "offset"}
#: What the dashboard must show (the brief of the dashboard).
REQUIRED_SERIES = {
    "task_execute_time_seconds_count",  # throughput
    "task_execute_error_total",  # error rate
    "task_execute_time_seconds_bucket",  # p95 execution time
    "task_in_flight", "worker_restart_total", "active_workers",
    "recovery_journal_entries", "recovery_deliveries_total",
}

_TOKEN = re.compile(r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<range>\[[^\]]*\])
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){},])
  | (?P<space>\s+)
""", re.VERBOSE)


def series_labels() -> dict[str, frozenset[str]]:
    """Every series name the catalog exposes -> the labels it carries."""
    names: dict[str, frozenset[str]] = {}
    for spec in CATALOG:
        labels = frozenset(spec.labels) | TARGET_LABELS
        if spec.kind is MetricKind.HISTOGRAM:
            names[spec.name + "_bucket"] = labels | {"le"}
            names[spec.name + "_sum"] = labels
            names[spec.name + "_count"] = labels
            if spec.quantiles:
                names[spec.name] = labels | {"quantile"}
        else:
            names[spec.name] = labels
    return names


SERIES = series_labels()


@dataclass
class Query:
    """What one PromQL expression uses."""

    series: list[str] = field(default_factory=list)
    matchers: list[tuple[str, str]] = field(default_factory=list)  # (series, label)
    grouping: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)


def _tokens(expr: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None:
            raise AssertionError(f"cannot read {expr[position:position + 20]!r} in {expr!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append((kind, match.group()))
        position = match.end()
    return tokens


def parse_promql(expr: str) -> Query:
    """Read ``expr`` (Grafana variables allowed in strings and ranges) into a ``Query``."""
    query = Query(variables=re.findall(r"\$\{?(\w+)\}?", expr))
    tokens = _tokens(_hide_variables(expr))
    depth = 0
    index = 0
    while index < len(tokens):
        kind, text = tokens[index]
        following = tokens[index + 1][1] if index + 1 < len(tokens) else ""
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
            assert depth >= 0, f"unbalanced parentheses in {expr!r}"
        elif kind == "ident" and text in GROUPING:
            assert following == "(", f"{text} without a label list in {expr!r}"
            end = tokens.index(("op", ")"), index)
            query.grouping += [t for k, t in tokens[index + 2:end] if k == "ident"]
            index = end
        elif kind == "ident" and text in OPERATOR_WORDS:
            pass
        elif kind == "ident" and (following == "(" or (text in AGGREGATORS and following in GROUPING)):
            query.functions.append(text)
        elif kind == "ident":
            query.series.append(text)
            if following == "{":
                end = tokens.index(("op", "}"), index)
                inner = tokens[index + 2:end]
                query.matchers += [(text, t) for position, (k, t) in enumerate(inner)
                                   if k == "ident" and position + 1 < len(inner) and inner[position + 1][0] == "op"
                                   and inner[position + 1][1] in ("=", "!=", "=~", "!~")]
                index = end
        elif text == "{":
            raise AssertionError(f"a selector without a metric name in {expr!r}")
        index += 1
    assert depth == 0, f"unbalanced parentheses in {expr!r}"
    return query


def _hide_variables(expr: str) -> str:
    """Variables appear inside strings and ranges only; check that, then read the rest."""
    outside = re.sub(r'"(?:[^"\\]|\\.)*"|\[[^\]]*\]', "", expr)
    assert "$" not in outside, f"a variable outside a string or range in {expr!r}"
    return expr


def check_query(query: Query, where: str) -> list[str]:
    """Problems of one parsed expression: unknown series, labels or functions."""
    problems = [f"{where}: unknown series {name}" for name in query.series if name not in SERIES]
    problems += [f"{where}: unknown function {name}" for name in query.functions if name not in FUNCTIONS]
    for name, label in query.matchers:
        if name in SERIES and label not in SERIES[name]:
            problems.append(f"{where}: {name} has no label {label}")
    available = set().union(*(SERIES.get(name, frozenset()) for name in query.series)) if query.series else set()
    problems += [f"{where}: no series of the expression has label {label}" for label in query.grouping
                 if label not in available]
    return problems


def load() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def data_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, expr) for every target of every panel."""
    return [(f"{p['title']}/{t['refId']}", t["expr"]) for p in data_panels(dashboard) for t in p["targets"]]


def variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard["templating"]["list"]}


# ------------------------------------------------------------------------------------------------ tests


def test_dashboard_is_a_grafana_dashboard() -> None:
    dashboard = load()
    assert isinstance(dashboard["title"], str) and dashboard["title"]
    assert isinstance(dashboard["uid"], str) and 0 < len(dashboard["uid"]) <= 40
    assert isinstance(dashboard["schemaVersion"], int)
    assert isinstance(dashboard["panels"], list) and dashboard["panels"]
    assert dashboard["time"]["from"] and dashboard["time"]["to"]
    source = variables(dashboard)["datasource"]
    assert (source["type"], source["query"]) == ("datasource", "prometheus")


def test_panels_have_unique_ids_and_do_not_overlap() -> None:
    panels = load()["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("x", "y", "w", "h")), panel["title"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= GRID_COLUMNS and grid["w"] > 0 and grid["h"] > 0
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_data_panels_query_the_datasource_variable() -> None:
    for panel in data_panels(load()):
        assert panel["type"] in PANEL_TYPES, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], f"{panel['title']} has no targets"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"] and target["expr"].strip(), panel["title"]


def test_every_expression_uses_catalog_series_and_labels() -> None:
    dashboard = load()
    problems = [p for where, expr in expressions(dashboard) for p in check_query(parse_promql(expr), where)]
    assert problems == []


def test_variables_used_are_defined() -> None:
    dashboard = load()
    defined = set(variables(dashboard)) | BUILTIN_VARIABLES
    used = {v for _, expr in expressions(dashboard) for v in parse_promql(expr).variables}
    assert used - defined == set()


def test_variable_queries_use_catalog_series_and_labels() -> None:
    for name, variable in variables(load()).items():
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", variable["query"]["query"])
        assert match, f"${name}: expected label_values(selector, label)"
        query = parse_promql(match.group(1))
        assert check_query(query, f"${name}") == []
        assert match.group(2) in SERIES[query.series[0]], f"${name}: {query.series[0]} has no label {match.group(2)}"


def test_dashboard_shows_what_operators_need() -> None:
    dashboard = load()
    used = {name for _, expr in expressions(dashboard) for name in parse_promql(expr).series}
    assert used >= REQUIRED_SERIES, f"missing: {REQUIRED_SERIES - used}"
    p95 = [expr for _, expr in expressions(dashboard)
           if "histogram_quantile(0.95" in expr and "task_execute_time_seconds_bucket" in expr]
    assert p95, "p95 execution time from the histogram buckets"


# ------------------------------------------------------------------------------- the checker itself works


@pytest.mark.parametrize(("expr", "problem"), [
    ("rate(http_api_client_request_seconds[5m])", "unknown series http_api_client_request_seconds"),
    ('task_execute_time_seconds{quantile="0.95"}', ""),
    ("sum(rate(task_poll[5m]))", "unknown series task_poll"),
    ("rate(worker_restart_total_total[5m])", "unknown series worker_restart_total_total"),
    ('task_in_flight{pid="1"}', "task_in_flight has no label pid"),
    ("sum by (exception) (task_in_flight)", "no series of the expression has label exception"),
    ("histogram_quantil(0.9, sum by (le) (rate(task_execute_time_seconds_bucket[5m])))",
     "unknown function histogram_quantil"),
    ("sum by (le) (rate(task_execute_time_seconds_bucket[5m]))", ""),
    ('sum by (taskType) (rate(task_execute_error_total{exception=~"$x"}[$__rate_interval]))', ""),
])
def test_the_checker_finds_wrong_names(expr: str, problem: str) -> None:
    problems = check_query(parse_promql(expr), "q")
    assert problems == ([f"q: {problem}"] if problem else [])
