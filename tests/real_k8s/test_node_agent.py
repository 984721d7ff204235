"""The test node agent against the real control plane: a pod the scheduler binds to it runs
with its env (value, valueFrom Secret/ConfigMap/field), envFrom, Secret and ConfigMap volumes
and its projected ServiceAccount token at their mountPaths (a mount namespace of its own); the
readiness probe makes it Ready; restartPolicy decides what an exit does (Never: Failed with
the exit code and, under FallbackToLogsOnError, its last output as the message; OnFailure:
restarted, restartCount and lastState say so); deletion is SIGTERM, then SIGKILL after the
grace; and a node whose heartbeat stops goes NotReady."""

from __future__ import annotations

import json
import sys
import time

import pytest
from tests.real_k8s.chart import condition, namespace, wait
from tests.real_k8s.cluster import RealCluster
from tests.real_k8s.node_agent import NodeAgent, agents, subnet

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
NS = "agent-check"
SCRIPT = r"""
import http.server, json, os, pathlib, signal, sys
def read(p):
    f = pathlib.Path(p)
    return f.read_text() if f.exists() else None
print(json.dumps({
    "env": {k: os.environ.get(k) for k in ("PLAIN", "EXPANDED", "FROM_SECRET", "FROM_CM",
                                           "CFG_color", "POD_NAME", "POD_IP")},
    "files": {p: read(p) for p in ("/etc/app/color", "/etc/creds/password",
                                   "/var/run/secrets/kubernetes.io/serviceaccount/namespace")},
    "token": bool(read("/var/run/secrets/kubernetes.io/serviceaccount/token")),
    "args": sys.argv[1:]}), flush=True)
mode = os.environ.get("MODE")
if mode == "fail":
    sys.exit(7)
if mode == "stubborn":
    signal.signal(signal.SIGTERM, lambda *_: print("TERM ignored", flush=True))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.HTTPServer(("0.0.0.0", 8080), H).serve_forever()
"""


def _pod(name: str, mode: str, policy: str = "Never", grace: int = 5) -> dict:
    probe = {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "restartPolicy": policy, "terminationGracePeriodSeconds": grace,
        "containers": [{
            "name": "main", "image": "test:1", "command": [sys.executable, "-c", SCRIPT],
            "args": ["$(PLAIN)-arg"],
            "ports": [{"name": "http", "containerPort": 8080}],
            "readinessProbe": probe, "livenessProbe": probe,
            "env": [{"name": "MODE", "value": mode}, {"name": "PLAIN", "value": "plain"},
                    {"name": "EXPANDED", "value": "x-$(PLAIN)"},
                    {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {
                        "name": "creds", "key": "password"}}},
                    {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {
                        "name": "app", "key": "color"}}},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {
                        "fieldPath": "metadata.name"}}},
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {
                        "fieldPath": "status.podIP"}}}],
            "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "app"}}],
            "volumeMounts": [{"name": "app", "mountPath": "/etc/app"},
                             {"name": "creds", "mountPath": "/etc/creds", "readOnly": True}]}],
        "volumes": [{"name": "app", "configMap": {"name": "app"}},
                    {"name": "creds", "secret": {"secretName": "creds",
                                                 "defaultMode": 0o400}}]}}


def _first_line(agent: NodeAgent, pod: str) -> dict:
    text = agent.runner(pod).log.read_text()
    return json.loads(text.splitlines()[0])


def test_the_agent_runs_pods_as_a_kubelet_would(real_cluster: RealCluster) -> None:
    cluster = real_cluster
    namespace(cluster, NS, restricted=False)
    cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"},
                   "data": {"color": "blue"}}, namespace=NS)
    cluster.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
                   "stringData": {"password": "s3cret"}}, namespace=NS)
    with agents(cluster, ("agent-node",)) as (agent,):
        cluster.apply(_pod("serve", "serve"), namespace=NS)
        pod = wait(lambda: (lambda p: p if condition(p, "Ready").get("status") == "True"
                            else None)(cluster.get("pod", "serve", "-n", NS)),
                   "pod serve Ready", 60)
        assert pod["spec"]["nodeName"] == "agent-node"
        assert pod["status"]["podIP"].startswith(f"{subnet()}.")
        seen = _first_line(agent, "serve")
        assert seen["env"] == {"PLAIN": "plain", "EXPANDED": "x-plain", "FROM_SECRET": "s3cret",
                               "FROM_CM": "blue", "CFG_color": "blue", "POD_NAME": "serve",
                               "POD_IP": pod["status"]["podIP"]}
        assert seen["files"] == {"/etc/app/color": "blue", "/etc/creds/password": "s3cret",
                                 "/var/run/secrets/kubernetes.io/serviceaccount/namespace": NS}
        assert seen["token"] and seen["args"] == ["plain-arg"]

        fails = _pod("fails", "fail")
        fails["spec"]["containers"][0]["terminationMessagePolicy"] = "FallbackToLogsOnError"
        cluster.apply(fails, namespace=NS)
        failed = wait(lambda: (lambda p: p if p.get("status", {}).get("phase") == "Failed"
                               else None)(cluster.get("pod", "fails", "-n", NS)),
                      "pod fails Failed", 60)
        (status,) = failed["status"]["containerStatuses"]
        assert status["state"]["terminated"]["exitCode"] == 7 and status["restartCount"] == 0
        # FallbackToLogsOnError: the failed container's last output is its message
        assert '"args": ["plain-arg"]' in status["state"]["terminated"]["message"], status

        cluster.apply(_pod("retries", "fail", policy="OnFailure"), namespace=NS)
        retried = wait(lambda: (lambda p: p if p["status"].get("containerStatuses", [{}])[0]
                                .get("restartCount", 0) >= 1 else None)(
            cluster.get("pod", "retries", "-n", NS)), "pod retries restarted", 60)
        last = retried["status"]["containerStatuses"][0]["lastState"]["terminated"]
        assert last["exitCode"] == 7 and retried["status"]["phase"] == "Running"

        cluster.apply(_pod("stubborn", "stubborn", grace=2), namespace=NS)
        wait(lambda: condition(cluster.get("pod", "stubborn", "-n", NS), "Ready")
             .get("status") == "True", "pod stubborn Ready", 60)
        runner = agent.runner("stubborn")
        started = time.monotonic()
        cluster.kubectl("-n", NS, "delete", "pod", "stubborn", "--wait=true", timeout=60)
        took = time.monotonic() - started
        assert runner.exits == [137], runner.summary()
        assert "TERM ignored" in runner.log.read_text()
        assert 2 <= took < 15, took

        agent.lose()
        wait(lambda: condition(cluster.get("node", "agent-node"), "Ready").get("status")
             == "Unknown", "the lost node NotReady", 90)
    cluster.kubectl("delete", "namespace", NS, "--wait=false")
    # the agent deleted its Node on the way out
    assert cluster.kubectl("get", "node", "agent-node", check=False).returncode != 0
