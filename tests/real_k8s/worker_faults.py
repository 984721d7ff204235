"""The worker faults of the real-cluster e2e story (test_e2e_real_cluster.py), each a step
that injects its fault through the node agents and waits for what a user would see: a pod
killed or frozen and replaced, a quota refusing the next pod, a node lost with its workers."""

from __future__ import annotations

import os
import signal

from tests.real_k8s.chart import condition, events_of, tail, wait
from tests.real_k8s.cluster import RealCluster
from tests.real_k8s.fleet_rig import live_pod, sql, tw_table, worker_pods, workers
from tests.real_k8s.node_agent import NodeAgent

NS = "tradefleet"     # the release's namespace, as the e2e story installs it


def _agent(nodes: list[NodeAgent], name: str) -> NodeAgent:
    return next(a for a in nodes if a.name == name)


def _restarts(cluster: RealCluster, name: str) -> int:
    return int(tw_table(cluster, NS)[name]["RESTARTS"])


def _replaced(cluster: RealCluster, dsn: str, name: str, old_uid: str, epoch: int) -> bool:
    pod = live_pod(cluster, NS, name)
    row = workers(dsn).get(name, {})
    return pod is not None and pod["metadata"]["uid"] != old_uid \
        and row.get("epoch", 0) > epoch and row.get("status") in ("SCAN", "HOLD")


def killed_and_frozen(cluster: RealCluster, nodes: list[NodeAgent], dsn: str,
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


def node_lost(cluster: RealCluster, nodes: list[NodeAgent], dsn: str,
               names: list[str]) -> None:
    """The node of ``names[0]`` is lost with every worker on it (one or both: the scheduler
    chose). What the partition hides is that their processes run on: each is frozen, so its
    heartbeat lapses; each is replaced on the other node; woken, each zombie exits fenced."""
    pod = live_pod(cluster, NS, names[0])
    assert pod is not None
    lost = _agent(nodes, pod["spec"]["nodeName"])
    others = [a.name for a in nodes if a is not lost]
    victims = {}
    for name in names:
        found = live_pod(cluster, NS, name)
        if found is not None and found["spec"]["nodeName"] == lost.name:
            victims[name] = (found, lost.runner(found["metadata"]["name"]),
                             workers(dsn)[name]["epoch"])
    lost.lose()
    wait(lambda: _node_ready(cluster, lost.name) == "Unknown", f"{lost.name} NotReady", 90)
    for _, runner, _ in victims.values():
        os.kill(runner.pid(), signal.SIGSTOP)       # it still runs, unseen: frozen here
    for name, (found, _, epoch) in victims.items():
        wait(lambda n=name, u=found["metadata"]["uid"], e=epoch:
             _replaced(cluster, dsn, n, u, e), f"{name} replaced off the lost node", 180,
             every=1)
        assert live_pod(cluster, NS, name)["spec"]["nodeName"] in others
    for name, (_, runner, _) in victims.items():
        os.kill(runner.pid(), signal.SIGCONT)       # the zombie wakes up: fenced
        wait(lambda r=runner: r.process is not None and r.process.returncode is not None,
             f"{name}'s zombie to exit", 90)
        assert runner.process.returncode == 3, tail(runner.log)
    moved = {n: live_pod(cluster, NS, n)["spec"]["nodeName"] for n in victims}
    print(f"{lost.name} lost with {sorted(victims)}: replaced on {moved}", flush=True)


def _steady(cluster: RealCluster, names: list[str]) -> int | None:
    """The count of the namespace's pods that a quota counts (not Succeeded or Failed, like
    the refused uninstall's guard pod) once each is Running and Ready and none ends."""
    pods = [p for p in cluster.get("pods", "-n", NS)["items"]
            if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    for pod in pods:
        status = pod.get("status") or {}
        ready = condition(pod, "Ready").get("status") == "True"
        if pod["metadata"].get("deletionTimestamp") or status.get("phase") != "Running" \
                or not ready:
            return None
    if any(len(worker_pods(cluster, NS, n)) != 1 for n in names):
        return None
    return len(pods)


def quota_refuses(cluster: RealCluster, nodes: list[NodeAgent], dsn: str, name: str) -> None:
    """A quota one pod short of what runs: nothing running is touched (admission judges only
    creations); the killed worker's pod ends Failed and stops counting, and its successor is
    still one too many."""
    count = wait(lambda: _steady(cluster, [name]), "every pod Running and Ready", 120)
    cluster.apply({"apiVersion": "v1", "kind": "ResourceQuota",
                   "metadata": {"name": "no-more-pods"},
                   "spec": {"hard": {"pods": str(count - 1)}}},
                  namespace=NS)
    wait(lambda: (cluster.get("resourcequota", "no-more-pods", "-n", NS).get("status") or {})
         .get("used", {}).get("pods") == str(count), "the quota counting every pod", 60)
    pod = live_pod(cluster, NS, name)
    assert pod is not None
    agent = _agent(nodes, pod["spec"]["nodeName"])
    os.kill(agent.pid(pod["metadata"]["name"]), signal.SIGKILL)

    def refused() -> dict | None:
        tw = cluster.get("tw", name, "-n", NS)
        return tw if condition(tw, "Degraded").get("reason") == "PodRefused" else None

    tw = wait(refused, f"{name}'s status naming the refusal", 120, every=1)
    assert "exceeded quota: no-more-pods" in condition(tw, "Degraded")["message"], tw
    assert condition(tw, "Ready").get("status") == "False", tw
    assert [e for e in events_of(cluster, NS, name) if e["reason"] == "PodRefused"
            and e["type"] == "Warning" and "exceeded quota" in e["message"]]
    row = tw_table(cluster, NS)[name]
    assert (row["READY"], row["PHASE"]) == ("False", "Degraded"), row
    described = cluster.kubectl("-n", NS, "describe", "tw", name).stdout
    assert "PodRefused" in described and "exceeded quota: no-more-pods" in described
    cluster.kubectl("-n", NS, "delete", "resourcequota", "no-more-pods")
    wait(lambda: live_pod(cluster, NS, name), f"{name} running again", 120, every=1)
    wait(lambda: not condition(cluster.get("tw", name, "-n", NS), "Degraded")
         .get("reason", "").startswith("PodRefused"), "the refusal cleared from status", 60)
