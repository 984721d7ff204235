"""The session's real Kubernetes control plane (tests/real_k8s/cluster.py). Where the
binaries have not been built (no Go toolchain, or .ci/control_plane.py not run), every test
that needs it is skipped, printing why."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.real_k8s.cluster import RealCluster, binaries, start_cluster, why_not


@pytest.fixture(scope="session")
def real_cluster() -> Iterator[RealCluster]:
    bins = binaries()
    if bins is None:
        pytest.skip(why_not())
    # not under pytest's basetemp: the agent's pods outlive a test's tmp_path
    base = Path(tempfile.mkdtemp(prefix="tradefleet-k8s-"))
    cluster = start_cluster(base, bins)
    print(f"\nreal cluster: etcd + kube-apiserver + controller-manager + scheduler up in "
          f"{cluster.started_in:.1f} s at {cluster.server}", flush=True)
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
