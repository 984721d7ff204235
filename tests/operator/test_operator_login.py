"""The operator logs in in its own namespace: kopf posts the Events of cluster-scoped objects
(LiquidationSchedules) into the login's default namespace, and kubernetes_asyncio leaves it
empty, so they went to ``default``, where the chart grants nothing (found on the real API:
403, every LiquidationOrdered/Flat Event lost; tests/real_k8s/test_e2e_real_cluster.py)."""

from __future__ import annotations

import logging

import kopf
import kubernetes_asyncio.config.kube_config as kube_config
import yaml

from tradefleet.operator.login import in_own_namespace, login, own_namespace


def _kubeconfig(path) -> None:  # noqa: ANN001
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "sa",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443",
                                                "insecure-skip-tls-verify": True}}],
        "users": [{"name": "sa", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "sa", "context": {"cluster": "c", "user": "sa"}}]}))


async def test_the_login_names_the_operators_own_namespace(tmp_path, monkeypatch) -> None:
    _kubeconfig(tmp_path / "config")
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "config"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("POD_NAMESPACE", "desk-ops")
    info = await login(logger=logging.getLogger("test"), settings=kopf.OperatorSettings())
    assert info is not None and info.token == "not-a-real-token"
    assert info.default_namespace == "desk-ops"


def test_own_namespace_from_the_env_else_the_service_account_file(tmp_path) -> None:
    sa = tmp_path / "namespace"
    assert own_namespace({"POD_NAMESPACE": "a"}, sa) == "a"
    assert own_namespace({}, sa) is None
    sa.write_text("b\n")
    assert own_namespace({}, sa) == "b"


def test_a_namespace_the_login_already_has_is_kept() -> None:
    info = kopf.ConnectionInfo(server="https://x", default_namespace="given")
    assert in_own_namespace(info, "mine").default_namespace == "given"
    assert in_own_namespace(None, "mine") is None
    assert in_own_namespace(kopf.ConnectionInfo(server="https://x"), None).default_namespace \
        is None
