"""Shared quotes: in each poll window N workers on one account cost the quote calls of one."""

from __future__ import annotations

import asyncio
from datetime import datetime

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.shared_quotes import SharedQuotesBroker
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket

WORKERS = 10


async def test_ten_workers_share_one_fetch_per_window(pg_dsn):
    clock = FrozenClock(datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL))
    market = SimMarket(3, n_symbols=120, clock=clock)
    universe = market.symbols()
    dbs = [await Database.connect(pg_dsn, min_size=1, max_size=2) for _ in range(WORKERS)]
    brokers = [SharedQuotesBroker(SimBroker(market), db, clock, account_key="acct",
                                  window_seconds=5) for db in dbs]
    try:
        first = await asyncio.gather(*[b.get_quotes(universe) for b in brokers])
        assert sum(b.fetched_here for b in brokers) == 1
        assert sum(b.served_shared for b in brokers) == WORKERS - 1
        assert all(q == first[0] for q in first)          # same snapshot, bit for bit
        assert set(first[0]) == set(universe)
        assert first[0][universe[0]] == market.quote(universe[0])

        clock.advance(5)                                    # next poll window: one more fetch
        second = await asyncio.gather(*[b.get_quotes(universe) for b in brokers])
        assert sum(b.fetched_here for b in brokers) == 2
        assert all(q == second[0] for q in second)

        # a different universe is a different snapshot
        await brokers[0].get_quotes(universe[:10])
        assert sum(b.fetched_here for b in brokers) == 3
    finally:
        for db in dbs:
            await db.close()
