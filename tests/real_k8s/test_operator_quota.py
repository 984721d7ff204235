"""A worker pod the API refuses is visible to the user. The operator runs with only the
chart's ServiceAccount token against the real apiserver; a ResourceQuota leaves no room for
the worker's pod: the TradingWorker's status says Degraded / PodRefused in the apiserver's own
words, an Event says so, and ``kubectl get tw`` shows it (Ready False, Phase Degraded, Mode).
Once the quota is gone the next pass creates the pod and the condition clears."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from tests.exchange_thread import DAY
from tests.real_k8s.chart import (
    CHART,
    condition,
    events_of,
    helm,
    local_operator,
    namespace,
    secret,
    tail,
    wait,
)
from tests.real_k8s.cluster import ROOT, RealCluster

from tradefleet.adapters.clock import SEOUL, SimClock

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
NS = "quota-check"
RELEASE = "tfq"
START = datetime(DAY.year, DAY.month, DAY.day, 10, 0, tzinfo=SEOUL)
QUOTA = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "tight-cpu"},
         "spec": {"hard": {"requests.cpu": "50m"}}}


def _worker() -> str:
    text = (ROOT / "examples" / "tradingworker.yaml").read_text()
    return text.replace("name: sim-1", "name: quota-1")


def test_a_pod_refused_by_a_resource_quota_shows_in_status_events_and_get(
        real_cluster: RealCluster, pg_dsn: str, tmp_path) -> None:
    cluster = real_cluster
    namespace(cluster, NS)
    helm(cluster, "install", RELEASE, str(CHART), "-n", NS, "--set",
         "database.existingSecret=tradefleet-db", "--set", "database.sslmode=disable",
         "--set", "database.allowInsecure=true")
    secret(cluster, NS, "tradefleet-db", {"dsn": pg_dsn})
    cluster.apply(QUOTA, namespace=NS)
    wait(lambda: (cluster.get("resourcequota", "tight-cpu", "-n", NS).get("status") or {})
         .get("hard"), "the quota controller to count the namespace", 60)
    sa = cluster.token_kubeconfig(tmp_path / "sa.kubeconfig", NS, f"{RELEASE}-operator")
    clock = SimClock(START, 1.0, time.time())
    log = tmp_path / "operator.log"
    env = {"TRADEFLEET_DB__DSN": pg_dsn, "TRADEFLEET_SIM_CLOCK": clock.to_env(),
           "TRADEFLEET_OPERATOR_NAMESPACES": NS,
           "TRADEFLEET_OPERATOR_WORKER_IMAGE": "tradefleet:0.1.0",
           "TRADEFLEET_OPERATOR_DB_SECRET": "tradefleet-db/dsn",
           "TRADEFLEET_OPERATOR_POD_DB_SSLMODE": "disable"}
    with local_operator(cluster, sa, log, env) as operator:
        cluster.apply(_worker(), namespace=NS)

        def refused() -> dict | None:
            assert operator.poll() is None, tail(log)
            tw = cluster.get("tw", "quota-1", "-n", NS)
            cond = condition(tw, "Degraded")
            return tw if cond.get("reason") == "PodRefused" else None

        try:
            tw = wait(refused, "status naming the refused pod", 120)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{cluster.get('tw', 'quota-1', '-n', NS)}\n"
                                 f"{tail(log)}") from None
        degraded = condition(tw, "Degraded")
        assert degraded["status"] == "True" and "exceeded quota" in degraded["message"], tw
        assert "tight-cpu" in degraded["message"]
        assert tw["status"]["phase"] == "Degraded"
        assert condition(tw, "Ready")["reason"] == "PodRefused"
        assert not tw["status"].get("podName"), "no pod was created"
        try:
            posted = wait(lambda: [e for e in events_of(cluster, NS, "quota-1")
                                   if e["reason"] == "PodRefused"], "a PodRefused Event", 30)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{cluster.kubectl('get', 'events', '-A').stdout}\n"
                                 f"{tail(log)}") from None
        assert posted[0]["type"] == "Warning" and "exceeded quota" in posted[0]["message"]

        table = cluster.kubectl("-n", NS, "get", "tw").stdout.splitlines()
        header, row = table[0].split(), table[1].split()
        assert header[:5] == ["NAME", "READY", "PHASE", "MODE", "SYMBOL"], table
        assert row[:4] == ["quota-1", "False", "Degraded", "sim"], table
        described = cluster.kubectl("-n", NS, "describe", "tw", "quota-1").stdout
        assert "PodRefused" in described and "exceeded quota" in described

        cluster.kubectl("-n", NS, "delete", "resourcequota", "tight-cpu")
        wait(lambda: cluster.get("pods", "-n", NS, "-l", "tradefleet.io/worker=quota-1")
             ["items"], "the pod created once the quota is gone", 60)
        # the refusal is gone; with no node here the new pod is unschedulable, which the
        # operator reports as its own cause (PodPending:..., issue 19 item 3)
        wait(lambda: not condition(cluster.get("tw", "quota-1", "-n", NS), "Degraded")
             .get("reason", "").startswith("PodRefused"), "the quota refusal cleared", 30)
        cluster.kubectl("-n", NS, "delete", "tw", "quota-1", "--wait=false")
        wait(lambda: cluster.kubectl("-n", NS, "get", "tw", "quota-1",
                                     check=False).returncode != 0,
             "the TradingWorker finalized by the operator", 90)
    assert operator.returncode == 0, tail(log)
    # cleanup only: no node runs the pre-delete guard's Job here (the e2e exercises it)
    helm(cluster, "uninstall", RELEASE, "-n", NS, "--wait", "--no-hooks")
