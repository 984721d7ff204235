"""Several workers (own pools, racing tasks) trade one simulated market for a whole day:
no symbol is ever held by two workers at once, and everything is flat at the end."""

from __future__ import annotations

import asyncio
from datetime import datetime

from tests.scenarios.test_sc001_start import settings_for

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.worker.launch import launch

WORKERS = ("w-day-a", "w-day-b", "w-day-c")
ACTIVE = {"TRADEFLEET_FILTERS__MIN_VOLUME": "0", "TRADEFLEET_FILTERS__MIN_TRADED_VALUE": "0",
          "TRADEFLEET_FILTERS__MAX_SPREAD_TICKS": "50",
          "TRADEFLEET_STRATEGY__PARAMS": '{"short": 2, "long": 5, "breakout_window": 5}',
          "TRADEFLEET_EXITS__STOP_LOSS_PCT": "0.5", "TRADEFLEET_EXITS__TAKE_PROFIT_PCT": "0.5",
          "TRADEFLEET_RISK__CAPITAL_LIMIT": "2000000",
          # at 2500x a poll's real milliseconds are session minutes: this day is about
          # locks, not freshness (tests/scenarios/test_entry_cutoff.py is)
          "TRADEFLEET_RISK__SCAN_MAX_AGE_SECONDS": "3600"}


async def test_three_workers_one_market_whole_day(pg_dsn, logs):
    clock = SimClock(datetime(2026, 11, 24, 9, 0, 5, tzinfo=SEOUL), speed=2500)
    market = SimMarket(17, n_symbols=30, clock=clock, initial_cash=1_000_000_000)
    dbs = [await Database.connect(pg_dsn, min_size=1, max_size=4) for _ in WORKERS]
    try:
        codes = await asyncio.wait_for(asyncio.gather(*(
            launch(settings_for(w, **ACTIVE), broker=SimBroker(market), clock=clock,
                   universe=market.symbols(), db=db, install_signals=False,
                   track_timeout_s=1.0, retry_base_delay=0.01)
            for w, db in zip(WORKERS, dbs, strict=True))), 120)
        assert codes == [0, 0, 0]
        db = dbs[0]
        events = await db.pool.fetch(
            "SELECT event_type, worker_id, symbol FROM events WHERE event_type IN "
            "('LockAcquiredEvent', 'LockReleasedEvent') ORDER BY event_id")
        holder: dict[str, str] = {}
        acquired = 0
        for e in events:
            if e["event_type"] == "LockAcquiredEvent":
                assert e["symbol"] not in holder, f"{e['symbol']} held twice"
                holder[e["symbol"]] = e["worker_id"]
                acquired += 1
            else:
                assert holder.pop(e["symbol"]) == e["worker_id"]
        assert holder == {}
        buys = await db.pool.fetch(
            "SELECT worker_id, count(*) AS n FROM orders WHERE side = 'BUY' AND "
            "filled_qty > 0 GROUP BY worker_id")
        assert acquired >= 3 and len(buys) >= 2, "the day must actually trade"
        assert await db.pool.fetchval("SELECT count(*) FROM positions WHERE qty > 0") == 0
        assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 0
        rows = await db.pool.fetch("SELECT status, current_symbol FROM workers")
        assert [(r["status"], r["current_symbol"]) for r in rows] == [("EXIT", None)] * 3
        assert all(h.qty == 0 for h in market.balance().holdings)
    finally:
        for db in dbs:
            await db.close()
