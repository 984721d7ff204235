"""Issue 19 against the real control plane: what ``kubectl describe tw`` and the operator's
probes tell a user when something fails. One chart install and one operator (a local
process whose only credentials are the chart's ServiceAccount token; its Postgres behind a
forward the test can cut) serve the module:

- item 3: a pod no node can take (nodeSelector matching none): PodPending:Unschedulable at
  once, in the scheduler's words, with a Warning Event; phase Degraded after
  ``podPendingTimeoutSeconds``;
- item 1, another failure than the quota's refusal: the operator's Role loses ``delete
  pods`` and a spec change must replace the pod: Degraded/Reconciled=False ApiForbidden in
  the apiserver's words, an Event, and recovery once the Role is whole again;
- item 7 (and item 1's DatabaseUnavailable): Postgres cut off: the operator stays live
  (/healthz 200, the process runs) but not ready (/readyz 503), and the TradingWorker says
  DatabaseUnavailable; ready again when the database is back.
Leader election (item 6) has its own operators: test_operator_leader.py."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

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
from tests.real_k8s.db_cut import CuttableDb

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.local_fleet.processes import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
NS = "failure-check"
RELEASE = "tff"
START = datetime(DAY.year, DAY.month, DAY.day, 10, 0, tzinfo=SEOUL)
PENDING_TIMEOUT_S = 10          # the configuration's minimum


class Operator:
    def __init__(self, cluster: RealCluster, proc: Any, log: Path, probes: int,
                 db: CuttableDb) -> None:
        self.cluster, self.proc, self.log, self.probes, self.db = cluster, proc, log, probes, db

    def alive(self) -> None:
        assert self.proc.poll() is None, tail(self.log)

    def probe(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.probes}{path}",  # noqa: S310
                                        timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    def tw(self, name: str) -> dict[str, Any]:
        return self.cluster.get("tw", name, "-n", NS)

    def warnings(self, name: str, reason: str) -> list[dict[str, Any]]:
        return [e for e in events_of(self.cluster, NS, name)
                if e["type"] == "Warning" and e["reason"].startswith(reason)]

    def describe(self, name: str) -> str:
        return self.cluster.kubectl("-n", NS, "describe", "tw", name).stdout


def _worker(name: str, **pod: Any) -> str:
    text = (ROOT / "examples" / "tradingworker.yaml").read_text()
    doc = text.replace("name: sim-1", f"name: {name}")
    if pod:
        doc += "  pod:\n" + "".join(f"    {k}: {json.dumps(v)}\n" for k, v in pod.items())
    return doc


@pytest.fixture(scope="module")
def operator(real_cluster: RealCluster, module_pg_dsn: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    cluster, tmp = real_cluster, tmp_path_factory.mktemp("failures")
    pg_dsn = module_pg_dsn
    namespace(cluster, NS)
    helm(cluster, "install", RELEASE, str(CHART), "-n", NS, "--set",
         "database.existingSecret=tradefleet-db", "--set", "database.sslmode=disable",
         "--set", "database.allowInsecure=true")
    secret(cluster, NS, "tradefleet-db", {"dsn": pg_dsn})
    sa = cluster.token_kubeconfig(tmp / "sa.kubeconfig", NS, f"{RELEASE}-operator")
    clock = SimClock(START, 1.0, time.time())
    probes = free_port()
    with CuttableDb(pg_dsn) as db:
        env = {"TRADEFLEET_DB__DSN": db.dsn, "TRADEFLEET_SIM_CLOCK": clock.to_env(),
               "TRADEFLEET_OPERATOR_NAMESPACES": NS,
               "TRADEFLEET_OPERATOR_WORKER_IMAGE": "tradefleet:0.1.0",
               "TRADEFLEET_OPERATOR_DB_SECRET": "tradefleet-db/dsn",
               "TRADEFLEET_OPERATOR_POD_DB_SSLMODE": "disable",
               "TRADEFLEET_OPERATOR_LIVENESS_PORT": str(probes),
               "TRADEFLEET_OPERATOR_POD_PENDING_TIMEOUT_SECONDS": str(PENDING_TIMEOUT_S)}
        log = tmp / "operator.log"
        with local_operator(cluster, sa, log, env) as proc:
            op = Operator(cluster, proc, log, probes, db)
            wait(lambda: op.probe("/readyz") == 200, "the operator ready", 60)
            yield op
    # cleanup only: no node runs the pre-delete guard's Job here (the e2e exercises it)
    cluster.kubectl("-n", NS, "delete", "tw", "--all", "--wait=false", check=False)
    for tw in (cluster.get("tw", "-n", NS).get("items") or []):
        cluster.kubectl("-n", NS, "patch", "tw", tw["metadata"]["name"], "--type=merge",
                        "-p", '{"metadata":{"finalizers":null}}', check=False)
    helm(cluster, "uninstall", RELEASE, "-n", NS, "--wait", "--no-hooks")


def _explain(op: Operator, name: str) -> str:
    return f"\n{op.tw(name).get('status')}\n{tail(op.log)}"


def test_a_pod_no_node_can_take_is_pending_then_degraded_after_the_timeout(operator):
    op = operator
    op.cluster.apply(_worker("pend-1", nodeSelector={"tradefleet.io/pool": "nowhere"}),
                     namespace=NS)
    started = time.monotonic()
    try:
        wait(lambda: condition(op.tw("pend-1"), "Degraded").get("reason", "")
             .startswith("PodPending:Unschedulable"), "PodPending:Unschedulable", 60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}{_explain(op, 'pend-1')}") from None
    tw = op.tw("pend-1")
    pod = tw["status"]["podName"]
    assert tw["status"]["phase"] == "Starting"            # not yet past the timeout
    assert "node" in condition(tw, "Degraded")["message"], tw["status"]   # the scheduler's
    assert wait(lambda: op.warnings("pend-1", "PodPending:Unschedulable"), "its Event", 30)
    tw = wait(lambda: (t := op.tw("pend-1"))["status"]["phase"] == "Degraded" and t,
              "phase Degraded after the pending timeout", PENDING_TIMEOUT_S + 30)
    took = time.monotonic() - started
    assert condition(tw, "Degraded")["reason"] == "PodPendingTimeout:Unschedulable"
    assert tw["status"]["podName"] == pod                  # kept: a node may yet come
    print(f"\npending pod: Degraded {took:.1f} s after the TradingWorker was applied "
          f"(timeout {PENDING_TIMEOUT_S} s)")
    described = op.describe("pend-1")
    assert "PodPendingTimeout:Unschedulable" in described and "Warning" in described


def test_an_rbac_refusal_of_a_pod_deletion_is_named_and_recovers(operator):
    op, cluster = operator, operator.cluster
    cluster.apply(_worker("rbac-1"), namespace=NS)
    first = wait(lambda: op.tw("rbac-1").get("status", {}).get("podName"), "the first pod", 60)
    role = cluster.get("role", f"{RELEASE}-operator", "-n", NS)
    whole = json.loads(json.dumps(role))
    for rule in role["rules"]:
        if rule.get("resources") == ["pods"]:
            rule["verbs"] = [v for v in rule["verbs"] if v != "delete"]
    for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
        role["metadata"].pop(key, None)
    cluster.apply(role, namespace=NS)
    try:
        # a spec change replaces the (never started) pod at once: the deletion is refused
        cluster.kubectl("-n", NS, "patch", "tw", "rbac-1", "--type=merge", "-p",
                        '{"spec":{"pollIntervalSeconds":7}}')
        try:
            tw = wait(lambda: (t := op.tw("rbac-1")) and condition(t, "Reconciled")
                      .get("status") == "False" and t, "Reconciled False", 60)
        except AssertionError as exc:
            raise AssertionError(f"{exc}{_explain(op, 'rbac-1')}") from None
        degraded = condition(tw, "Degraded")
        assert degraded["status"] == "True" and degraded["reason"] == "ApiForbidden", degraded
        assert f"deleting pod {first}" in degraded["message"]
        assert "forbidden" in degraded["message"], degraded          # the apiserver's words
        assert tw["status"]["phase"] == "Degraded"
        posted = wait(lambda: op.warnings("rbac-1", "ApiForbidden"), "its Event", 30)
        assert "forbidden" in posted[0]["message"]
        assert "ApiForbidden" in op.describe("rbac-1")
        time.sleep(3)                     # resync is 1 s here: still one Event, not one a pass
        assert len(op.warnings("rbac-1", "ApiForbidden")) == 1
    finally:
        for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
            whole["metadata"].pop(key, None)
        cluster.apply(whole, namespace=NS)
    wait(lambda: condition(op.tw("rbac-1"), "Reconciled").get("status") == "True",
         "reconciling again once the Role is whole", 60)
    wait(lambda: op.tw("rbac-1")["status"].get("podName") not in (None, first),
         "the pod replaced", 60)
    op.alive()


def test_postgres_down_keeps_the_operator_live_but_not_ready_and_names_the_cause(operator):
    op = operator
    op.cluster.apply(_worker("db-1"), namespace=NS)
    wait(lambda: op.tw("db-1").get("status", {}).get("podName"), "the pod", 60)
    assert op.probe("/healthz") == 200 and op.probe("/readyz") == 200
    op.db.cut()
    cut_at = time.monotonic()
    try:
        wait(lambda: op.probe("/readyz") == 503, "readiness failing", 30)
        unready_in = time.monotonic() - cut_at
        try:
            tw = wait(lambda: (t := op.tw("db-1")) and condition(t, "Degraded")
                      .get("reason") == "DatabaseUnavailable" and t, "DatabaseUnavailable", 60)
        except AssertionError as exc:
            raise AssertionError(f"{exc}{_explain(op, 'db-1')}") from None
        named_in = time.monotonic() - cut_at
        assert condition(tw, "Reconciled")["status"] == "False"
        assert wait(lambda: op.warnings("db-1", "DatabaseUnavailable"), "its Event", 30)
        for _ in range(5):                       # an outage never restarts the operator
            assert op.probe("/healthz") == 200
            op.alive()
            time.sleep(1)
        assert op.probe("/readyz") == 503
    finally:
        op.db.restore()
    wait(lambda: op.probe("/readyz") == 200, "ready again", 60)
    wait(lambda: condition(op.tw("db-1"), "Reconciled").get("status") == "True",
         "reconciling again", 60)
    print(f"\nPostgres cut: /readyz 503 after {unready_in:.1f} s, DatabaseUnavailable in "
          f"status after {named_in:.1f} s; /healthz 200 throughout")
