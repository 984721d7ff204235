"""Issue 19/9 against the real apiserver: once the operator (the chart's ServiceAccount,
resync every second) has settled a few TradingWorkers, its passes go on (its own metrics say
so) but the apiserver counts no LIST of pods, no GET of a Secret and no PATCH of a
TradingWorker's status (``apiserver_request_total`` from its /metrics): pods and Secrets come
from watches, and status is written only when it changes. No node runs here, so the pods stay
Pending (unschedulable), a world that does not change."""

from __future__ import annotations

import time
import urllib.request
from datetime import datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.exchange_thread import DAY
from tests.real_k8s.chart import CHART, helm, local_operator, namespace, secret, tail, wait
from tests.real_k8s.cluster import ROOT, RealCluster

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.local_fleet.processes import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
NS = "cost-check"
RELEASE = "tfc"
START = datetime(DAY.year, DAY.month, DAY.day, 10, 0, tzinfo=SEOUL)
WORKERS = 5
# (verb, resource, subresource) of the per-pass requests the operator must not make
PER_PASS = {("LIST", "pods", ""): "list pods", ("GET", "secrets", ""): "get secrets",
            ("PATCH", "tradingworkers", "status"): "patch tradingworkers/status"}


def _apiserver_counts(cluster: RealCluster) -> dict[str, float]:
    text = cluster.kubectl("get", "--raw", "/metrics").stdout
    out = dict.fromkeys(PER_PASS.values(), 0.0)
    for family in text_string_to_metric_families(text):
        if family.name != "apiserver_request":
            continue
        for s in family.samples:
            if not s.name.endswith("_total"):
                continue
            key = (s.labels.get("verb"), s.labels.get("resource"),
                   s.labels.get("subresource", ""))
            if key in PER_PASS:
                out[PER_PASS[key]] += s.value
    return out


def _passes(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:  # noqa: S310
        text = resp.read().decode()
    return sum(s.value for f in text_string_to_metric_families(text)
               if f.name == "tradefleet_operator_reconciles" for s in f.samples
               if s.name.endswith("_total"))


def _worker(i: int) -> str:
    text = (ROOT / "examples" / "tradingworker.yaml").read_text()
    return text.replace("name: sim-1", f"name: cost-{i}")


def test_a_settled_fleet_costs_the_apiserver_no_request_per_pass(
        real_cluster: RealCluster, pg_dsn: str, tmp_path) -> None:
    cluster = real_cluster
    namespace(cluster, NS)
    helm(cluster, "install", RELEASE, str(CHART), "-n", NS, "--set",
         "database.existingSecret=tradefleet-db", "--set", "database.sslmode=disable",
         "--set", "database.allowInsecure=true")
    secret(cluster, NS, "tradefleet-db", {"dsn": pg_dsn})
    sa = cluster.token_kubeconfig(tmp_path / "sa.kubeconfig", NS, f"{RELEASE}-operator")
    clock = SimClock(START, 1.0, time.time())
    log, port = tmp_path / "operator.log", free_port()
    env = {"TRADEFLEET_DB__DSN": pg_dsn, "TRADEFLEET_SIM_CLOCK": clock.to_env(),
           "TRADEFLEET_OPERATOR_NAMESPACES": NS,
           "TRADEFLEET_OPERATOR_WORKER_IMAGE": "tradefleet:0.1.0",
           "TRADEFLEET_OPERATOR_DB_SECRET": "tradefleet-db/dsn",
           "TRADEFLEET_OPERATOR_POD_DB_SSLMODE": "disable",
           "TRADEFLEET_OPERATOR_METRICS_PORT": str(port)}
    with local_operator(cluster, sa, log, env) as operator:
        for i in range(WORKERS):
            cluster.apply(_worker(i), namespace=NS)
        try:
            wait(lambda: len(cluster.get("pods", "-n", NS, "-l", "tradefleet.io/worker")
                             ["items"]) == WORKERS, "a pod per TradingWorker", 120)
            wait(lambda: all((tw.get("status") or {}).get("podName") for tw in
                             cluster.get("tw", "-n", NS)["items"]), "every status written", 60)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{tail(log)}") from None
        time.sleep(5)                              # the scheduler's verdicts are in
        before, passes = _apiserver_counts(cluster), _passes(port)
        time.sleep(10)                             # ten resyncs of every worker
        after, done = _apiserver_counts(cluster), _passes(port) - passes
        assert operator.poll() is None, tail(log)
        print(f"\n{done:.0f} passes over 10 s; apiserver per-pass requests: "
              f"{ {k: after[k] - before[k] for k in after} }")
        assert done >= 2 * WORKERS, tail(log)
        assert {k: after[k] - before[k] for k in after} == dict.fromkeys(after, 0.0), tail(log)
        for i in range(WORKERS):
            cluster.kubectl("-n", NS, "delete", "tw", f"cost-{i}", "--wait=false")
        wait(lambda: not cluster.get("tw", "-n", NS)["items"],
             "the TradingWorkers finalized by the operator", 120)
    assert operator.returncode == 0, tail(log)
    helm(cluster, "uninstall", RELEASE, "-n", NS, "--wait", "--no-hooks")
