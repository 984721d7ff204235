"""The market recorded at entry decides the taxes charged at close (migration 0008): a real
Postgres, real fills applied through position_store, figures worked by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import asyncpg
import pytest
from tests.test_locks import register

from tradefleet.adapters.postgres.position_store import apply_fill
from tradefleet.domain.costs import CostModel
from tradefleet.domain.markets import Market
from tradefleet.ports.trade_store import StrategyTag

DAY = date(2026, 11, 24)
COSTS = CostModel(Decimal("0.00015"), Decimal("0.00015"))
TAG = StrategyTag("ma_breakout", "ma_breakout/1", "p1")


async def round_trip(db, symbol: str, market: Market | None) -> asyncpg.Record:
    """20 shares bought at 10,000 (200,000 won) and sold at 10,050 (201,000 won)."""
    common = {"worker_id": "w1", "trading_day": DAY, "symbol": symbol, "qty": 20,
              "fencing_token": 1, "strategy": TAG, "costs": COSTS}
    async with db.money_transaction() as conn:
        await apply_fill(conn, side="BUY", amount=200_000, purpose="ENTRY", market=market,
                         **common)
    async with db.money_transaction() as conn:
        await apply_fill(conn, side="SELL", amount=201_000, purpose="TAKE_PROFIT", **common)
    return await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = $1", symbol)


@pytest.mark.parametrize(("market", "taxes"), [
    (Market.KOSPI, 401),     # 100 (100.5) transaction + 301 (301.5) rural special
    (Market.KOSDAQ, 402),    # 402.0
    (Market.KONEX, 201),     # 201.0
    (Market.ETF, 0),
    (Market.ETN, 0),
])
async def test_close_charges_the_taxes_of_the_market_recorded_at_entry(db, sink, market,
                                                                       taxes):
    await register(db, sink, "w1")
    row = await round_trip(db, "005930", market)
    assert row["market"] == market.value and row["status"] == "CLOSED"
    # fees: 30 (30.0) + 30 (30.15); gross 1,000
    assert (row["fees"], row["taxes"], row["realized_pnl"]) == (60, taxes, 1_000 - 60 - taxes)
    summary = await db.pool.fetchrow("SELECT * FROM daily_summaries WHERE worker_id = 'w1'")
    assert (summary["taxes"], summary["realized_pnl"]) == (taxes, 1_000 - 60 - taxes)


async def test_unknown_market_is_stored_null_and_charged_the_highest_tax(db, sink):
    await register(db, sink, "w1")
    row = await round_trip(db, "000660", None)
    assert row["market"] is None
    assert (row["taxes"], row["realized_pnl"]) == (402, 1_000 - 60 - 402)


async def test_a_row_from_before_0008_closes_with_the_highest_tax(db, sink):
    """An OPEN position written before the column existed (market NULL) still closes."""
    await register(db, sink, "w1")
    await db.pool.execute(
        """INSERT INTO positions (worker_id, trading_day, symbol, status, qty, bought_qty,
               buy_amount, entry_price, entry_at, strategy_name, strategy_version,
               param_version, fencing_token)
           VALUES ('w1', $1, '035720', 'OPEN', 20, 20, 200000, 10000, now(), 'ma_breakout',
                   'ma_breakout/1', 'p1', 1)""", DAY)
    async with db.money_transaction() as conn:
        await apply_fill(conn, worker_id="w1", trading_day=DAY, symbol="035720", side="SELL",
                         qty=20, amount=201_000, fencing_token=1, purpose="LIQUIDATION",
                         strategy=TAG, costs=COSTS)
    row = await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = '035720'")
    assert (row["status"], row["taxes"], row["realized_pnl"]) == ("CLOSED", 402, 538)


async def test_database_refuses_a_market_it_does_not_know(db, sink):
    await register(db, sink, "w1")
    await round_trip(db, "005930", Market.KOSPI)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.pool.execute("UPDATE positions SET market = 'NYSE'")
    checks = await db.pool.fetch(
        """SELECT conrelid::regclass::text AS tbl, pg_get_constraintdef(oid) AS def
             FROM pg_constraint
            WHERE contype = 'c' AND pg_get_constraintdef(oid) LIKE '%market%'""")
    assert sorted(c["tbl"] for c in checks) == ["orders", "positions"]
    assert all("'ETN'" in c["def"] and "'KOSDAQ'" in c["def"] for c in checks)
