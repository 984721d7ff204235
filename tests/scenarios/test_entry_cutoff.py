"""Issue 17: no entry the forced liquidation has no time to undo, and none on stale data.

A poll that begins before the entry cutoff (liquidation time − risk.entry_cutoff_minutes)
may finish its scan after it: on a busy machine, or a compressed day, a scan takes session
minutes. The worker checks again right before the order row, on the session clock, and a
late entry is refused (EntryCutoffEvent, WARN); after the cutoff it no longer scans. A scan
whose quotes are older than risk.scan_max_age_seconds by then is discarded
(StaleScanDiscardedEvent, WARN), and the next poll scans again.

A slow scan is acted out with the simulator's own latency fault on the minute-bar reads:
while the first of them is held, the session clock moves on (what a slow scan costs)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from tests.scenarios.evidence import events, has_fields, lines, one_line, worker_row
from tests.scenarios.harness import LIQUIDATION_AT, Rig, build, poll_until_holding

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.sim.engine import SimMarket

CUTOFF_AT = LIQUIDATION_AT - timedelta(minutes=10)          # the default entry cutoff


async def slow_poll(rig: Rig, session_minutes: float, *, held: str) -> None:
    """One poll that takes ``session_minutes`` of session time: the broker read ``held`` is
    held (real seconds), and the clock moves on as soon as that read is under way, so the
    scan's quotes are from before and the entry decision from after. ``get_minute_bars``:
    the scan is slow; ``get_buyable_qty``: the entry step's first read, after the scan."""
    rule = rig.market.faults.set(held, "latency", delay=0.5, count=1)

    async def time_passes() -> None:
        while rig.market.faults.fired_count(rule) == 0:
            await asyncio.sleep(0.005)
        rig.clock.advance(session_minutes * 60)

    passing = asyncio.create_task(time_passes())
    try:
        await rig.cycle.poll()
    finally:
        passing.cancel()
        rig.market.faults.remove(rule)


async def scanned_signals(rig: Rig) -> list[int]:
    return [e["signals"] for e in await events(rig.db, "CandidateScannedEvent",
                                               worker_id=rig.worker_id)]


@pytest.mark.parametrize("held", ["get_minute_bars", "get_buyable_qty"],
                         ids=["slow-scan", "slow-entry"])
async def test_a_poll_that_crosses_the_cutoff_buys_nothing(db, logs, held):
    start = CUTOFF_AT - timedelta(seconds=50)         # mid-minute, as the harness polls
    clock = FrozenClock(start)
    rig = await build(db, worker_id="w-cut", clock=clock,
                      market=SimMarket(7, n_symbols=40, clock=clock),
                      TRADEFLEET_RISK__SCAN_MAX_AGE_SECONDS="3600")   # only the cutoff here
    await slow_poll(rig, session_minutes=3, held=held)

    assert rig.clock.now() > CUTOFF_AT
    assert (await scanned_signals(rig))[-1] > 0, "the scan found something to buy"
    assert await db.pool.fetchval("SELECT count(*) FROM orders") == 0
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 0
    row = await worker_row(db, "w-cut")
    assert (row["status"], row["current_symbol"]) == ("SCAN", None)
    [refused] = await events(db, "EntryCutoffEvent", worker_id="w-cut")
    assert datetime.fromisoformat(refused["cutoff_at"]) == CUTOFF_AT
    assert datetime.fromisoformat(refused["liquidation_at"]) == LIQUIDATION_AT
    quoted_at = datetime.fromisoformat(refused["quoted_at"])
    assert quoted_at < CUTOFF_AT <= datetime.fromisoformat(refused["now"])
    released = await events(db, "LockReleasedEvent", worker_id="w-cut")
    assert [(e["symbol"], e["reason"]) for e in released] == \
        [(refused["symbol"], "ENTRY_CUTOFF")]
    line = one_line(logs, event_type="EntryCutoffEvent", worker_id="w-cut")   # §6: WARN
    assert line["level"] == "warning"
    has_fields(line, "worker_id", "symbol", "cutoff_at", "liquidation_at")

    # past the cutoff the worker does not even scan; it says so once
    scans = len(await scanned_signals(rig))
    for _ in range(3):
        await rig.step()
    assert len(await scanned_signals(rig)) == scans
    assert len(lines(logs, event="entry cutoff reached: no new entries today",
                     worker_id="w-cut")) == 1
    assert await db.pool.fetchval("SELECT count(*) FROM orders") == 0


async def test_a_scan_older_than_its_freshness_limit_is_discarded_then_a_fresh_one_trades(
        db, logs):
    start = datetime(2026, 11, 24, 11, 0, 10, tzinfo=SEOUL)
    clock = FrozenClock(start)
    rig = await build(db, worker_id="w-stale", clock=clock,
                      market=SimMarket(7, n_symbols=40, clock=clock),
                      TRADEFLEET_RISK__SCAN_MAX_AGE_SECONDS="120")
    await slow_poll(rig, session_minutes=4, held="get_minute_bars")              # 240 s > 120 s

    assert rig.clock.now() < CUTOFF_AT
    assert (await scanned_signals(rig))[-1] > 0, "the slow scan found something to buy"
    assert await db.pool.fetchval("SELECT count(*) FROM orders") == 0
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 0
    [stale] = await events(db, "StaleScanDiscardedEvent", worker_id="w-stale")
    assert stale["max_age_seconds"] == 120 and stale["age_seconds"] >= 240
    assert await events(db, "EntryCutoffEvent") == []
    line = one_line(logs, event_type="StaleScanDiscardedEvent", worker_id="w-stale")
    assert line["level"] == "warning"
    has_fields(line, "worker_id", "symbol", "age_seconds", "max_age_seconds")
    assert (await worker_row(db, "w-stale"))["status"] == "SCAN"

    # a discarded scan does not stop buying: the next fresh scan is traded on
    symbol = await poll_until_holding(rig)
    order = await db.pool.fetchrow("SELECT symbol, side, purpose FROM orders")
    assert (order["symbol"], order["side"], order["purpose"]) == (symbol, "BUY", "ENTRY")
    assert len(await events(db, "StaleScanDiscardedEvent", worker_id="w-stale")) == 1
