"""Issue 19 item 12, CRD upgrades, on the real control plane: ``helm upgrade`` to a chart
whose TradingWorker CRD has one more field lands that field in the cluster (Helm alone never
upgrades crds/). The chart's pre-upgrade hook Job runs ``python -m
tradefleet.operator.crd_upgrade`` on the CRDs its ConfigMap carries; with no kubelet here,
the test plays the kubelet for that one pod: it runs the pod's own command with the pod's own
ServiceAccount token and ConfigMap, then reports the pod's phase, so the Job controller and
Helm go on exactly as in a cluster. Also: the hook may update our CRDs only, and an older
chart never takes a newer CRD's field away."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.real_k8s.chart import CHART, helm, namespace, wait
from tests.real_k8s.cluster import ROOT, RealCluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
NS = "crd-check"
RELEASE = "tfc"
CRD = "tradingworkers.tradefleet.io"
NEXT_REVISION = str(int(yaml.safe_load((CHART / "crds" / f"{CRD}.yaml").read_text())[
    "metadata"]["annotations"]["tradefleet.io/crd-revision"]) + 1)
VALUES = ("--set", "database.existingSecret=tradefleet-db", "--set", "database.sslmode=disable",
          "--set", "database.allowInsecure=true")


def _with_a_new_field(tmp: Path) -> Path:
    """A copy of the chart whose TradingWorker CRD has spec.note, at the next revision."""
    chart = tmp / "tradefleet"
    shutil.copytree(CHART, chart)
    path = chart / "crds" / f"{CRD}.yaml"
    crd = yaml.safe_load(path.read_text())
    crd["metadata"]["annotations"]["tradefleet.io/crd-revision"] = NEXT_REVISION
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["note"] = {"type": "string", "maxLength": 200}
    path.write_text(yaml.safe_dump(crd, sort_keys=False))
    return chart


def _run_hook_pod(cluster: RealCluster, pod: dict[str, Any], tmp: Path) -> int:
    """What a kubelet would do with the hook's pod: its command, its ServiceAccount's token,
    its ConfigMap mounted; then the pod's phase reported."""
    spec = pod["spec"]
    (container,) = spec["containers"]
    maps = {v["name"]: v for v in spec["volumes"] if "configMap" in v}  # not the token's
    (mount,) = [m for m in container["volumeMounts"] if m["name"] in maps]
    volume = maps[mount["name"]]
    data = cluster.get("configmap", volume["configMap"]["name"], "-n", NS)["data"]
    mounted = tmp / "mount"
    mounted.mkdir()
    for key, text in data.items():
        (mounted / key).write_text(text)
    sa = cluster.token_kubeconfig(tmp / "hook.kubeconfig", NS, spec["serviceAccountName"])
    command = container["command"]
    assert command[:3] == ["python", "-m", "tradefleet.operator.crd_upgrade"], command
    args = [mount["mountPath"] == a and str(mounted) or a for a in command[3:]]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBECONFIG", "TRADEFLEET_"))}
    env.update({"KUBECONFIG": str(sa), "PYTHONPATH": os.environ.get("PYTHONPATH")
                or str(ROOT / "src")})
    done = subprocess.run([sys.executable, "-m", "tradefleet.operator.crd_upgrade", *args],  # noqa: S603
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    print(f"\nhook pod {pod['metadata']['name']}: exit {done.returncode}\n{done.stdout}"
          f"{done.stderr}")
    phase = "Succeeded" if done.returncode == 0 else "Failed"
    state = {"terminated": {"exitCode": done.returncode, "reason": "Completed"
                            if done.returncode == 0 else "Error"}}
    cluster.kubectl("-n", NS, "patch", "pod", pod["metadata"]["name"], "--subresource=status",
                    "--type=merge", "-p", json.dumps({"status": {
                        "phase": phase, "containerStatuses": [{
                            "name": container["name"], "image": container["image"],
                            "imageID": "", "ready": False, "restartCount": 0,
                            "state": state}]}}))
    return done.returncode


def test_helm_upgrade_lands_a_new_crd_field_through_the_hook(real_cluster: RealCluster,
                                                             tmp_path: Path) -> None:
    cluster = real_cluster
    namespace(cluster, NS)
    helm(cluster, "install", RELEASE, str(CHART), "-n", NS, *VALUES)
    newer = _with_a_new_field(tmp_path)
    upgraded: dict[str, Any] = {}

    def upgrade() -> None:
        try:
            upgraded["out"] = helm(cluster, "upgrade", RELEASE, str(newer), "-n", NS,
                                   "--reuse-values", "--timeout", "2m")
        except AssertionError as exc:
            upgraded["error"] = str(exc)

    thread = threading.Thread(target=upgrade, daemon=True)
    thread.start()
    try:
        pod = wait(lambda: next(iter(cluster.get(
            "pods", "-n", NS, "-l", "app.kubernetes.io/name=tradefleet-crd-upgrade")["items"]),
            None), "the hook Job's pod", 90)
        sa = pod["spec"]["serviceAccountName"]
        hook = cluster.token_kubeconfig(tmp_path / "can-i.kubeconfig", NS, sa)

        def may(*args: str) -> str:
            return cluster.kubectl("auth", "can-i", *args, kubeconfig=hook,
                                   check=False).stdout.strip()

        assert may("update", f"customresourcedefinitions/{CRD}") == "yes"
        assert may("update", "customresourcedefinitions/other.example.com") == "no"
        assert may("create", "customresourcedefinitions") == "no"
        assert may("delete", f"customresourcedefinitions/{CRD}") == "no"
        assert _run_hook_pod(cluster, pod, tmp_path) == 0
    finally:
        thread.join(180)
    assert "error" not in upgraded, upgraded.get("error")
    try:
        crd = cluster.get("crd", CRD)
        assert crd["metadata"]["annotations"]["tradefleet.io/crd-revision"] == NEXT_REVISION
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert schema["properties"]["spec"]["properties"]["note"]["type"] == "string"
        text = (ROOT / "examples" / "tradingworker.yaml").read_text().replace(
            "name: sim-1", "name: noted").replace("  mode: sim", "  note: landed\n  mode: sim")
        cluster.apply(text, namespace=NS)
        assert cluster.get("tw", "noted", "-n", NS)["spec"]["note"] == "landed"   # not pruned
        # the older chart's CRDs never take the newer one's field away
        older = subprocess.run(
            [sys.executable, "-m", "tradefleet.operator.crd_upgrade", str(CHART / "crds")],  # noqa: S603
            env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}, capture_output=True,
            text=True, timeout=120, check=False)
        assert older.returncode == 0, older.stderr
        assert f"{CRD}: left at revision {NEXT_REVISION}" in older.stdout, older.stdout
        assert "note" in cluster.get("crd", CRD)["spec"]["versions"][0]["schema"][
            "openAPIV3Schema"]["properties"]["spec"]["properties"]
    finally:
        cluster.kubectl("-n", NS, "patch", "tw", "noted", "--type=merge", "-p",
                        '{"metadata":{"finalizers":null}}', check=False)
        cluster.kubectl("-n", NS, "delete", "tw", "noted", "--wait=true", check=False)
        # the session's other tests get the chart's own CRD back
        cluster.kubectl("replace", "-f", str(CHART / "crds" / f"{CRD}.yaml"))
        helm(cluster, "uninstall", RELEASE, "-n", NS, "--wait", "--no-hooks")
