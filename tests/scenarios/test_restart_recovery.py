"""A worker killed while holding (task cancelled, no clean-up) and restarted under the same
worker_id resumes HOLD on the same position and lock; the market saw exactly one buy."""

from __future__ import annotations

import asyncio
from datetime import datetime

from tests.scenarios.test_multi_worker_day import ACTIVE
from tests.scenarios.test_sc001_start import settings_for, wait_for_status

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.orders import Side
from tradefleet.worker.launch import launch

HOLDING = {**ACTIVE, "TRADEFLEET_EXITS__STOP_LOSS_PCT": "20",
           "TRADEFLEET_EXITS__TAKE_PROFIT_PCT": "20", "TRADEFLEET_EXITS__TREND_MA_WINDOW": "120",
           "TRADEFLEET_EXITS__TIME_EXIT_MINUTES": "0",
           "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "10000000",
           "TRADEFLEET_RISK__SCAN_MAX_AGE_SECONDS": "3600"}     # 600x: real ms are minutes


async def test_killed_holding_worker_resumes_without_buying_again(db, logs):
    clock = SimClock(datetime(2026, 11, 24, 9, 0, 5, tzinfo=SEOUL), speed=600)
    market = SimMarket(17, n_symbols=30, clock=clock)
    settings = settings_for("w-phoenix", **HOLDING)

    def start(built: list) -> asyncio.Task:
        return asyncio.create_task(launch(
            settings, broker=SimBroker(market), clock=clock, universe=market.symbols(),
            db=db, install_signals=False, on_built=built.append, track_timeout_s=1.0))

    first: list = []
    task = start(first)
    await wait_for_status(db, "w-phoenix", "HOLD", task, timeout=20)
    before = await db.pool.fetchrow("SELECT * FROM positions WHERE status = 'OPEN'")
    lock_before = await db.pool.fetchrow("SELECT * FROM stock_locks")
    task.cancel()                                   # killed: no stop, no release, no sale
    await asyncio.gather(task, return_exceptions=True)
    assert await db.pool.fetchval(
        "SELECT status FROM workers WHERE worker_id = 'w-phoenix'") == "HOLD"

    second: list = []
    task = start(second)
    for _ in range(200):                            # wait for the new epoch to resume
        row = await db.pool.fetchrow("SELECT * FROM workers WHERE worker_id = 'w-phoenix'")
        if second and second[0].epoch and row["epoch"] == second[0].epoch \
                and row["status"] == "HOLD":
            break
        assert not task.done(), task.result()
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("restarted worker did not resume HOLD")
    assert row["current_symbol"] == before["symbol"]
    second[0].request_stop("test over")
    assert await asyncio.wait_for(task, 10) == 0

    after = await db.pool.fetchrow(
        "SELECT * FROM positions WHERE position_id = $1", before["position_id"])
    assert (after["status"], after["qty"]) == ("OPEN", before["qty"])
    lock_after = await db.pool.fetchrow("SELECT * FROM stock_locks")
    assert (lock_after["symbol"], lock_after["worker_id"]) == \
        (lock_before["symbol"], "w-phoenix")
    buys = market.find(before["symbol"], Side.BUY, clock.now().replace(hour=0))
    assert len(buys) == 1
    assert await db.pool.fetchval("SELECT count(*) FROM orders WHERE side = 'BUY'") == 1
    transitions = await db.pool.fetch(
        "SELECT payload FROM events WHERE event_type = 'StateTransitionedEvent' "
        "ORDER BY event_id")
    assert ("IDLE", "HOLD") in [(t["payload"]["from_status"], t["payload"]["to_status"])
                                for t in transitions]
