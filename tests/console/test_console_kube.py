"""Under Kubernetes the console acts through the TradingWorker: pause and resume patch its
``spec.paused`` (kmock's API server, the CRDs of crds/), the operator stays the one writer of
``worker_controls``, and the action is still an event naming who and why. Liquidate-now is
refused with its reason there (the TradingWorker has no field for it)."""

from __future__ import annotations

from tests.console.console_client import TOKEN, served
from tests.operator.cluster import running_cluster
from tests.operator.operator_harness import NS, worker_body

from tradefleet.operator.kube import KubeApi

BEARER = {"Authorization": f"Bearer {TOKEN}", "X-Console-User": "lee"}


async def test_pause_and_resume_patch_the_tradingworker_and_liquidate_is_refused(db):
    for wid in ("w-1", "w-2"):                 # w-2: in the database, no TradingWorker
        await db.pool.execute(
            "INSERT INTO workers (worker_id, pid, host, mode, status, lock_ttl_seconds) "
            "VALUES ($1, 1, 'h', 'sim', 'SCAN', 30)", wid)
    async with running_cluster() as cluster:
        await cluster.apply(worker_body("w-1"))
        kube = KubeApi.for_server(str(cluster.url).rstrip("/"), token="t")
        try:
            async with served(db, kube=kube, namespace=NS) as (_, http):
                async with http.post("/actions", headers=BEARER, data={
                        "action": "pause", "reason": "news at 10"}) as resp:
                    answer = await resp.json()
                assert resp.status == 200, answer
                assert answer["workers"] == [
                    {"worker": "w-1", "changed": True, "via": "TradingWorker"},
                    {"worker": "w-2", "changed": False, "via": "TradingWorker"}]
                assert cluster.find("tradingworkers", NS, "w-1")["spec"]["paused"] is True
                async with http.post("/actions", headers=BEARER, data={
                        "action": "resume", "worker": "w-1", "reason": "news passed"}) as resp:
                    assert resp.status == 200
                assert cluster.find("tradingworkers", NS, "w-1")["spec"]["paused"] is False
                async with http.post("/actions", headers=BEARER, data={
                        "action": "liquidate", "worker": "w-1", "reason": "x"}) as resp:
                    refused = await resp.json()
                assert resp.status == 400 and "Kubernetes" in refused["error"]
        finally:
            await kube.close()
    # the console wrote no control row: that is the operator's to write
    assert await db.pool.fetchval("SELECT count(*) FROM worker_controls") == 0
    rows = await db.pool.fetch(
        "SELECT worker_id, payload->>'action' AS action, payload->>'via' AS via, "
        "payload->>'reason' AS reason FROM events WHERE event_type = 'ConsoleActionEvent' "
        "ORDER BY event_id")
    assert [(r["worker_id"], r["action"], r["via"], r["reason"]) for r in rows] == [
        ("w-1", "pause", "TradingWorker", "news at 10"),
        ("w-2", "pause", "TradingWorker", "news at 10"),
        ("w-1", "resume", "TradingWorker", "news passed")]
