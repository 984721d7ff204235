"""Under Kubernetes the console acts through the TradingWorker: pause and resume patch its
``spec.paused``, liquidate-now its ``spec.liquidateNow`` (kmock's API server, the CRDs of
crds/); the operator stays the one writer of ``worker_controls`` and turns the request into
the worker's liquidation row; the action is still an event naming who and why."""

from __future__ import annotations

from datetime import datetime, timedelta

import kopf
from tests.console.console_client import TOKEN, served
from tests.operator.cluster import running_cluster
from tests.operator.operator_harness import CONFIG, NS, worker_body

from tradefleet.adapters.clock import FrozenClock
from tradefleet.adapters.postgres.worker_controls_store import read_controls
from tradefleet.domain.calendar import load_krx_calendar
from tradefleet.operator.handlers import make_handlers
from tradefleet.operator.kube import KubeApi
from tradefleet.operator.runtime import build_runtime

BEARER = {"Authorization": f"Bearer {TOKEN}", "X-Console-User": "lee"}


async def _operator_pass(db, cluster, kube: KubeApi, at: datetime) -> list[str]:  # noqa: ANN001
    """One reconcile pass of w-1 by the operator, its clock at ``at``: the Events' reasons."""
    events: list[str] = []
    url = str(cluster.url).rstrip("/")
    runtime = build_runtime(CONFIG, db=db, kube=kube, clock=FrozenClock(at),
                            calendar=load_krx_calendar(),
                            post_event=lambda body, t, r, m: events.append(r),
                            connection=kopf.ConnectionInfo(server=url, token="t"))
    await make_handlers(runtime).changed(
        body=kopf.Body(cluster.find("tradingworkers", NS, "w-1")))
    return events


async def _post(http, data: dict) -> tuple[int, dict]:  # noqa: ANN001
    async with http.post("/actions", headers=BEARER, data=data) as resp:
        return resp.status, await resp.json()


async def test_pause_resume_and_liquidate_patch_the_tradingworker(db):
    for wid in ("w-1", "w-2"):                 # w-2: in the database, no TradingWorker
        await db.pool.execute(
            "INSERT INTO workers (worker_id, pid, host, mode, status, lock_ttl_seconds) "
            "VALUES ($1, 1, 'h', 'sim', 'SCAN', 30)", wid)
    async with running_cluster() as cluster:
        await cluster.apply(worker_body("w-1"))
        kube = KubeApi.for_server(str(cluster.url).rstrip("/"), token="t")
        try:
            async with served(db, kube=kube, namespace=NS) as (_, http):
                status, answer = await _post(http, {"action": "pause", "reason": "news at 10"})
                assert status == 200, answer
                assert answer["workers"] == [
                    {"worker": "w-1", "changed": True, "via": "TradingWorker"},
                    {"worker": "w-2", "changed": False, "via": "TradingWorker"}]
                assert cluster.find("tradingworkers", NS, "w-1")["spec"]["paused"] is True
                status, _ = await _post(http, {"action": "resume", "worker": "w-1",
                                               "reason": "news passed"})
                assert status == 200
                assert cluster.find("tradingworkers", NS, "w-1")["spec"]["paused"] is False
                status, answer = await _post(http, {"action": "liquidate", "worker": "w-1",
                                                    "reason": "halt rumour"})
                assert status == 200, answer
                assert answer["workers"] == [
                    {"worker": "w-1", "changed": True, "via": "TradingWorker"}]
            asked = cluster.find("tradingworkers", NS, "w-1")["spec"]["liquidateNow"]
            assert asked["by"].startswith("lee@") and asked["reason"] == "halt rumour"
            at = datetime.fromisoformat(asked["requestedAt"])
            assert at.tzinfo is not None
            # the console wrote no control row: that is the operator's to write
            assert await db.pool.fetchval("SELECT count(*) FROM worker_controls") == 0
            events = await _operator_pass(db, cluster, kube, at + timedelta(seconds=1))
        finally:
            await kube.close()
    assert events.count("LiquidationOrdered") == 1
    controls = await read_controls(db.pool, "w-1")
    assert controls.liquidate_from(at.date()) == at
    assert "/liquidateNow/lee@" in controls.liquidate_requested_by
    rows = await db.pool.fetch(
        "SELECT worker_id, payload->>'action' AS action, payload->>'via' AS via, "
        "payload->>'reason' AS reason FROM events WHERE event_type = 'ConsoleActionEvent' "
        "ORDER BY event_id")
    assert [(r["worker_id"], r["action"], r["via"], r["reason"]) for r in rows] == [
        ("w-1", "pause", "TradingWorker", "news at 10"),
        ("w-2", "pause", "TradingWorker", "news at 10"),
        ("w-1", "resume", "TradingWorker", "news passed"),
        ("w-1", "liquidate", "TradingWorker", "halt rumour")]
