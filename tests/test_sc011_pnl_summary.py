"""SC-011: realized PnL after costs per position, and the daily summary, checked against an
independent computation from the recorded fills and the configured cost rates."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from tests.test_locks import register

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.postgres.event_store import fetch_events
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.costs import CostModel
from tradefleet.ports.trade_store import StrategyTag
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_service import OrderService

AT = datetime(2026, 11, 24, 9, 30, tzinfo=SEOUL)
COSTS = CostModel(Decimal("0.00015"), Decimal("0.00025"))
# sell-side (transaction, rural special) tax by market, 2026 law; NULL = unknown: the highest
TAXES = {"KOSPI": ("0.0005", "0.0015"), "KOSDAQ": ("0.0020", "0"), "KONEX": ("0.0010", "0"),
         "ETF": ("0", "0"), "ETN": ("0", "0")}


def floor_won(amount: int, rate: str) -> int:
    return int((Decimal(amount) * Decimal(rate)).to_integral_value(ROUND_FLOOR))


def sell_tax(amount: int, market: str | None) -> int:
    rates = [TAXES[market]] if market is not None else list(TAXES.values())
    return max(floor_won(amount, t) + floor_won(amount, r) for t, r in rates)


async def test_sc011_pnl_and_daily_summary_over_wins_and_losses(db, sink, logs):
    await register(db, sink, "w1")
    clock = FrozenClock(AT)
    market = SimMarket(11, n_symbols=60, clock=clock)
    service = OrderService(PostgresOrderStore(db, costs=COSTS), SimBroker(market), sink, clock,
                           strategy=StrategyTag("ma_breakout", "1", "p1"))
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=600)
    u = market.universe
    symbols = [s for i, s in enumerate(u.symbols) if not u.thin[i] and u.depth[i] >= 10][:8]
    for n, symbol in enumerate(symbols):
        lock = await locks.acquire_lock(symbol, "w1")
        buy = await service.create_order(lock, side="BUY", qty=10, order_type="MARKET",
                                         limit_price=None, purpose="ENTRY")
        await service.track(await service.send_order(buy), timeout_s=1)
        clock.advance(60 * (5 + 7 * n))                  # hold for a while: prices move
        sell = await service.create_order(lock, side="SELL", qty=10, order_type="MARKET",
                                          limit_price=None, purpose="TIME_EXIT")
        await service.track(await service.send_order(sell), timeout_s=1)
        await locks.release_lock(lock, "EXITED")

    positions = await db.pool.fetch("SELECT * FROM positions ORDER BY position_id")
    assert len(positions) == len(symbols) and all(p["status"] == "CLOSED" for p in positions)
    expected = []
    for p in positions:
        fills = await db.pool.fetch(
            """SELECT f.side, f.amount FROM fills f JOIN orders o USING (order_id)
               WHERE o.symbol = $1""", p["symbol"])
        bought = sum(f["amount"] for f in fills if f["side"] == "BUY")
        sold = sum(f["amount"] for f in fills if f["side"] == "SELL")
        fees = floor_won(bought, "0.00015") + floor_won(sold, "0.00025")
        tax = sell_tax(sold, p["market"])
        net = sold - bought - fees - tax
        assert p["realized_pnl"] == net
        assert (p["fees"], p["taxes"]) == (fees, tax)
        expected.append(net)
    wins = sum(1 for x in expected if x > 0)
    losses = sum(1 for x in expected if x < 0)
    assert wins >= 1 and losses >= 1, f"scenario needs wins and losses, got {expected}"

    s = await db.pool.fetchrow("SELECT * FROM daily_summaries WHERE worker_id = 'w1'")
    assert s["realized_pnl"] == sum(expected)
    assert s["trades_count"] == len(expected)
    assert (s["win_count"], s["loss_count"]) == (wins, losses)
    assert s["max_loss"] == min(expected)
    # NUMERIC columns round half away from zero (Python's ROUND_HALF_UP), not half-even
    assert s["win_rate"] == (Decimal(wins) / len(expected)).quantize(Decimal("0.0001"),
                                                                     ROUND_HALF_UP)
    assert s["avg_pnl"] == (Decimal(sum(expected)) / len(expected)).quantize(Decimal("0.01"),
                                                                             ROUND_HALF_UP)
    exited = await fetch_events(db.pool, "PositionExitedEvent")
    assert sorted(e["payload"]["realized_pnl"] for e in exited) == sorted(expected)
    assert len(await fetch_events(db.pool, "PnlCalculatedEvent")) == len(expected)
    last = (await fetch_events(db.pool, "DailySummaryUpdatedEvent"))[-1]["payload"]
    assert last["trades_count"] == len(expected) and last["realized_pnl"] == sum(expected)
    assert len(logs.of("DailySummaryUpdatedEvent")) == len(expected)


async def test_closed_trade_notes_its_entry_scan_in_tuning(db, sink):
    await register(db, sink, "w1")
    clock = FrozenClock(AT)
    market = SimMarket(11, n_symbols=30, clock=clock)
    service = OrderService(PostgresOrderStore(db), SimBroker(market), sink, clock)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=600)
    u = market.universe
    symbol = next(s for i, s in enumerate(u.symbols) if not u.thin[i] and u.depth[i] >= 10)
    await db.pool.execute(
        """INSERT INTO candidates (scan_id, worker_id, trading_day, symbol, price, volume,
               traded_value, change_rate, spread_ticks, passed_filters, indicators, signal,
               strategy_name, strategy_version, param_version)
           VALUES (gen_random_uuid(), 'w1', $1, $2, 1000, 5, 5000, 1.5, 1, true,
                   '{"sma": 990}', true, 'ma_breakout', '1', 'p1')""", AT.date(), symbol)
    lock = await locks.acquire_lock(symbol, "w1")
    for side in ("BUY", "SELL"):
        row = await service.create_order(lock, side=side, qty=2, order_type="MARKET",
                                         limit_price=None, purpose="ENTRY" if side == "BUY"
                                         else "STOP_LOSS")
        await service.track(await service.send_order(row), timeout_s=1)
    tuning = await db.pool.fetchval("SELECT tuning FROM daily_summaries")
    pnl = await db.pool.fetchval("SELECT realized_pnl FROM positions")
    [note] = tuning["trades"]
    assert note["symbol"] == symbol and note["pnl"] == pnl and note["exit_reason"] == "STOP_LOSS"
    assert note["entry_scan"]["passed_filters"] is True
    assert note["entry_scan"]["indicators"] == {"sma": 990}
