"""The CRD upgrade's guards against the in-memory API (the upgrade itself runs on the real
apiserver in tests/real_k8s/test_crd_upgrade.py): a CRD of a higher revision than the
chart's is left untouched (no write at all), and a missing CRD is an error naming the fix,
never a create."""

from __future__ import annotations

import copy

import pytest
import yaml
from tests.operator.cluster import running_cluster
from tests.operator.crd_schema import CRD_DIR

from tradefleet.operator.crd_upgrade import REVISION, CrdUpgradeError, CrdUpgrader, load_crds
from tradefleet.operator.kube import KubeApi

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _tradingworkers() -> dict:
    return next(c for c in load_crds(CRD_DIR) if c["metadata"]["name"].startswith("tradingw"))


async def test_a_newer_crd_is_left_alone_and_a_missing_one_is_not_created():
    chart = _tradingworkers()
    newer = copy.deepcopy(chart)
    newer["metadata"]["annotations"][REVISION] = str(int(
        chart["metadata"]["annotations"][REVISION]) + 1)
    async with running_cluster() as cluster:
        kube = KubeApi.for_server(str(cluster.url).rstrip("/"), token="t")
        try:
            upgrader = CrdUpgrader(kube)
            with pytest.raises(CrdUpgradeError, match="not installed.*--skip-crds"):
                await upgrader.upgrade(chart)
            assert not [r for r in cluster.requests_made() if r[0].endswith(("POST", "PUT"))]
            resp = await cluster.post(CRDS, json=newer)
            assert resp.status in (200, 201), await resp.text()
            said = await upgrader.upgrade(chart)
            assert "left at revision" in said, said
            writes = [r for r in cluster.requests_made() if r[0].endswith(("PUT", "PATCH"))]
            assert writes == []
            stored = [o for o in cluster.objects_of("customresourcedefinitions")]
            assert yaml.safe_dump(stored[0]["spec"]) == yaml.safe_dump(newer["spec"])
        finally:
            await kube.close()
