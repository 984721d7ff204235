"""The pre-delete hook's check against the in-memory Kubernetes API (kmock): TradingWorkers
in a watched namespace refuse the uninstall, naming them; none left lets it go on."""

from __future__ import annotations

from kubernetes_asyncio import client
from tests.operator.cluster import running_cluster
from tests.operator.operator_harness import NS, worker_body

from tradefleet.operator.uninstall_guard import refusal, workers_left


async def test_tradingworkers_left_refuse_the_uninstall_naming_them():
    async with running_cluster() as cluster:
        api = client.ApiClient(client.Configuration(host=str(cluster.url).rstrip("/")))
        try:
            assert await workers_left(api, [NS]) == []
            assert refusal([]) is None
            await cluster.apply(worker_body("w-1"))
            await cluster.apply(worker_body("w-2"))
            left = await workers_left(api, [NS, "elsewhere"])
        finally:
            await api.close()
    assert left == [f"{NS}/w-1", f"{NS}/w-2"]
    message = refusal(left)
    assert message is not None and f"{NS}/w-1, {NS}/w-2" in message
    assert "refusing to uninstall: 2 TradingWorker(s)" in message
    # what helm 4 leaves behind (found on the real API): the way back to upgrades
    assert "helm rollback" in message
