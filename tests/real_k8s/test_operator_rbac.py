"""The chart's RBAC judged by a real apiserver (Node,RBAC authorization and the
OwnerReferencesPermissionEnforcement and PodSecurity admission plugins): the operator's
ServiceAccount may make every call the operator makes, and may create the worker pod the
operator builds, owned by its TradingWorker with blockOwnerDeletion, in a namespace enforcing
the restricted Pod Security Standard. Without ``tradingworkers/finalizers: update`` in the
Role the apiserver refuses every such pod."""

from __future__ import annotations

import json

import pytest
import yaml
from tests.real_k8s.chart import CHART, helm, namespace, wait
from tests.real_k8s.cluster import ROOT, RealCluster

from tradefleet.operator.config import load_operator_config
from tradefleet.operator.pods import build_pod
from tradefleet.operator.resources import parse_worker_spec

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
NS = "rbac-check"
RELEASE = "tf"
SA = f"{RELEASE}-operator"
CALLS = ROOT / "tests" / "e2e" / "operator_api_calls.yaml"
VALUES = ("--set", "database.existingSecret=tradefleet-db", "--set", "database.sslmode=require",
          "--set", "database.allowInsecure=true")


@pytest.fixture(scope="module")
def installed(real_cluster: RealCluster) -> RealCluster:
    namespace(real_cluster, NS)
    helm(real_cluster, "install", RELEASE, str(CHART), "-n", NS, *VALUES)
    yield real_cluster
    # cleanup only: no node runs the pre-delete guard's Job here (the e2e exercises it)
    helm(real_cluster, "uninstall", RELEASE, "-n", NS, "--wait", "--no-hooks")


def test_the_operator_account_may_make_every_call_the_operator_makes(installed, tmp_path):
    sa = installed.token_kubeconfig(tmp_path / "sa.kubeconfig", NS, SA)
    refused = []
    for entry in yaml.safe_load(CALLS.read_text())["resources"]:
        plural, _, sub = entry["resource"].partition("/")
        what = f"{plural}.{entry['group']}" if entry["group"] else plural
        for verb in entry["verbs"]:
            args = ["auth", "can-i", verb, what, "-n", NS] + (
                [f"--subresource={sub}"] if sub else [])
            answer = installed.kubectl(*args, kubeconfig=sa, check=False).stdout.strip()
            if answer != "yes":
                refused.append(f"{verb} {entry['resource']}: {answer}")
    assert refused == []
    # and nothing the chart does not mean to give
    assert installed.kubectl("auth", "can-i", "delete", "secrets", "-n", NS, kubeconfig=sa,
                             check=False).stdout.strip() == "no"


def test_the_operator_account_may_create_the_worker_pod_it_owns(installed, tmp_path):
    installed.apply((ROOT / "examples" / "tradingworker.yaml").read_text(), namespace=NS)
    tw = installed.get("tw", "sim-1", "-n", NS)
    config = load_operator_config({"TRADEFLEET_OPERATOR_NAMESPACES": NS,
                                   "TRADEFLEET_OPERATOR_WORKER_IMAGE": "tradefleet:0.1.0",
                                   "TRADEFLEET_OPERATOR_DB_SECRET": "tradefleet-db/dsn",
                                   "TRADEFLEET_OPERATOR_POD_DB_SSLMODE": "require"})
    pod = build_pod(name="sim-1", namespace=NS, uid=tw["metadata"]["uid"],
                    spec=parse_worker_spec(tw["spec"]), config=config, epoch_before=0,
                    serial=0)
    sa = installed.token_kubeconfig(tmp_path / "sa.kubeconfig", NS, SA)
    done = installed.kubectl("-n", NS, "create", "-f", "-", stdin=json.dumps(pod),
                             kubeconfig=sa, check=False)
    assert done.returncode == 0, done.stderr
    created = installed.get("pod", pod["metadata"]["name"], "-n", NS)
    assert created["metadata"]["ownerReferences"][0]["uid"] == tw["metadata"]["uid"]
    # the garbage collector takes the pod with its owner (no finalizer: nothing runs here)
    installed.kubectl("-n", NS, "patch", "tw", "sim-1", "--type=merge", "-p",
                      '{"metadata":{"finalizers":null}}')
    installed.kubectl("-n", NS, "delete", "tw", "sim-1", "--wait=true")
    wait(lambda: installed.kubectl("-n", NS, "get", "pod", pod["metadata"]["name"],
                                   check=False).returncode != 0,
         "the owned pod garbage-collected", 60)
