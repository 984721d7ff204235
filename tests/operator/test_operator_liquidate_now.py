"""Issue 22: ``spec.liquidateNow`` (what the console patches) becomes the worker's liquidation
control row, written by the operator once; a request of another trading day is ignored and
said so; a bad request is named and nothing is written. Each reconcile pass is the kopf
handler as a plain coroutine against kmock's API server and a real Postgres."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

import kopf
from tests.operator.cluster import running_cluster
from tests.operator.operator_harness import CONFIG, NS, WorkerProcess, worker_body

from tradefleet.adapters.clock import FrozenClock
from tradefleet.adapters.postgres.worker_controls_store import read_controls
from tradefleet.domain.calendar import SEOUL, load_krx_calendar
from tradefleet.operator.handlers import make_handlers
from tradefleet.operator.kube import KubeApi
from tradefleet.operator.runtime import build_runtime

TEN = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)          # a Tuesday session


@contextlib.asynccontextmanager
async def _operator(db):  # noqa: ANN001, ANN202
    async with running_cluster() as cluster:
        url = str(cluster.url).rstrip("/")
        kube = KubeApi.for_server(url, token="t")
        events: list[tuple[str, str, str]] = []
        runtime = build_runtime(
            CONFIG, db=db, kube=kube, clock=FrozenClock(TEN), calendar=load_krx_calendar(),
            post_event=lambda body, t, r, m: events.append((t, r, m)),
            connection=kopf.ConnectionInfo(server=url, token="t"))
        try:
            yield cluster, make_handlers(runtime), events
        finally:
            await kube.close()


async def _passes(cluster, h, n: int) -> None:  # noqa: ANN001
    for _ in range(n):
        await h.resync(body=kopf.Body(cluster.find("tradingworkers", NS, "w-1")))


def _status_writes(cluster) -> int:  # noqa: ANN001
    return sum(1 for method, path in cluster.requests_made()
               if method.upper().endswith("PATCH") and path.endswith("/w-1/status"))


def _reasons(events: list[tuple[str, str, str]], reason: str) -> list[str]:
    return [m for _, r, m in events if r == reason]


async def test_liquidate_now_is_written_once_and_said_once(db):
    asked = TEN - timedelta(minutes=2)
    request = {"requestedAt": asked.isoformat(), "by": "lee", "reason": "news at 10"}
    async with _operator(db) as (cluster, h, events):
        await cluster.apply(worker_body("w-1", liquidateNow=request))
        await _passes(cluster, h, 1)
        first = await db.pool.fetchrow("SELECT * FROM worker_controls WHERE worker_id = 'w-1'")
        assert first["liquidate_requested_at"] == asked
        assert first["liquidate_requested_by"].endswith("/liquidateNow/lee")
        (said,) = _reasons(events, "LiquidationOrdered")
        assert "lee (news at 10)" in said
        await _passes(cluster, h, 3)                 # level-triggered: nothing new
        assert len(_reasons(events, "LiquidationOrdered")) == 1
        again = await db.pool.fetchrow("SELECT * FROM worker_controls WHERE worker_id = 'w-1'")
        assert again["updated_at"] == first["updated_at"]
        status = cluster.find("tradingworkers", NS, "w-1")["status"]
        assert status["liquidateNow"]["outcome"] == "Ordered"
        assert status["liquidationRequestedAt"] is not None
        writes = _status_writes(cluster)
        await _passes(cluster, h, 2)
        assert _status_writes(cluster) == writes     # status patched only on change
    controls = await read_controls(db.pool, "w-1")
    assert controls.liquidate_from(TEN.date()) == asked


async def test_an_earlier_request_moves_the_time_a_later_one_does_not(db):
    async with _operator(db) as (cluster, h, events):
        await cluster.apply(worker_body("w-1", liquidateNow={
            "requestedAt": TEN.isoformat(), "by": "lee"}))
        await _passes(cluster, h, 1)
        later = (TEN + timedelta(minutes=5)).isoformat()
        await cluster.patch_spec("tradingworkers", NS, "w-1",
                                 {"liquidateNow": {"requestedAt": later, "by": "kim"}})
        await _passes(cluster, h, 2)
        assert len(_reasons(events, "LiquidationOrdered")) == 1
        earlier = TEN - timedelta(minutes=30)
        await cluster.patch_spec("tradingworkers", NS, "w-1", {"liquidateNow": {
            "requestedAt": earlier.isoformat(), "by": "park"}})
        await _passes(cluster, h, 2)
        assert len(_reasons(events, "LiquidationOrdered")) == 2
    controls = await read_controls(db.pool, "w-1")
    assert controls.liquidate_from(TEN.date()) == earlier
    assert controls.liquidate_requested_by.endswith("/park")


async def test_yesterdays_request_is_ignored_and_said_so(db):
    yesterday = TEN - timedelta(days=1)
    async with _operator(db) as (cluster, h, events):
        await cluster.apply(worker_body("w-1", liquidateNow={
            "requestedAt": yesterday.isoformat(), "by": "lee"}))
        await _passes(cluster, h, 3)
        (warning,) = _reasons(events, "LiquidationRequestIgnored")
        assert "2026-11-24" in warning and "ignored" in warning
        status = cluster.find("tradingworkers", NS, "w-1")["status"]
        assert status["liquidateNow"]["outcome"] == "Ignored"
        assert not _reasons(events, "LiquidationOrdered")
    assert await db.pool.fetchval(
        "SELECT count(*) FROM worker_controls WHERE liquidate_requested_at IS NOT NULL") == 0


async def test_a_bad_request_is_named_and_nothing_is_written(db):
    async with _operator(db) as (cluster, h, events):
        await cluster.apply(worker_body("w-1", liquidateNow={
            "requestedAt": TEN.replace(tzinfo=None).isoformat(), "by": "lee"}))
        await _passes(cluster, h, 1)
        status = cluster.find("tradingworkers", NS, "w-1")["status"]
        assert status["phase"] == "Degraded"
        assert "spec.liquidateNow.requestedAt" in status["message"]
        assert "liquidateNow" not in status
        assert not _reasons(events, "LiquidationOrdered")
        assert not cluster.pods(NS)
    assert await db.pool.fetchval("SELECT count(*) FROM worker_controls") == 0


async def test_a_running_worker_of_a_degraded_spec_still_gets_a_valid_request(db):
    """As a pause does: the rest of the spec is invalid, the request itself is valid."""
    request = {"requestedAt": TEN.isoformat(), "by": "lee"}
    async with _operator(db) as (cluster, h, events):
        await cluster.apply(worker_body("w-1", capitalLimit=-1, liquidateNow=request))
        await _passes(cluster, h, 1)                 # nothing runs: nothing written
        status = cluster.find("tradingworkers", NS, "w-1")["status"]
        assert status["phase"] == "Degraded" and "spec.capitalLimit" in status["message"]
        assert status["liquidateNow"]["outcome"] == "NotWritten"
        assert await db.pool.fetchval("SELECT count(*) FROM worker_controls") == 0
        await WorkerProcess(db, "w-1").start()      # but a process of it heartbeats
        await _passes(cluster, h, 2)
        assert len(_reasons(events, "LiquidationOrdered")) == 1
        status = cluster.find("tradingworkers", NS, "w-1")["status"]
        assert status["liquidateNow"]["outcome"] == "Ordered"
    controls = await read_controls(db.pool, "w-1")
    assert controls.liquidate_from(TEN.date()) == TEN
