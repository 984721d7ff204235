"""README's cluster path on a real control plane (etcd, kube-apiserver with RBAC and
admission, controller-manager, scheduler; tests/real_k8s/cluster.py) with three nodes played by
the test node agent (node_agent.py): run it with

    python3 .ci/control_plane.py && python3 -m pytest tests/real_k8s/test_e2e_real_cluster.py -v

``helm install`` the chart with the simulator (a pod through the agent); PostgreSQL is the
test's own server, a local process behind a selector-less Service and its Endpoints (no
database image can run here), and Jaeger stays off (no binary). The operator is the chart's
Deployment at its default two replicas (kopf peering: one leads, one stands by): pods whose
only credentials are their projected ServiceAccount token, so RBAC judges each of their calls.
node-a carries the release (``operator.nodeSelector``; the simulator is installed before any
other node exists) and is never lost; the worker pods keep off it through the chart's own
``operator.workerPods.affinity`` and run on node-b and node-c. Then ``kubectl apply``
examples/tradingworker.yaml (plus two copies with a short lock TTL) and the
LiquidationSchedule example, on one simulated session started late (close - 120 min, 15x):

- every worker becomes Ready; ``kubectl get tw`` shows Ready, Phase, Mode, Symbol, PnL Today,
  Heartbeat, Restarts;
- ``helm uninstall`` with workers present is refused by the chart's pre-delete guard Job,
  whose pod names them in its termination message; nothing is removed; helm 4 leaves the
  release "uninstalling", and ``helm rollback`` to its revision marks it deployed again;
- ``helm upgrade`` with workers present replaces the operator and leaves their pods alone;
- the TradingWorker that holds shares first is deleted: it sells before its finalizer goes;
- a worker process killed -9: a new pod, RESTARTS counts it;
- a worker frozen (SIGSTOP) past its TTL: fenced, its pod deleted, a new one started;
- a ResourceQuota refuses the next pod: the TradingWorker's status and an Event say so;
- the node of a worker lost (heartbeat stopped, the Node goes NotReady) while the worker
  processes on it are frozen: each replaced on the other node; woken, each zombie exits
  fenced (3);
- at close - 15 the schedule orders the fleet flat; after the close the exchange's own books
  hold none of our shares and every execution has exactly its fills; no symbol was ever held
  by two workers (the lock events replayed);
- the TradingWorkers deleted (each finalized by the operator), ``helm uninstall`` succeeds:
  the guard lets it go, nothing of the release is left but the CRDs."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from tests.e2e.kind.readings import simulation_values
from tests.real_k8s.chart import (
    CHART,
    events_of,
    helm,
    helm_run,
    namespace,
    secret,
    tail,
    wait,
)
from tests.real_k8s.cluster import ROOT, RealCluster
from tests.real_k8s.fleet_rig import (
    db_service,
    endpoint_ip,
    live_pod,
    next_session,
    socket_of,
    sql,
    tw_table,
    workers,
)
from tests.real_k8s.node_agent import NodeAgent, agents, subnet
from tests.real_k8s.tcp_forward import TcpToUnix
from tests.real_k8s.worker_faults import NS, killed_and_frozen, node_lost, quota_refuses

from tradefleet.adapters.postgres.lock_history import replay_lock_events
from tradefleet.adapters.sim.exchange.books_client import books_from_json
from tradefleet.local_fleet.books_check import OUR_FILLS, judge_books

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
RELEASE = NS
INFRA_NODE, WORKER_NODES = "node-a", ("node-b", "node-c")
DB_PORT = 5432
# the session starts late: every fault is over before the liquidation at close - 15
# the faults took 190 s on 2 shared cores at load average 5, 290-335 s at 12-16; the
# liquidation comes (120 - 15) * 60 / 15 = 420 s after the install starts
SIM_MINUTES = float(os.environ.get("TRADEFLEET_REAL_SIM_MINUTES", "120"))
SIM_SPEED = float(os.environ.get("TRADEFLEET_REAL_SIM_SPEED", "15"))
FAST = {"locks": {"ttlSeconds": 9, "heartbeatIntervalSeconds": 3}, "pollIntervalSeconds": 20,
        "strategy": {"name": "ma_breakout",
                     "params": {"short": 2, "long": 5, "breakout_window": 5}}}
OPERATOR = "app.kubernetes.io/component=operator"
GUARD = "app.kubernetes.io/component=uninstall-guard"


def _examples() -> tuple[list[dict], str]:
    example = yaml.safe_load((ROOT / "examples" / "tradingworker.yaml").read_text())
    copies = []
    for name in ("sim-2", "sim-3"):
        doc = yaml.safe_load(yaml.safe_dump(example))
        doc["metadata"]["name"] = name
        doc["spec"].update(FAST)
        copies.append(doc)
    return copies, example["metadata"]["name"]


def _values(real_start: float) -> dict:
    """README's bundled values with the simulator, our database, and the placement above."""
    flat = simulation_values(next_session().close, SIM_MINUTES, SIM_SPEED, real_start)
    simulation = {k.split(".", 1)[1]: v for k, v in flat.items()}
    off_infra = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{
            "key": "kubernetes.io/hostname", "operator": "NotIn", "values": [INFRA_NODE]}]}]}}}
    return {"exchange": {"enabled": True}, "simulation": simulation,
            "database": {"existingSecret": "tradefleet-db", "sslmode": "disable",
                         "allowInsecure": True},
            "operator": {"resyncSeconds": 2,
                         "nodeSelector": {"kubernetes.io/hostname": INFRA_NODE},
                         "workerPods": {"affinity": off_infra}}}


def _diagnose(cluster: RealCluster, nodes: list[NodeAgent], log_dir: Path) -> None:
    for args in (("get", "nodes,pods,tw,jobs", "-A", "-o", "wide"),
                 ("get", "events", "-n", NS, "--sort-by=.lastTimestamp")):
        print(cluster.kubectl(*args, check=False).stdout[-6000:], flush=True)
    for agent in nodes:
        print(f"--- agent {agent.name}: {agent.dump()}\nerrors: {agent.errors[-5:]}")
        for runner in list(agent.runners.values()):
            print(f"--- {runner.name}\n{tail(runner.log, 30)[-6000:]}", flush=True)


def _step(what: str, since: float) -> float:
    now = time.monotonic()
    print(f"[{now - since:6.0f} s] {what}", flush=True)
    return now


def test_the_readme_cluster_path_on_a_real_control_plane(real_cluster, pg_dsn, tmp_path):
    cluster = real_cluster
    started = time.monotonic()
    db_ip = f"{subnet()}.0.2"
    with agents(cluster, (INFRA_NODE,)) as (node_a,):
        node_a.add_address(db_ip)
        socket, dbname = socket_of(pg_dsn)
        with TcpToUnix(db_ip, DB_PORT, socket):
            nodes = [node_a]
            try:
                _story(cluster, nodes, pg_dsn, dbname, db_ip, tmp_path, started)
            except BaseException:
                _diagnose(cluster, nodes, tmp_path)
                raise
            finally:
                for agent in nodes[1:]:
                    agent.__exit__(None, None, None)
    print(f"real-cluster e2e: {time.monotonic() - started:.0f} s wall", flush=True)


def _story(cluster: RealCluster, nodes: list[NodeAgent], dsn: str, dbname: str, db_ip: str,
           tmp_path: Path, started: float) -> None:
    namespace(cluster, NS)
    db_service(cluster, NS, "tradefleet-db", db_ip, DB_PORT)
    secret(cluster, NS, "tradefleet-db",
           {"dsn": f"postgresql://postgres@tradefleet-db:{DB_PORT}/{dbname}"})
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(_values(time.time())))
    t0 = time.monotonic()
    helm(cluster, "install", RELEASE, str(CHART), "-n", NS, "-f", str(values),
         "--wait", "--timeout", "8m", timeout=600)
    _step(f"helm install --wait: {time.monotonic() - t0:.0f} s", started)
    operators = cluster.get("pods", "-n", NS, "-l", OPERATOR)["items"]
    assert len(operators) == 2, "the chart's default: two replicas (kopf peering)"
    assert {p["spec"]["nodeName"] for p in operators} == {INFRA_NODE}
    assert cluster.get("clusterkopfpeerings")["items"], "the release's peering object"

    for index, name in enumerate(WORKER_NODES, start=2):
        agent = NodeAgent(cluster, name, index, nodes[0].dir.parent)
        agent.__enter__()
        nodes.append(agent)
    copies, first = _examples()
    cluster.kubectl("-n", NS, "apply", "-f", str(ROOT / "examples" / "tradingworker.yaml"))
    cluster.apply({"apiVersion": "v1", "kind": "List", "items": copies}, namespace=NS)
    cluster.kubectl("apply", "-f", str(ROOT / "examples" / "liquidationschedule.yaml"))
    names = [first, *(c["metadata"]["name"] for c in copies)]
    for name in names:
        cluster.kubectl("-n", NS, "wait", f"tw/{name}", "--for=condition=Ready",
                        "--timeout=180s", timeout=200)
    table = tw_table(cluster, NS)
    for name in names:
        row = table[name]
        assert row["READY"] == "True" and row["MODE"] == "sim", table
        assert row["PHASE"] in ("Scanning", "Holding") and row["RESTARTS"] == "0", table
        assert {"SYMBOL", "PNL TODAY", "HEARTBEAT"} <= set(row), table
        assert live_pod(cluster, NS, name)["spec"]["nodeName"] in WORKER_NODES
    started = _step("every worker Ready", started)

    _uninstall_refused(cluster, dsn, names)
    # helm 4 marked the release "uninstalling" before the guard ran, and upgrades no release
    # in that state ("has no deployed releases"): a rollback to the revision it is at marks
    # it deployed again, re-applying the same manifests (nothing restarts)
    revision = re.search(r"REVISION: (\d+)", helm(cluster, "status", RELEASE, "-n", NS))
    assert revision is not None
    operators = {p["metadata"]["uid"] for p in cluster.get("pods", "-n", NS, "-l", OPERATOR)
                 ["items"]}
    helm(cluster, "rollback", RELEASE, revision.group(1), "-n", NS, "--wait", "--timeout", "4m",
         timeout=300)
    assert "STATUS: deployed" in helm(cluster, "status", RELEASE, "-n", NS)
    assert {p["metadata"]["uid"] for p in cluster.get("pods", "-n", NS, "-l", OPERATOR)
            ["items"]} == operators
    started = _step("helm uninstall refused; helm rollback", started)

    # helm upgrade with workers present (and after the refused uninstall): the operator is
    # replaced, the workers are not, and the release is deployed again
    pods_before = {n: live_pod(cluster, NS, n)["metadata"]["uid"] for n in names}
    epochs = {n: w["epoch"] for n, w in workers(dsn).items()}
    helm(cluster, "upgrade", RELEASE, str(CHART), "-n", NS, "--reuse-values", "--set",
         "operator.resyncSeconds=3", "--wait", "--timeout", "8m", timeout=600)
    assert "STATUS: deployed" in helm(cluster, "status", RELEASE, "-n", NS)
    time.sleep(5)
    assert {n: (live_pod(cluster, NS, n) or {}).get("metadata", {}).get("uid")
            for n in names} == pods_before
    assert {n: w["epoch"] for n, w in workers(dsn).items() if n in names} == epochs
    started = _step("helm upgrade with workers present", started)
    _deleted_while_holding(cluster, dsn, names)      # names: the two left
    started = _step("deleted while holding: sold, then finalized", started)
    killed_and_frozen(cluster, nodes, dsn, names)
    started = _step("killed, frozen past the TTL", started)
    quota_refuses(cluster, nodes, dsn, names[0])
    started = _step("a pod refused by a ResourceQuota", started)
    node_lost(cluster, nodes, dsn, names)
    started = _step("node lost", started)
    ran = (cluster.get("lqs", "krx-close").get("status") or {}).get("lastRun")
    assert ran is None, (f"the liquidation ran ({ran}) before the faults were over: too slow "
                         "a machine for this session; raise TRADEFLEET_REAL_SIM_MINUTES")
    _no_rbac_refusal(nodes[0])
    _end_of_day(cluster, dsn)
    started = _step("end of day judged by the exchange's books", started)
    _uninstall(cluster, names)
    _step("TradingWorkers finalized, helm uninstall", started)


def _no_rbac_refusal(infra: NodeAgent) -> None:
    """RBAC allowed every call of every operator pod (both replicas, before and after the
    upgrade). (Right after the CRDs are installed the apiserver's
    OwnerReferencesPermissionEnforcement may refuse a pod for a while - "cannot find
    RESTMapping ... TradingWorker" - which the TradingWorker shows as PodRefused and the next
    pass repairs: a refusal by admission, not by RBAC.)"""
    logs = sorted((infra.dir / "pods").glob(f"{NS}_{RELEASE}-operator-*/container.log"))
    assert len(logs) >= 4, logs              # two replicas, replaced once by the upgrade
    for log in logs:
        refusals = re.findall(
            r".{0,200}forbidden: User \S*system:serviceaccount:\S* cannot.{0,200}",
            log.read_text(errors="replace"))
        assert refusals == [], (log, refusals[:3])


def _uninstall_refused(cluster: RealCluster, dsn: str, names: list[str]) -> None:
    """The chart's pre-delete guard refuses: helm fails, the guard's pod names every
    TradingWorker, and the release, its operator and every worker are as they were."""
    pods_before = {n: live_pod(cluster, NS, n)["metadata"]["uid"] for n in names}
    epochs = {n: w["epoch"] for n, w in workers(dsn).items() if n in names}
    done = helm_run(cluster, "uninstall", RELEASE, "-n", NS, "--wait", "--timeout", "4m",
                    timeout=300)
    assert done.returncode != 0, done.stdout
    # helm names the hook Job that failed; the pod says why
    assert f"Job/{NS}/{RELEASE}-operator-uninstall-guard" in done.stderr, done.stderr
    assert "Failed" in done.stderr, done.stderr
    (guard,) = cluster.get("pods", "-n", NS, "-l", GUARD)["items"]
    (status,) = guard["status"]["containerStatuses"]
    message = status["state"]["terminated"]["message"]
    assert status["state"]["terminated"]["exitCode"] == 1, status
    assert f"refusing to uninstall: {len(names)} TradingWorker(s) still exist" in message
    assert "helm rollback" in message                 # the way back to upgrades
    for name in names:
        assert f"{NS}/{name}" in message, message
    described = cluster.kubectl("-n", NS, "describe", "pod", guard["metadata"]["name"]).stdout
    assert "refusing to uninstall" in described
    # nothing stranded: the release and every resource of it, both operator replicas, every
    # worker and its pod. (helm 4 records the attempt before the pre-delete hooks run: the
    # release reads "uninstalling" until the next upgrade, or the uninstall that goes through.)
    status = helm(cluster, "status", RELEASE, "-n", NS)
    assert "STATUS: uninstalling" in status, status[:300]
    for kind, name in (("deployment", f"{RELEASE}-operator"), ("deployment",
                       f"{RELEASE}-exchange"), ("configmap", f"{RELEASE}-operator"),
                       ("serviceaccount", f"{RELEASE}-operator"), ("role", f"{RELEASE}-operator"),
                       ("clusterrole", f"{RELEASE}-operator-{NS}")):
        cluster.get(kind, name, "-n", NS)
    operators = cluster.get("pods", "-n", NS, "-l", OPERATOR)["items"]
    assert len([p for p in operators if not p["metadata"].get("deletionTimestamp")]) == 2
    assert cluster.get("deployment", f"{RELEASE}-operator", "-n", NS)["status"].get(
        "readyReplicas") == 2
    assert {n: (live_pod(cluster, NS, n) or {}).get("metadata", {}).get("uid")
            for n in names} == pods_before
    assert {n: w["epoch"] for n, w in workers(dsn).items() if n in names} == epochs
    table = tw_table(cluster, NS)
    assert all(table[n]["READY"] == "True" for n in names), table


def _holding(dsn: str, names: list[str]) -> str | None:
    for name, row in workers(dsn).items():
        if name in names and row["status"] == "HOLD":
            return name
    return None


def _deleted_while_holding(cluster: RealCluster, dsn: str, names: list[str]) -> None:
    holder = wait(lambda: _holding(dsn, names), "a worker holding shares", 240, every=1)
    symbol = workers(dsn)[holder]["current_symbol"]
    print(f"{holder} holds {symbol}: deleting its TradingWorker", flush=True)
    cluster.kubectl("-n", NS, "delete", "tw", holder, "--wait=false")
    wait(lambda: cluster.kubectl("-n", NS, "get", "tw", holder, check=False).returncode != 0,
         f"{holder} sold and finalized", 180, every=1)
    row = workers(dsn)[holder]
    assert row["status"] == "EXIT" and row["current_symbol"] is None, row
    assert not sql(dsn, "SELECT 1 FROM positions WHERE worker_id = $1 AND status = 'OPEN'",
                   holder)
    names.remove(holder)


def _end_of_day(cluster: RealCluster, dsn: str) -> None:
    def checked() -> dict | None:
        status = cluster.get("lqs", "krx-close").get("status") or {}
        return status if status.get("lastResult") in ("Flat", "NotFlat") else None

    schedule = wait(checked, "the check after the close", 900, every=3)
    assert schedule["lastResult"] == "Flat", schedule
    flat = sql(dsn, """SELECT (SELECT count(*) FROM positions WHERE status = 'OPEN') AS open,
                              (SELECT count(*) FROM stock_locks) AS locks""")[0]
    assert flat == {"open": 0, "locks": 0}, flat
    # the schedule's Events, in the operator's own namespace (a cluster-scoped object's
    # Events went to `default`, where the operator may not post: login.py)
    reasons = {e["reason"] for e in events_of(cluster, NS, "krx-close")}
    assert {"LiquidationOrdered", "Flat"} <= reasons, reasons
    exchange = endpoint_ip(cluster, NS, f"{RELEASE}-exchange")
    with urllib.request.urlopen(f"http://{exchange}:8900/_admin/books",  # noqa: S310
                                timeout=10) as resp:
        books = books_from_json(json.loads(resp.read()))
    ours = sql(dsn, OUR_FILLS)
    verdict = judge_books(books, ours)
    assert verdict.executions > 0, f"nothing traded at {exchange}; our orders: {ours}"
    assert verdict.holdings == {}, verdict
    assert verdict.clean, verdict
    events = [{**r, "payload": json.loads(r["payload"]) if isinstance(r["payload"], str)
               else r["payload"]}
              for r in sql(dsn, "SELECT event_id, event_type, worker_id, symbol, payload "
                                "FROM events WHERE event_type IN ('LockAcquiredEvent', "
                                "'LockReleasedEvent') ORDER BY event_id")]
    problems, acquisitions = replay_lock_events(events)
    assert problems == [] and acquisitions >= 1, problems
    print(f"end of day: flat, {verdict.executions} executions, each with its fills; "
          f"{acquisitions} lock acquisitions, none doubled", flush=True)


def _uninstall(cluster: RealCluster, names: list[str]) -> None:
    """What the guard asks for: delete the TradingWorkers, each let go by the operator's
    finalizer once flat; then ``helm uninstall`` goes through its guard."""
    cluster.kubectl("-n", NS, "delete", "tw", *names, "--wait=false")
    for name in names:
        wait(lambda n=name: cluster.kubectl("-n", NS, "get", "tw", n,
                                            check=False).returncode != 0,
             f"{name} finalized by the operator", 180, every=1)
        assert [e for e in events_of(cluster, NS, name) if e["reason"] == "Liquidated"], \
            f"{name} let go without its liquidation"
    helm(cluster, "uninstall", RELEASE, "-n", NS, "--wait", "--timeout", "4m", timeout=300)
    assert helm(cluster, "list", "-n", NS, "-q").strip() == ""
    left = cluster.get("deployments,replicasets,jobs,services,configmaps,serviceaccounts",
                       "-n", NS, "-l", f"app.kubernetes.io/instance={RELEASE}")["items"]
    assert left == [], [f"{o['kind']}/{o['metadata']['name']}" for o in left]
    wait(lambda: not cluster.get("pods", "-n", NS, "-l", OPERATOR)["items"],
         "the operator pods gone", 60)
    assert cluster.get("crd", "tradingworkers.tradefleet.io")["metadata"]["name"], \
        "helm keeps CRDs"
