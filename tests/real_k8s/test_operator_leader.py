"""Issue 19 item 6 against the real apiserver: operator replicas elect a leader through the
chart's ClusterKopfPeering. Three local operators, each with only the chart's ServiceAccount
token: the oldest (A) reconciles, the others pause (no pod, no status from them); A killed
outright (SIGKILL: no withdrawal), B takes over once A's keep-alive lapses (lifetime 5 s
here); B stopped (SIGTERM: it withdraws), C takes over at once. Both takeover times are
measured from the signal to the first status a new TradingWorker gets, and printed."""

from __future__ import annotations

import contextlib
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest
from tests.exchange_thread import DAY
from tests.real_k8s.chart import CHART, helm, local_operator, namespace, secret, tail, wait
from tests.real_k8s.cluster import ROOT, RealCluster

from tradefleet.adapters.clock import SEOUL, SimClock

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
NS = "leader-check"
RELEASE = "tfl"
START = datetime(DAY.year, DAY.month, DAY.day, 10, 0, tzinfo=SEOUL)
LIFETIME_S = 5
# the slack above the lifetime: kopf's keep-alive period, the peer scan, a pass, under load
SLACK_S = 25


def _worker(name: str) -> str:
    return (ROOT / "examples" / "tradingworker.yaml").read_text().replace("name: sim-1",
                                                                          f"name: {name}")


def _created(log: Path) -> int:
    return log.read_text(errors="replace").count("pod created") if log.exists() else 0


def test_one_replica_reconciles_and_another_takes_over_when_it_goes(
        real_cluster: RealCluster, pg_dsn: str, tmp_path: Path) -> None:
    cluster = real_cluster
    namespace(cluster, NS)
    helm(cluster, "install", RELEASE, str(CHART), "-n", NS, "--set",
         "database.existingSecret=tradefleet-db", "--set", "database.sslmode=disable",
         "--set", "database.allowInsecure=true")
    secret(cluster, NS, "tradefleet-db", {"dsn": pg_dsn})
    (peering,) = [p["metadata"]["name"] for p in
                  cluster.get("clusterkopfpeerings")["items"]
                  if p["metadata"]["name"].startswith(RELEASE) and
                  p["metadata"]["name"].endswith(NS)]
    sa = cluster.token_kubeconfig(tmp_path / "sa.kubeconfig", NS, f"{RELEASE}-operator")
    clock = SimClock(START, 1.0, time.time())
    base = {"TRADEFLEET_DB__DSN": pg_dsn, "TRADEFLEET_SIM_CLOCK": clock.to_env(),
            "TRADEFLEET_OPERATOR_NAMESPACES": NS,
            "TRADEFLEET_OPERATOR_WORKER_IMAGE": "tradefleet:0.1.0",
            "TRADEFLEET_OPERATOR_DB_SECRET": "tradefleet-db/dsn",
            "TRADEFLEET_OPERATOR_POD_DB_SSLMODE": "disable",
            "TRADEFLEET_OPERATOR_PEERING_NAME": peering,
            "TRADEFLEET_OPERATOR_PEERING_LIFETIME_SECONDS": str(LIFETIME_S)}
    logs = {n: tmp_path / f"operator-{n}.log" for n in "abc"}

    def phase(name: str) -> str | None:
        tw = cluster.get("tw", name, "-n", NS)
        return (tw.get("status") or {}).get("phase")

    def taken_over(name: str, what: str) -> float:
        began = time.monotonic()
        cluster.apply(_worker(name), namespace=NS)
        try:
            wait(lambda: phase(name), what, LIFETIME_S + SLACK_S, every=0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n" + "\n".join(
                f"--- {n}\n{tail(p, 25)}" for n, p in logs.items())) from None
        return time.monotonic() - began

    def _worker_pods() -> list[dict]:
        return cluster.get("pods", "-n", NS, "-l", "tradefleet.io/worker")["items"]

    def peers() -> set[str]:
        status = cluster.get("clusterkopfpeering", peering).get("status") or {}
        return set(status)

    with contextlib.ExitStack() as stack:
        a = stack.enter_context(local_operator(cluster, sa, logs["a"], {**base, "POD_ID": "op-a"}))
        wait(lambda: "op-a" in peers(), "A in the peering object", 60)
        cluster.apply(_worker("lead-1"), namespace=NS)
        wait(lambda: phase("lead-1"), "A reconciling", 60)
        b = stack.enter_context(local_operator(cluster, sa, logs["b"], {**base, "POD_ID": "op-b"}))
        wait(lambda: "op-b" in peers(), "B in the peering object", 60)
        c = stack.enter_context(local_operator(cluster, sa, logs["c"], {**base, "POD_ID": "op-c"}))
        wait(lambda: "op-c" in peers(), "C in the peering object", 60)
        cluster.apply(_worker("lead-2"), namespace=NS)
        wait(lambda: phase("lead-2"), "the leader reconciling lead-2", 60)
        time.sleep(3)                         # every replica's resync has come round
        assert [_created(logs[n]) for n in "abc"] == [2, 0, 0], \
            {n: tail(p, 15) for n, p in logs.items()}
        assert len(_worker_pods()) == 2                  # one pod a worker

        a.send_signal(signal.SIGKILL)         # dies outright: its entry stays until it lapses
        a.wait()
        killed = taken_over("lead-3", "B taking over after A was killed")
        assert _created(logs["b"]) == 1 and _created(logs["c"]) == 0, tail(logs["c"])

        b.send_signal(signal.SIGTERM)         # leaves: withdraws its entry
        b.wait(60)
        stopped = taken_over("lead-4", "C taking over after B stopped")
        assert _created(logs["c"]) == 1, tail(logs["c"])
        assert "op-b" not in peers()
        assert len(_worker_pods()) == 4
        assert c.poll() is None, tail(logs["c"])
    print(f"\nleader takeover: {killed:.1f} s after SIGKILL (peering lifetime {LIFETIME_S} s), "
          f"{stopped:.1f} s after SIGTERM")
    # B waited for A's entry to lapse (A touched it every second: at most 1 s before the kill)
    assert killed >= LIFETIME_S - 1.5
    cluster.kubectl("-n", NS, "delete", "tw", "--all", "--wait=false", check=False)
    for n in range(1, 5):
        cluster.kubectl("-n", NS, "patch", "tw", f"lead-{n}", "--type=merge", "-p",
                        '{"metadata":{"finalizers":null}}', check=False)
    helm(cluster, "uninstall", RELEASE, "-n", NS, "--wait", "--no-hooks")
