"""Issue 19 item 7: the operator's liveness says whether the process works, never whether
Postgres answers (a database outage must not crash-loop it, possibly into the liquidation
window); its readiness says whether it can reconcile, naming what is missing."""

from __future__ import annotations

import asyncio

import aiohttp
import asyncpg
import kopf
from tests.operator.operator_harness import CONFIG

from tradefleet.adapters.postgres.database import Database, _init_connection
from tradefleet.domain.calendar import load_krx_calendar
from tradefleet.local_fleet.processes import free_port
from tradefleet.operator.handlers import build_registry
from tradefleet.operator.health import start_health_server
from tradefleet.operator.kube import KubeApi
from tradefleet.operator.runtime import build_runtime


async def _get(port: int, path: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, \
            session.get(f"http://127.0.0.1:{port}{path}") as resp:
        return resp.status, await resp.json()


async def test_liveness_stays_up_through_a_database_outage_readiness_does_not(pg_dsn):
    pool = await asyncpg.create_pool(pg_dsn, min_size=1, max_size=2, init=_init_connection)
    db = Database(pool)
    port = free_port()
    probes = await start_health_server(db.db_now, port)
    assert probes is not None
    try:
        assert await _get(port, "/healthz") == (200, {"status": "ok"})
        status, body = await _get(port, "/readyz")
        assert status == 200 and str((await db.db_now()).year) in body["postgres"]
        await pool.close()                          # the database is gone for the operator
        assert await _get(port, "/healthz") == (200, {"status": "ok"})
        status, body = await _get(port, "/readyz")
        assert status == 503 and body["postgres"]

        async def hangs() -> None:
            await asyncio.sleep(3600)
        slow = await start_health_server(hangs, free_port())
        assert slow is not None
        try:                                        # a database that does not answer
            slow_port = slow.addresses[0][1]
            status, body = await _get(slow_port, "/readyz")
            assert status == 503 and "no answer" in body["postgres"]
        finally:
            await slow.cleanup()
    finally:
        await probes.cleanup()


async def test_no_kopf_probe_makes_liveness_depend_on_anything(db):
    kube = KubeApi.for_server("http://127.0.0.1:1", token="t")
    try:
        runtime = build_runtime(CONFIG, db=db, kube=kube, clock=None, calendar=load_krx_calendar(),
                                connection=kopf.ConnectionInfo(server="http://127.0.0.1:1"))
        registry = build_registry(runtime)
        probes = [h for h in registry._activities.get_all_handlers()
                  if str(h.activity.value) == "probe"]
        assert probes == []
    finally:
        await kube.close()
