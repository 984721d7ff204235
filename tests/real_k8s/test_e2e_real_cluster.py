"""README's cluster path on a real control plane (etcd, kube-apiserver with RBAC and
admission, controller-manager, scheduler; tests/real_k8s/cluster.py) with two nodes played by
the test node agent (node_agent.py): run it with

    python3 .ci/control_plane.py && python3 -m pytest tests/real_k8s -v -ra

``helm install`` the chart with the simulator (a pod through the agent); PostgreSQL is the
test's own server, a local process behind a selector-less Service and its Endpoints (no
database image can run here), and Jaeger stays off (no binary). The operator is the chart's
Deployment: a pod whose only credentials are its projected ServiceAccount token, so RBAC
judges each of its calls. Then ``kubectl apply`` examples/tradingworker.yaml (plus two copies
with a short lock TTL) and the LiquidationSchedule example, on one simulated session:

- every worker becomes Ready; ``kubectl get tw`` shows Ready, Phase, Mode, Symbol, PnL Today,
  Heartbeat, Restarts; ``helm upgrade`` with workers present leaves their pods alone;
- the TradingWorker that holds shares first is deleted: it sells before its finalizer goes;
- a worker process killed -9: a new pod, RESTARTS counts it;
- a worker frozen (SIGSTOP) past its TTL: fenced, its pod deleted, a new one started;
- the node of a worker lost (heartbeat stopped, the Node goes NotReady) while its process
  is frozen: replaced on the other node; woken, the zombie exits fenced (3);
- a ResourceQuota refuses the next pod: the TradingWorker's status and an Event say so;
- at close - 15 the schedule orders the fleet flat; after the close the exchange's own books
  hold none of our shares and every execution has its fills row; no symbol was ever held by
  two workers;
- ``helm uninstall`` with the TradingWorkers present leaves them (and their CRD) in place."""

from __future__ import annotations

import json
import os
import re
import signal
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from tests.e2e.kind.readings import simulation_values
from tests.real_k8s.chart import (
    CHART,
    condition,
    events_of,
    helm,
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
from tests.real_k8s.node_agent import NodeAgent, agents
from tests.real_k8s.tcp_forward import TcpToUnix

from tradefleet.adapters.postgres.lock_history import replay_lock_events
from tradefleet.adapters.sim.exchange.books_client import books_from_json
from tradefleet.local_fleet.books_check import OUR_FILLS, judge_books

# Unfinished (issue 18): every step up to node loss has passed on the real control plane, the
# quota step and the end-of-day books check have not yet passed in one run. Run it with
# TRADEFLEET_REAL_E2E=1; by default it is skipped with this reason printed.
UNFINISHED = ("the full real-cluster e2e is unfinished (issue 18: quota step and end-of-day "
              "books not yet passed in one run); run it with TRADEFLEET_REAL_E2E=1")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800),
              pytest.mark.skipif(os.environ.get("TRADEFLEET_REAL_E2E") != "1",
                                 reason=UNFINISHED)]
NS = RELEASE = "tradefleet"
DB_IP, DB_PORT = "10.213.0.2", 5432
SIM_MINUTES = float(os.environ.get("TRADEFLEET_REAL_SIM_MINUTES", "100"))
SIM_SPEED = float(os.environ.get("TRADEFLEET_REAL_SIM_SPEED", "15"))
FAST = {"locks": {"ttlSeconds": 9, "heartbeatIntervalSeconds": 3}, "pollIntervalSeconds": 20,
        "strategy": {"name": "ma_breakout",
                     "params": {"short": 2, "long": 5, "breakout_window": 5}}}


def _examples() -> tuple[list[dict], str]:
    example = yaml.safe_load((ROOT / "examples" / "tradingworker.yaml").read_text())
    copies = []
    for name in ("sim-2", "sim-3"):
        doc = yaml.safe_load(yaml.safe_dump(example))
        doc["metadata"]["name"] = name
        doc["spec"].update(FAST)
        copies.append(doc)
    return copies, example["metadata"]["name"]


def _node_of(cluster: RealCluster, pod: dict) -> str:
    return pod["spec"]["nodeName"]


def _agent(nodes: list[NodeAgent], name: str) -> NodeAgent:
    return next(a for a in nodes if a.name == name)


def _diagnose(cluster: RealCluster, nodes: list[NodeAgent], log_dir: Path) -> None:
    for args in (("get", "nodes,pods,tw", "-A", "-o", "wide"),
                 ("get", "events", "-n", NS, "--sort-by=.lastTimestamp")):
        print(cluster.kubectl(*args, check=False).stdout[-6000:], flush=True)
    for agent in nodes:
        print(f"--- agent {agent.name}: {agent.dump()}\nerrors: {agent.errors[-5:]}")
        for runner in list(agent.runners.values()):
            print(f"--- {runner.name}\n{tail(runner.log, 30)}", flush=True)


def test_the_readme_cluster_path_on_a_real_control_plane(real_cluster, pg_dsn, tmp_path):
    cluster = real_cluster
    started = time.monotonic()
    with agents(cluster, ("node-a",)) as (node_a,):
        node_a.add_address(DB_IP)
        socket, dbname = socket_of(pg_dsn)
        with TcpToUnix(DB_IP, DB_PORT, socket):
            nodes = [node_a]
            try:
                _story(cluster, nodes, pg_dsn, dbname, tmp_path)
            except BaseException:
                _diagnose(cluster, nodes, tmp_path)
                raise
            finally:
                for agent in nodes[1:]:
                    agent.__exit__(None, None, None)
    print(f"real-cluster e2e: {time.monotonic() - started:.0f} s wall", flush=True)


def _story(cluster: RealCluster, nodes: list[NodeAgent], dsn: str, dbname: str,
           tmp_path: Path) -> None:
    namespace(cluster, NS)
    db_service(cluster, NS, "tradefleet-db", DB_IP, DB_PORT)
    secret(cluster, NS, "tradefleet-db",
           {"dsn": f"postgresql://postgres@tradefleet-db:{DB_PORT}/{dbname}"})
    simulation = simulation_values(next_session().close, SIM_MINUTES, SIM_SPEED, time.time())
    sets = {"exchange.enabled": "true", "database.existingSecret": "tradefleet-db",
            "database.sslmode": "disable", "database.allowInsecure": "true",
            "operator.resyncSeconds": "2", **simulation}
    # helm --set reads "15.0" as a string (the schema wants a number): whole numbers as ints
    args = [a for k, v in sets.items() for a in (
        "--set", f"{k}={int(v) if isinstance(v, float) and v.is_integer() else v}")]
    t0 = time.monotonic()
    helm(cluster, "install", RELEASE, str(CHART), "-n", NS, *args, "--wait", "--timeout", "8m",
         timeout=600)
    print(f"helm install --wait: {time.monotonic() - t0:.0f} s", flush=True)
    operator_pod = cluster.get("pods", "-n", NS, "-l",
                               "app.kubernetes.io/component=operator")["items"][0]
    operator_log = nodes[0].runner(operator_pod["metadata"]["name"]).log

    # the workers land on a second node: the infrastructure stays on node-a
    cluster.kubectl("cordon", "node-a")
    node_b = NodeAgent(cluster, "node-b", 2, nodes[0].dir.parent)
    node_b.__enter__()
    nodes.append(node_b)
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
    cluster.kubectl("uncordon", "node-a")

    # helm upgrade with workers present: the operator is replaced, the workers are not
    pods_before = {n: live_pod(cluster, NS, n)["metadata"]["uid"] for n in names}
    epochs = {n: w["epoch"] for n, w in workers(dsn).items()}
    helm(cluster, "upgrade", RELEASE, str(CHART), "-n", NS, "--reuse-values", "--set",
         "operator.resyncSeconds=3", "--wait", "--timeout", "8m", timeout=600)
    time.sleep(5)
    assert {n: (live_pod(cluster, NS, n) or {}).get("metadata", {}).get("uid")
            for n in names} == pods_before
    assert {n: w["epoch"] for n, w in workers(dsn).items() if n in names} == epochs
    # RBAC allowed every call it made. (Right after the CRDs are installed the apiserver's
    # OwnerReferencesPermissionEnforcement may refuse a pod for a while - "cannot find
    # RESTMapping ... TradingWorker" - which the TradingWorker shows as PodRefused and the next
    # pass repairs: a refusal by admission, not by RBAC.)
    refusals = re.findall(r".{0,200}forbidden: User \S*system:serviceaccount:\S* cannot.{0,200}",
                          operator_log.read_text())
    assert refusals == [], refusals[:3]

    _deleted_while_holding(cluster, dsn, names)      # names: the two left
    _killed_and_frozen(cluster, nodes, dsn, names)
    _node_lost(cluster, nodes, dsn, names)
    _quota_refuses(cluster, nodes, dsn, names[0])   # the one moved off the lost node
    _end_of_day(cluster, dsn)
    _uninstall(cluster, names)


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


def _restarts(cluster: RealCluster, name: str) -> int:
    return int(tw_table(cluster, NS)[name]["RESTARTS"])


def _replaced(cluster: RealCluster, dsn: str, name: str, old_uid: str, epoch: int) -> bool:
    pod = live_pod(cluster, NS, name)
    row = workers(dsn).get(name, {})
    return pod is not None and pod["metadata"]["uid"] != old_uid \
        and row.get("epoch", 0) > epoch and row.get("status") in ("SCAN", "HOLD")


def _killed_and_frozen(cluster: RealCluster, nodes: list[NodeAgent], dsn: str,
                       names: list[str]) -> None:
    killed, frozen = names[0], names[-1]
    for name, sig in ((killed, signal.SIGKILL), (frozen, signal.SIGSTOP)):
        pod = live_pod(cluster, NS, name)
        assert pod is not None, name
        agent = _agent(nodes, pod["spec"]["nodeName"])
        runner = agent.runner(pod["metadata"]["name"])
        epoch = workers(dsn)[name]["epoch"]
        os.kill(runner.pid(), sig)
        wait(lambda n=name, u=pod["metadata"]["uid"], e=epoch: _replaced(cluster, dsn, n, u, e),
             f"{name} replaced after {sig.name}", 180, every=1)
        if sig == signal.SIGKILL:
            assert runner.exits == [137], runner.summary()
            assert _restarts(cluster, name) >= 1
        else:                 # the frozen one's pod was deleted: the agent killed it
            wait(lambda r=runner: r.process is None or r.process.returncode is not None,
                 "the frozen process killed with its force-deleted pod", 30)
    failed = sql(dsn, "SELECT worker_id FROM events WHERE event_type = 'WorkerFailedEvent'")
    assert {r["worker_id"] for r in failed} >= {killed, frozen}


def _node_ready(cluster: RealCluster, node: str) -> str:
    found = cluster.get("node", node)
    return condition(found, "Ready").get("status", "")


def _node_lost(cluster: RealCluster, nodes: list[NodeAgent], dsn: str,
               names: list[str]) -> None:
    victim = names[0]
    pod = live_pod(cluster, NS, victim)
    assert pod is not None
    lost = _agent(nodes, pod["spec"]["nodeName"])
    others = [a.name for a in nodes if a is not lost]
    runner = lost.runner(pod["metadata"]["name"])
    epoch = workers(dsn)[victim]["epoch"]
    lost.lose()
    wait(lambda: _node_ready(cluster, lost.name) == "Unknown", f"{lost.name} NotReady", 90)
    os.kill(runner.pid(), signal.SIGSTOP)       # what the partition hides: it still runs
    wait(lambda: _replaced(cluster, dsn, victim, pod["metadata"]["uid"], epoch),
         f"{victim} replaced off the lost node", 180, every=1)
    assert live_pod(cluster, NS, victim)["spec"]["nodeName"] in others
    os.kill(runner.pid(), signal.SIGCONT)       # the zombie wakes up: fenced
    wait(lambda: runner.process is not None and runner.process.returncode is not None,
         "the zombie's exit", 90)
    assert runner.process.returncode == 3, tail(runner.log)


def _quota_refuses(cluster: RealCluster, nodes: list[NodeAgent], dsn: str, name: str) -> None:
    pods = cluster.get("pods", "-n", NS)["items"]
    count = len([p for p in pods if (p.get("status") or {}).get("phase") in
                 ("Pending", "Running")])
    cluster.apply({"apiVersion": "v1", "kind": "ResourceQuota",
                   # the killed pod ends Failed and stops counting: no room for its successor
                   "metadata": {"name": "no-more-pods"},
                   "spec": {"hard": {"pods": str(count - 1)}}},
                  namespace=NS)
    wait(lambda: (cluster.get("resourcequota", "no-more-pods", "-n", NS).get("status") or {})
         .get("used"), "the quota counted", 60)
    pod = live_pod(cluster, NS, name)
    assert pod is not None
    agent = _agent(nodes, pod["spec"]["nodeName"])
    os.kill(agent.pid(pod["metadata"]["name"]), signal.SIGKILL)

    def refused() -> dict | None:
        tw = cluster.get("tw", name, "-n", NS)
        return tw if condition(tw, "Degraded").get("reason") == "PodRefused" else None

    tw = wait(refused, f"{name}'s status naming the refusal", 120, every=1)
    assert "exceeded quota: no-more-pods" in condition(tw, "Degraded")["message"], tw
    assert [e for e in events_of(cluster, NS, name) if e["reason"] == "PodRefused"
            and "exceeded quota" in e["message"]]
    assert tw_table(cluster, NS)[name]["PHASE"] == "Degraded"
    cluster.kubectl("-n", NS, "delete", "resourcequota", "no-more-pods")
    wait(lambda: live_pod(cluster, NS, name), f"{name} running again", 120, every=1)


def _end_of_day(cluster: RealCluster, dsn: str) -> None:
    def checked() -> dict | None:
        status = cluster.get("lqs", "krx-close").get("status") or {}
        return status if status.get("lastResult") in ("Flat", "NotFlat") else None

    schedule = wait(checked, "the check after the close", 900, every=3)
    assert schedule["lastResult"] == "Flat", schedule
    flat = sql(dsn, """SELECT (SELECT count(*) FROM positions WHERE status = 'OPEN') AS open,
                              (SELECT count(*) FROM stock_locks) AS locks""")[0]
    assert flat == {"open": 0, "locks": 0}, flat
    exchange = endpoint_ip(cluster, NS, "tradefleet-exchange")
    with urllib.request.urlopen(f"http://{exchange}:8900/_admin/books",  # noqa: S310
                                timeout=10) as resp:
        books = books_from_json(json.loads(resp.read()))
    verdict = judge_books(books, sql(dsn, OUR_FILLS))
    assert verdict.executions > 0, "nothing traded"
    assert verdict.holdings == {}, verdict
    assert verdict.clean, verdict
    events = sql(dsn, "SELECT event_id, event_type, worker_id, symbol, payload FROM events "
                      "WHERE event_type IN ('LockAcquiredEvent', 'LockReleasedEvent') "
                      "ORDER BY event_id")
    problems, acquisitions = replay_lock_events(events)
    assert problems == [] and acquisitions >= 1
    print(f"end of day: flat, {verdict.executions} executions, each with its fills",
          flush=True)


def _uninstall(cluster: RealCluster, names: list[str]) -> None:
    helm(cluster, "uninstall", RELEASE, "-n", NS, "--wait", "--timeout", "3m")
    left = cluster.get("tw", "-n", NS)["items"]
    assert sorted(t["metadata"]["name"] for t in left) == sorted(names), \
        "uninstall took TradingWorkers with it"
    for name in names:             # no operator any more: the user lets them go by hand
        cluster.kubectl("-n", NS, "patch", "tw", name, "--type=merge", "-p",
                        '{"metadata":{"finalizers":null}}')
    cluster.kubectl("-n", NS, "delete", "tw", "--all", "--wait=true", timeout=120)
