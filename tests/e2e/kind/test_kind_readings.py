"""The pure parts of the kind end-to-end test, run everywhere: its readings of kubectl,
Jaeger, psql and simulator answers, its skip reason, and its Helm values against the chart."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from tests.e2e.kind.readings import (
    crd_resource,
    missing_tools,
    pod_named,
    pod_ready,
    proxy_path,
    psql_json,
    service_of_url,
    simulation_values,
    trading_workers,
    worker_pods,
    worker_to_exchange_links,
)
from tests.e2e.kind.rig import until
from tests.exchange_thread import ExchangeThread
from tests.packaging.chart_facts import chart_values, has_value

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.adapters.postgres.lock_history import replay_lock_events
from tradefleet.adapters.sim.exchange.books_client import books_from_json
from tradefleet.domain.orders import OrderRequest, OrderType, Side
from tradefleet.local_fleet.books_check import judge_books

ROOT = Path(__file__).resolve().parents[3]


def test_missing_tools_are_named_and_a_silent_docker_counts():
    found = {"docker": "/usr/bin/docker", "kubectl": "/usr/bin/kubectl"}
    assert missing_tools(found.get, lambda: True) == ["kind", "helm"]
    assert missing_tools(found.get, lambda: False) == [
        "docker (installed, but the daemon does not respond)", "kind", "helm"]
    every = dict.fromkeys(("docker", "kind", "helm", "kubectl"), "/bin/x")
    assert missing_tools(every.get, lambda: True) == []
    asked = []
    missing_tools({}.get, lambda: asked.append(1) or True)
    assert asked == [], "no docker binary: the daemon is not asked"


def test_the_values_of_the_e2e_install_are_values_of_the_chart():
    values = yaml.safe_load(Path(__file__).with_name("values-e2e.yaml").read_text())

    def keys(node: dict, prefix: str = "") -> list[str]:
        out = []
        for k, v in node.items():
            out += keys(v, f"{prefix}{k}.") if isinstance(v, dict) else [f"{prefix}{k}"]
        return out

    dynamic = simulation_values(datetime(2026, 12, 2, 15, 30, tzinfo=SEOUL), 150, 15, 0)
    missing = [k for k in [*keys(values), *dynamic] if not has_value(chart_values(), k)]
    assert not missing, f"values-e2e.yaml sets values the chart does not have: {missing}"
    assert all(values[part]["enabled"] is True for part in ("exchange", "postgresql", "jaeger"))


def test_simulation_values_put_the_session_before_the_close():
    close = datetime(2026, 12, 2, 15, 30, tzinfo=SEOUL)
    values = simulation_values(close, 150, 15, 1_796_000_000.7)
    assert values == {"simulation.start": "2026-12-02T13:00:00+09:00",
                      "simulation.speed": 15, "simulation.realStart": 1_796_000_000}
    clock = SimClock(datetime.fromisoformat(values["simulation.start"]), 15, 1_796_000_000)
    assert clock.sim_start.utcoffset() == close.utcoffset()
    with pytest.raises(ValueError, match="tz-aware"):
        simulation_values(datetime(2026, 12, 2, 15, 30), 150, 15, 0)


def test_crd_resource_of_the_repositorys_crds():
    docs = [d for f in sorted((ROOT / "crds").glob("*.yaml"))
            for d in yaml.safe_load_all(f.read_text(encoding="utf-8"))]
    assert crd_resource(docs, "TradingWorker") == "tradingworkers.tradefleet.io"
    with pytest.raises(LookupError, match="Nope"):
        crd_resource(docs, "Nope")


def test_trading_workers_of_an_example_file():
    docs = list(yaml.safe_load_all("kind: Secret\nmetadata: {name: s}\n---\n"
                                   "kind: TradingWorker\nmetadata: {name: w-a}\n---\n"))
    assert [d["metadata"]["name"] for d in trading_workers(docs)] == ["w-a"]
    with pytest.raises(LookupError):
        trading_workers([{"kind": "Secret"}, None])


@pytest.mark.parametrize(("url", "expected"), [
    ("http://tradefleet-exchange:8900", ("tf", "tradefleet-exchange", 8900)),
    ("http://tradefleet-exchange.sims.svc.cluster.local:8900/",
     ("sims", "tradefleet-exchange", 8900)),
    ("http://ex.svc", ("tf", "ex", 80)),
])
def test_service_of_url(url: str, expected: tuple[str, str, int]):
    assert service_of_url(url, "tf") == expected


def test_proxy_path_names_the_port_by_name_when_it_has_one():
    named = {"metadata": {"name": "tradefleet-jaeger"},
             "spec": {"ports": [{"name": "otlp-http", "port": 4318},
                                {"name": "ui", "port": 16686}]}}
    assert proxy_path("tf", named, 16686, "/api/traces?service=x") == \
        "/api/v1/namespaces/tf/services/tradefleet-jaeger:ui/proxy/api/traces?service=x"
    bare = {"metadata": {"name": "ex"}, "spec": {"ports": [{"port": 8900}]}}
    assert proxy_path("tf", bare, 8900, "_admin/books") == \
        "/api/v1/namespaces/tf/services/ex:8900/proxy/_admin/books"
    with pytest.raises(LookupError, match="no port 1"):
        proxy_path("tf", bare, 1, "x")


def _pod(name: str, *, phase: str = "Running", ready: str = "True", deleting: bool = False,
         labels: dict | None = None) -> dict:
    meta = {"name": name, "uid": f"uid-{name}", "labels": labels or {}}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-02T01:00:00Z"
    return {"metadata": meta, "status": {"phase": phase,
                                         "conditions": [{"type": "Ready", "status": ready}]}}


def test_pod_readiness_and_picking():
    worker = {"app.kubernetes.io/instance": "w-a", "app.kubernetes.io/component": "worker"}
    pods = {"items": [_pod("w-a", labels=worker), _pod("w-b", labels={**worker,
                      "app.kubernetes.io/instance": "w-b"}),
                      _pod("tradefleet-postgresql-0"), _pod("tradefleet-operator-x", ready="False"),
                      _pod("tradefleet-postgresql-old", deleting=True)]}
    assert [p["metadata"]["name"] for p in worker_pods(pods, "w-a")] == ["w-a"]
    assert pod_ready(pods["items"][0]) and not pod_ready(pods["items"][3])
    assert not pod_ready(pods["items"][4]), "a terminating pod is not ready"
    assert pod_named(pods, "tradefleet-postgresql") == "tradefleet-postgresql-0"
    with pytest.raises(LookupError, match="tradefleet-jaeger"):
        pod_named(pods, "tradefleet-jaeger")
    assert not pod_ready(_pod("p", phase="Pending"))


def _jaeger_trace() -> dict:
    """Jaeger's /api/traces shape: spans with processID and CHILD_OF references."""
    return {"data": [{
        "traceID": "t1",
        "processes": {"p1": {"serviceName": "tradefleet-worker"},
                      "p2": {"serviceName": "tradefleet-exchange"},
                      "p3": {"serviceName": "postgres-proxy"}},
        "spans": [
            {"spanID": "a", "operationName": "order.send", "processID": "p1", "references": []},
            {"spanID": "b", "operationName": "POST", "processID": "p1",
             "references": [{"refType": "CHILD_OF", "traceID": "t1", "spanID": "a"}]},
            {"spanID": "c", "operationName": "POST /uapi/order-cash", "processID": "p2",
             "references": [{"refType": "CHILD_OF", "traceID": "t1", "spanID": "b"}]},
            {"spanID": "d", "operationName": "query", "processID": "p3",
             "references": [{"refType": "CHILD_OF", "traceID": "t1", "spanID": "b"}]},
            {"spanID": "e", "operationName": "GET /x", "processID": "p2",
             "references": [{"refType": "FOLLOWS_FROM", "traceID": "t1", "spanID": "b"}]},
        ]}]}


def test_worker_to_exchange_links_of_a_jaeger_answer():
    links = worker_to_exchange_links(_jaeger_trace(), "tradefleet-worker")
    assert links == [("t1", "POST", "POST /uapi/order-cash")]
    assert worker_to_exchange_links({"data": []}, "tradefleet-worker") == []
    assert worker_to_exchange_links(_jaeger_trace(), "someone-else") == []


def test_psql_json_reads_json_agg_over_several_lines():
    assert psql_json('[{"a":1}, \n {"a":2}]\n') == [{"a": 1}, {"a": 2}]
    with pytest.raises(ValueError, match="nothing"):
        psql_json("\n")


def test_lock_replay_over_rows_read_as_json():
    rows = json.loads(json.dumps([
        {"event_id": 1, "event_type": "LockAcquiredEvent", "worker_id": "w-a",
         "symbol": "005930", "payload": {"fencing_token": 1}},
        {"event_id": 2, "event_type": "LockReleasedEvent", "worker_id": "w-a",
         "symbol": "005930", "payload": {"fencing_token": 1}},
        {"event_id": 3, "event_type": "LockAcquiredEvent", "worker_id": "w-b",
         "symbol": "005930", "payload": {"fencing_token": 2}},
        {"event_id": 4, "event_type": "LockAcquiredEvent", "worker_id": "w-a",
         "symbol": "005930", "payload": {"fencing_token": 3}},
    ]))
    problems, acquisitions = replay_lock_events(rows)
    assert acquisitions == 3
    assert [(p.symbol, p.holder, p.intruder, p.event_id) for p in problems] == \
        [("005930", "w-b", "w-a", 4)]


def test_books_read_through_json_are_judged_like_the_chaos_bench():
    """The simulator's /_admin/books JSON, as the e2e reads it through the service proxy,
    and our fills as psql's json_agg gives them: judged by local_fleet.books_check."""
    with ExchangeThread(n_symbols=5) as ex:
        symbol = ex.market.symbols()[0]

        def books():  # noqa: ANN202
            with urllib.request.urlopen(f"{ex.base_url}/_admin/books", timeout=10) as resp:
                return books_from_json(json.load(resp))

        assert judge_books(books(), []).clean
        bought = ex.market.submit(OrderRequest("k1", symbol, Side.BUY, OrderType.MARKET, 3))
        held = judge_books(books(), [])
        assert held.holdings == {symbol: 3} and held.executions == 1
        assert not held.clean and list(held.unrecorded.values()) == [3]
        sold = ex.market.submit(OrderRequest("k2", symbol, Side.SELL, OrderType.MARKET, 3))
        ours = json.loads(json.dumps([{"broker_order_id": bought.broker_order_id, "filled": 3},
                                      {"broker_order_id": sold.broker_order_id, "filled": 3}]))
        flat = judge_books(books(), ours)
        assert flat.clean and flat.holdings == {} and flat.executions == 2
        short = judge_books(books(), ours[:1] + [{**ours[1], "filled": 2}])
        assert not short.clean and list(short.mismatched.values()) == [(3, 2)]


def test_until_returns_the_first_truthy_answer_and_names_what_it_waited_for():
    answers = iter([None, LookupError("pod not there"), {"ok": 1}])

    def check():  # noqa: ANN202
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert until(check, "a pod", timeout=5, every=0) == {"ok": 1}
    with pytest.raises(AssertionError, match=r"waiting for a pod; last: pod not there"):
        until(lambda: (_ for _ in ()).throw(LookupError("pod not there")), "a pod",
              timeout=0.05, every=0.01)
