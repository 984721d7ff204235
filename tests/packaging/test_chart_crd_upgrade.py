"""Issue 19 item 12, CRD upgrades, as rendered: a pre-upgrade hook Job runs the CRD upgrade on
exactly the chart's crds/ (a hook ConfigMap), with a ServiceAccount whose only rights are get
and update of our three CRDs by name; the hook resources exist before the Job (weights) and
go when it succeeds. The run on a real apiserver: tests/real_k8s/test_crd_upgrade.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from tests.packaging.chart_render import CHART, EXTERNAL, RELEASE, render

from tradefleet.operator.crd_upgrade import OURS, CrdUpgradeError, load_crds, revision

NAME = f"{RELEASE}-operator-crd-upgrade"


def _hooks(values: dict) -> dict[str, dict]:
    return {d["kind"]: d for d in render(values) if d["metadata"]["name"].startswith(NAME)}


def test_a_pre_upgrade_job_replaces_the_crds_with_the_charts_own():
    hooks = _hooks(EXTERNAL)
    assert set(hooks) == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap",
                          "Job"}
    weights = {}
    for kind, doc in hooks.items():
        notes = doc["metadata"]["annotations"]
        assert notes["helm.sh/hook"] == "pre-upgrade", kind
        assert "hook-succeeded" in notes["helm.sh/hook-delete-policy"], kind
        weights[kind] = int(notes["helm.sh/hook-weight"])
    assert all(weights[k] < weights["Job"] for k in weights if k != "Job")
    shipped = {p.name: p.read_text() for p in (CHART / "crds").glob("*.yaml")}
    assert hooks["ConfigMap"]["data"] == shipped
    pod = hooks["Job"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == NAME and pod["restartPolicy"] == "Never"
    (c,) = pod["containers"]
    assert c["command"] == ["python", "-m", "tradefleet.operator.crd_upgrade", "/crds"]
    assert c["volumeMounts"] == [{"name": "crds", "mountPath": "/crds", "readOnly": True}]
    assert pod["volumes"] == [{"name": "crds", "configMap": {"name": NAME}}]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_hook_may_get_and_update_our_crds_and_nothing_else():
    hooks = _hooks(EXTERNAL)
    assert hooks["ClusterRole"]["rules"] == [{
        "apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
        "resourceNames": list(OURS), "verbs": ["get", "update"]}]
    binding = hooks["ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == hooks["ClusterRole"]["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME,
                                    "namespace": RELEASE}]


def test_the_hook_can_be_turned_off_and_is_on_for_values_that_predate_it(tmp_path: Path):
    assert _hooks({**EXTERNAL, "crdUpgrade": {"enabled": False}}) == {}
    old = tmp_path / "tradefleet"          # --reuse-values of an older release: no key at all
    shutil.copytree(CHART, old)
    values = yaml.safe_load((old / "values.yaml").read_text())
    del values["crdUpgrade"]
    (old / "values.yaml").write_text(yaml.safe_dump(values))
    assert "Job" in {d["kind"] for d in render(EXTERNAL, chart=old)
                     if d["metadata"]["name"].startswith(NAME)}


def test_the_charts_crds_are_ours_once_each_with_a_revision():
    crds = load_crds(CHART / "crds")
    assert sorted(c["metadata"]["name"] for c in crds) == sorted(OURS)
    assert all(revision(c) >= 1 for c in crds)


def test_a_foreign_crd_is_refused(tmp_path: Path):
    foreign = yaml.safe_load((CHART / "crds" / "tradingworkers.tradefleet.io.yaml").read_text())
    foreign["metadata"]["name"] = "widgets.example.com"
    (tmp_path / "w.yaml").write_text(yaml.safe_dump(foreign))
    with pytest.raises(CrdUpgradeError, match="not one of our CRDs"):
        load_crds(tmp_path)
