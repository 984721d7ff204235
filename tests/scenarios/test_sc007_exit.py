"""SC-007: an exit condition sells the whole position, records PnL, frees the lock and
returns the worker to SCAN."""

from __future__ import annotations

from decimal import Decimal

from tests.scenarios.harness import build, enter, later, liquid_symbol

from tradefleet.domain.exits import ExitParams

# a time exit 10 hours before liquidation is always due: the first HOLD poll must exit
ALWAYS_EXIT = ExitParams(stop_loss_pct=Decimal("50"), take_profit_pct=Decimal("50"),
                         trend_ma_window=240, time_exit_minutes=600)


async def test_exit_condition_sells_closes_and_returns_to_scan(db, logs):
    rig = await build(db, worker_id="w-exit", exits=ALWAYS_EXIT)
    symbol = liquid_symbol(rig.market)
    await enter(rig, symbol)
    later(rig, 1)

    await rig.cycle.poll()

    sell = await db.pool.fetchrow("SELECT * FROM orders WHERE side = 'SELL'")
    assert (sell["symbol"], sell["status"], sell["purpose"]) == (symbol, "FILLED", "TIME_EXIT")
    assert await db.pool.fetchval(
        "SELECT sum(qty) FROM fills WHERE order_id = $1", sell["order_id"]) == sell["qty"]
    pos = await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = $1", symbol)
    assert (pos["qty"], pos["status"]) == (0, "CLOSED")
    assert pos["realized_pnl"] is not None
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 0
    worker = await db.pool.fetchrow("SELECT * FROM workers WHERE worker_id = 'w-exit'")
    assert (worker["status"], worker["current_symbol"]) == ("SCAN", None)
    summary = await db.pool.fetchrow("SELECT * FROM daily_summaries")
    assert summary["trades_count"] == 1
    exited = await db.pool.fetch(
        "SELECT payload FROM events WHERE event_type = 'PositionExitedEvent'")
    assert len(exited) == 1 and exited[0]["payload"]["realized_pnl"] == pos["realized_pnl"]
    released = await db.pool.fetch(
        "SELECT payload FROM events WHERE event_type = 'LockReleasedEvent'")
    assert [r["payload"]["reason"] for r in released] == ["EXITED"]
    assert rig.cycle.holding is None
