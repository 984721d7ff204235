"""The Grafana dashboards the chart ships (charts/tradefleet/dashboards/*.json): every query
is valid PromQL and names only series our code exports, the fleet view covers what the
issue asks for, and the JSON is a provisionable Grafana 10+ dashboard on a Prometheus
datasource variable. Also: every exported metric is named as Prometheus expects."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest

from tradefleet.adapters.telemetry.metrics import OperatorMetrics, WorkerMetrics, exported_names

DASHBOARDS = Path(__file__).resolve().parents[1] / "charts" / "tradefleet" / "dashboards"
FLEET = DASHBOARDS / "tradefleet-fleet.json"
# Grafana's own variables, as a query would see them once Grafana substituted them
GRAFANA_VARS = {"$__rate_interval": "5m", "$__range": "6h", "$__interval": "1m",
                "$worker": ".*"}
UNBOUNDED_LABELS = {"order_id", "client_order_id", "broker_order_id", "fill_id", "position_id",
                    "scan_id", "fencing_token", "pid"}


def exported() -> set[str]:
    return exported_names(WorkerMetrics().registry) | exported_names(OperatorMetrics().registry)


def queries(node: Any) -> Iterator[str]:
    """Every PromQL text of a dashboard: panel targets' ``expr`` and query variables."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            elif key == "query" and isinstance(value, dict) and "query" in value:
                yield value["query"]
            else:
                yield from queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from queries(item)


def substituted(expr: str) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return expr


def series_names(expr: str) -> set[str]:
    """The metric names a query selects, from the parsed PromQL (label_values() of a
    variable query names its metric as its first argument)."""
    found = re.fullmatch(r"label_values\((\w+),\s*\w+\)", expr.strip())
    if found:
        return {found.group(1)}
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(substituted(expr)), visit)
    return names


def dashboards() -> list[Path]:
    found = sorted(DASHBOARDS.glob("*.json"))
    assert FLEET in found
    return found


@pytest.mark.parametrize("path", dashboards(), ids=lambda p: p.name)
def test_every_query_parses_and_names_only_exported_series(path: Path):
    names = exported()
    exprs = list(queries(json.loads(path.read_text())))
    assert exprs
    for expr in exprs:
        used = series_names(expr)
        assert used, f"{path.name}: no series in {expr!r}"
        unknown = used - names
        assert not unknown, f"{path.name}: {sorted(unknown)} are not exported ({expr!r})"


def test_the_series_check_catches_a_misspelt_name():
    assert series_names('sum(rate(tradefleet_order_total{side="BUY"}[$__rate_interval]))') \
        == {"tradefleet_order_total"}
    assert "tradefleet_order_total" not in exported()
    with pytest.raises(Exception):  # noqa: B017 - the parser's own error type
        series_names("sum(rate(tradefleet_orders_total[5m])")


def test_the_fleet_view_shows_what_the_issue_asks_for():
    used = set().union(*(series_names(e) for e in queries(json.loads(FLEET.read_text()))))
    for wanted in ("tradefleet_realized_pnl_today_won", "tradefleet_position_value_won",
                   "tradefleet_position_shares", "tradefleet_worker_state",
                   "tradefleet_orders_total", "tradefleet_lock_acquisitions_total",
                   "tradefleet_lock_rejections_total",
                   "tradefleet_broker_call_duration_seconds_bucket",
                   "tradefleet_rate_budget_wait_seconds_bucket",
                   "tradefleet_heartbeat_age_seconds", "tradefleet_operator_reconciles_total",
                   "tradefleet_operator_pod_recreations_total",
                   "tradefleet_operator_workers_reclaimed_total",
                   "tradefleet_operator_liquidation_runs_total",
                   "tradefleet_operator_liquidation_checks_total"):
        assert wanted in used, wanted
    text = FLEET.read_text()
    assert "histogram_quantile(0.5," in text and "histogram_quantile(0.95," in text


def test_the_fleet_view_is_a_grafana_10_dashboard_on_a_prometheus_variable():
    dash = json.loads(FLEET.read_text())
    assert dash["schemaVersion"] >= 38 and dash["uid"] and len(dash["uid"]) <= 40
    assert "id" not in dash or dash["id"] is None          # provisioned: Grafana assigns it
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = dash["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for p in panels:
        assert {"h", "w", "x", "y"} <= set(p["gridPos"]) and p["gridPos"]["x"] + \
            p["gridPos"]["w"] <= 24
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"] and all(t["datasource"]["uid"] == "${datasource}"
                                    for t in p["targets"])
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]


@pytest.mark.parametrize("registry", [WorkerMetrics().registry, OperatorMetrics().registry],
                         ids=["worker", "operator"])
def test_metric_names_follow_prometheus_conventions(registry):
    for family in registry.collect():
        name = family.name
        assert name.startswith("tradefleet_"), name
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
        assert family.documentation.strip(), name
        if family.type == "histogram":
            assert name.endswith("_seconds"), name            # every histogram times something
        if "pnl" in name or "value" in name:
            assert name.endswith("_won"), name
        if family.type == "gauge" and "shares" in name:
            assert name.endswith("_shares"), name
    names = exported_names(registry)
    counters = [f.name for f in registry.collect() if f.type == "counter"]
    assert counters and all(f"{c}_total" in names for c in counters)


def test_no_metric_has_an_unbounded_label():
    metrics = WorkerMetrics()
    operator = OperatorMetrics()
    for registry in (metrics.registry, operator.registry):
        for collector in list(registry._collector_to_names):   # the metric objects
            labels = set(getattr(collector, "_labelnames", ()))
            assert not labels & UNBOUNDED_LABELS, (collector, labels)
