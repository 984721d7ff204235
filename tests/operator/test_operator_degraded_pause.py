"""Issue 19 item 2, with kopf against the in-memory API and a real Postgres: a pause asked
of a Degraded TradingWorker whose pod still runs reaches the worker (worker_controls), and
the status says Paused only once it did."""

from __future__ import annotations

from datetime import datetime

import pytest
from tests.operator.cluster import eventually, running_cluster
from tests.operator.operator_harness import (
    NS,
    LoopClock,
    WorkerProcess,
    running_operator,
    worker_body,
)

from tradefleet.adapters.postgres.worker_controls_store import PostgresWorkerControls
from tradefleet.domain.calendar import SEOUL

pytestmark = [pytest.mark.looptime]
TEN = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)


def _condition(cluster, kind):  # noqa: ANN001, ANN202
    found = cluster.find("tradingworkers", NS, "w-1") or {}
    for cond in (found.get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return cond
    return {}


@pytest.mark.parametrize("breakage", [{"strategy": {"name": "no_such_strategy"}},
                                      {"capitalLimit": -1}], ids=["preflight", "invalid"])
async def test_a_pause_reaches_the_running_pod_of_a_degraded_worker(loop_db, breakage):
    async with running_cluster() as cluster, \
            running_operator(cluster, loop_db, LoopClock(TEN)):
        await cluster.apply(worker_body("w-1"))
        (pod,) = await eventually(lambda: cluster.pods(NS), what="a pod")
        worker = WorkerProcess(loop_db, "w-1")
        await worker.start(host=pod["metadata"]["name"])
        await cluster.run_pod(NS, pod["metadata"]["name"])
        await eventually(lambda: _condition(cluster, "Trading").get("status") == "True",
                         what="Trading")

        await cluster.patch_spec("tradingworkers", NS, "w-1", {**breakage, "paused": True})
        await eventually(lambda: _condition(cluster, "Degraded").get("status") == "True",
                         what="Degraded")
        controls = PostgresWorkerControls(loop_db)
        await eventually(lambda: _buy_paused(controls), what="the pause in Postgres")
        await eventually(lambda: _condition(cluster, "Trading").get("reason") == "Paused",
                         what="Trading: Paused")
        # the running pod is left as it is: no replacement from a spec it cannot run
        assert [p["metadata"]["name"] for p in cluster.pods(NS)] == [pod["metadata"]["name"]]
        assert not cluster.pods(NS)[0]["metadata"].get("deletionTimestamp")


async def _buy_paused(controls: PostgresWorkerControls) -> bool:
    return (await controls.read("w-1")).buy_paused
