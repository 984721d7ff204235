"""The LiquidationSchedule running in the operator (kopf, kmock, Postgres, looptime): on a
session day it orders the covered workers to liquidate at close - offset, through
Postgres, records the run, checks the fleet flat after the close, and shows it all in its
status and Events; a late-close special day fires later; a closed day fires nothing."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import pytest
from tests.operator.cluster import eventually, running_cluster
from tests.operator.operator_harness import (
    NS,
    LoopClock,
    WorkerProcess,
    running_operator,
    schedule_body,
    worker_body,
)

from tradefleet.domain.calendar import SEOUL

pytestmark = [pytest.mark.looptime]


def _kst(y: int, m: int, d: int, hh: int, mm: int) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SEOUL)


def _status(cluster, name="krx"):  # noqa: ANN001, ANN202
    return (cluster.find("liquidationschedules", None, name) or {}).get("status") or {}


async def _requests(db) -> dict[str, datetime]:  # noqa: ANN001
    rows = await db.pool.fetch("SELECT worker_id, liquidate_requested_at FROM worker_controls "
                               "WHERE liquidate_requested_at IS NOT NULL")
    return {r["worker_id"]: r["liquidate_requested_at"] for r in rows}


@contextlib.asynccontextmanager
async def _day(loop_db, start: datetime, *, hold: bool = False):  # noqa: ANN001, ANN202
    clock = LoopClock(start)
    async with running_cluster() as cluster, \
            running_operator(cluster, loop_db, clock, resync_seconds=120.0):
        momentum = worker_body("w-mom")
        momentum["metadata"]["labels"] = {"desk": "momentum"}
        await cluster.apply(momentum)
        await cluster.apply(worker_body("w-other"))
        if hold:
            worker = WorkerProcess(loop_db, "w-mom")
            await worker.start()
            await worker.hold("005930")
        await cluster.apply(schedule_body("krx", offsetMinutes=15, checkAfterCloseMinutes=2,
                                          workers={"matchLabels": {"desk": "momentum"}}))
        yield cluster, clock


async def test_normal_day_fires_at_close_minus_offset_and_is_checked_flat(loop_db):
    async with _day(loop_db, _kst(2026, 11, 24, 15, 12)) as (cluster, clock):
        await eventually(lambda: _status(cluster).get("nextRun"), what="a next run")
        assert _status(cluster)["nextRun"] == "2026-11-24T15:15:00+09:00"
        assert await _requests(loop_db) == {}
        run = await eventually(lambda: loop_db.pool.fetchrow("SELECT * FROM liquidation_runs"),
                               timeout=3600, step=5, what="the run")
        assert run["run_at"] == _kst(2026, 11, 24, 15, 15) and run["workers"] == ["w-mom"]
        assert clock.now() >= _kst(2026, 11, 24, 15, 15)
        assert await _requests(loop_db) == {"w-mom": _kst(2026, 11, 24, 15, 15)}
        status = await eventually(lambda: _status(cluster).get("lastResult") == "Ordered"
                                  and _status(cluster), what="Ordered")
        assert status["workersOrdered"] == 1
        assert status["nextRun"] == "2026-11-25T15:15:00+09:00"
        await eventually(lambda: _status(cluster).get("lastResult") == "Flat", timeout=3600,
                         step=5, what="the check after the close")
        checked = await loop_db.pool.fetchrow("SELECT checked_at, flat FROM liquidation_runs")
        assert checked["flat"] is True
        assert checked["checked_at"] >= _kst(2026, 11, 24, 15, 32)
        reasons = [r for _, r, _ in cluster.events_for("krx")]
        assert reasons == ["LiquidationOrdered", "Flat"]


async def test_a_worker_still_holding_after_the_close_is_reported_not_flat(loop_db):
    async with _day(loop_db, _kst(2026, 11, 24, 15, 14), hold=True) as (cluster, _):
        await eventually(lambda: _status(cluster).get("lastResult") == "NotFlat",
                         timeout=3600, step=5, what="NotFlat")
        assert "w-mom: 1 position(s), 1 lock(s)" in _status(cluster)["lastMessage"]
        run = await loop_db.pool.fetchrow("SELECT flat, detail FROM liquidation_runs")
        assert run["flat"] is False and run["detail"]["workers"]["w-mom"]["held_qty"] == 10
        assert ("Warning", "NotFlat") in [(t, r) for t, r, _ in cluster.events_for("krx")]


async def test_a_late_close_special_day_fires_later(loop_db):
    async with _day(loop_db, _kst(2026, 11, 19, 15, 10)) as (cluster, clock):
        await eventually(lambda: _status(cluster).get("nextRun"), what="a next run")
        assert _status(cluster)["nextRun"] == "2026-11-19T16:15:00+09:00"
        while clock.now() < _kst(2026, 11, 19, 15, 25):   # past the usual 15:15: nothing
            await asyncio.sleep(60)
        assert await _requests(loop_db) == {}
        await eventually(lambda: loop_db.pool.fetchrow("SELECT * FROM liquidation_runs"),
                         timeout=3600, step=5, what="the run")
        assert await _requests(loop_db) == {"w-mom": _kst(2026, 11, 19, 16, 15)}


async def test_a_closed_day_fires_nothing(loop_db):
    async with _day(loop_db, _kst(2026, 11, 22, 15, 10)) as (cluster, clock):     # a Sunday
        await eventually(lambda: _status(cluster).get("nextRun"), what="a next run")
        assert _status(cluster)["nextRun"] == "2026-11-23T15:15:00+09:00"
        while clock.now() < _kst(2026, 11, 22, 15, 40):
            await asyncio.sleep(60)
        assert await _requests(loop_db) == {}
        assert await loop_db.pool.fetchval("SELECT count(*) FROM liquidation_runs") == 0
        assert cluster.events_for("krx") == []
        assert cluster.pods(NS) == []              # and no worker pod on a closed day



def test_the_schedule_sleeps_real_seconds_under_a_compressed_clock():
    """Under a 60x simulated clock the calendar's 60 s of waiting are one real second:
    sleeping sixty would sleep through the close of a compressed day and never fire (the
    process-backed e2e, at 60x, missed its liquidation that way)."""
    from tradefleet.adapters.clock import SimClock, WallClock
    from tradefleet.operator.liquidation import MAX_SLEEP_S
    from tradefleet.operator.schedule_controller import real_seconds

    fast = SimClock(_kst(2026, 11, 24, 14, 30), 60.0)
    assert real_seconds(MAX_SLEEP_S, fast) == MAX_SLEEP_S / 60
    assert real_seconds(MAX_SLEEP_S, WallClock()) == MAX_SLEEP_S
    assert real_seconds(0.5, SimClock(_kst(2026, 11, 24, 14, 30), 10_000.0)) > 0
