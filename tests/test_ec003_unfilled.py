"""EC-003 / SC-008: liquidating a thin symbol whose market sells fill only partly: bounded
retries, partial fills recorded, WARN logs, and the shortfall noted in the daily summary."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from tests.test_locks import register

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.postgres.event_store import fetch_events
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.adapters.postgres.summary_store import PostgresSummaryStore
from tradefleet.adapters.sim import book
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.krx import tick_size
from tradefleet.services.liquidation_service import LiquidationService
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_service import OrderService

AT = datetime(2026, 11, 24, 14, 0, tzinfo=SEOUL)


async def test_ec003_thin_symbol_liquidation_retries_three_times_then_reports(db, sink, logs):
    await register(db, sink, "w1")
    clock = FrozenClock(AT)
    market = SimMarket(5, n_symbols=60, clock=clock)
    broker = SimBroker(market)
    store = PostgresOrderStore(db)
    summaries = PostgresSummaryStore(db)
    orders = OrderService(store, broker, sink, clock, summaries=summaries)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=600)
    u = market.universe
    i_thin = next(i for i in range(len(u.symbols)) if u.thin[i])
    i_liquid = next(i for i in range(len(u.symbols)) if not u.thin[i] and u.depth[i] >= 10)
    thin, liquid = u.symbols[i_thin], u.symbols[i_liquid]
    per_call = book.LEVELS * int(u.depth[i_thin])      # what one market order can take
    held_locks = []
    for symbol, n_buys in ((thin, 4), (liquid, 1)):
        lock = await locks.acquire_lock(symbol, "w1")
        held_locks.append(lock)
        for _ in range(n_buys):
            qty = per_call if symbol == thin else 5
            buy = await orders.create_order(lock, side="BUY", qty=qty, order_type="MARKET",
                                            limit_price=None, purpose="ENTRY")
            await orders.track(await orders.send_order(buy), timeout_s=1)
    held = {r["symbol"]: r["qty"] for r in await db.pool.fetch("SELECT * FROM positions")}
    assert held[thin] == 4 * per_call

    service = LiquidationService(orders, store, summaries, broker, sink, clock,
                                 retry_wait_s=30)
    unsold = await service.liquidate("w1", held_locks, liquidation_at=clock.now())

    assert [(x.symbol, x.unsold_qty, x.attempts) for x in unsold] == [(thin, per_call, 3)]
    sells = await db.pool.fetch(
        "SELECT * FROM orders WHERE side = 'SELL' AND symbol = $1 ORDER BY order_id", thin)
    assert [o["attempt"] for o in sells] == [1, 2, 3]
    assert all(o["purpose"] == "LIQUIDATION" and o["filled_qty"] == per_call for o in sells)
    fills = await db.pool.fetch("SELECT * FROM fills WHERE side = 'SELL' AND symbol = $1", thin)
    assert sum(f["qty"] for f in fills) == 3 * per_call
    pos = {r["symbol"]: r for r in await db.pool.fetch("SELECT * FROM positions")}
    assert pos[thin]["status"] == "OPEN" and pos[thin]["qty"] == per_call
    assert pos[liquid]["status"] == "CLOSED"
    mandatory = (await fetch_events(db.pool, "MandatoryLiquidationEvent"))[0]["payload"]
    assert mandatory["order_of_exit"][0] == thin          # least liquid first
    assert [r["will_retry"] for r in logs.of("OrderUnfilledEvent")] == [True, True, False]
    assert {r["level"] for r in logs.of("OrderUnfilledEvent")} == {"warning"}
    assert [r["level"] for r in logs.of("LiquidationShortfallEvent")] == ["warning"]
    tuning = await db.pool.fetchval("SELECT daily_tuning(trading_day, worker_id) "
                                    "FROM daily_summaries WHERE worker_id = 'w1'")
    assert tuning["liquidity_shortfall"][0]["symbol"] == thin
    assert tuning["liquidity_shortfall"][0]["unsold_qty"] == per_call
    assert tuning["liquidity_shortfall"][0]["attempts"] == 3
    # the thin book's market sells filled far below the quote the decision used
    by_id = {o["order_id"]: o for o in sells}
    adverse = tuning.get("adverse_fills", [])
    assert adverse, "thin-book liquidation fills should be noted as adverse"
    for note in adverse:
        o = by_id[note["order_id"]]
        avg = Decimal(o["filled_amount"]) / o["filled_qty"]
        assert Decimal(note["avg_fill_price"]) == avg.quantize(Decimal("0.01"))
        ticks = (note["decision_price"] - avg) / tick_size(note["decision_price"])
        assert ticks > 2 and Decimal(note["ticks"]) == ticks.quantize(Decimal("0.01"))
    # how much forcing the sale cost, against the mark when liquidation began
    impact = {n["symbol"]: n for n in tuning["liquidation_impact"]}
    assert set(impact) == {thin, liquid}
    for sym in (thin, liquid):
        p, note = pos[sym], impact[sym]
        start_mark = note["price_at_start"] * held[sym] - p["buy_amount"]
        after_mark = p["sell_amount"] + p["qty"] * note["price_at_start"] - p["buy_amount"]
        assert (note["gross_at_start"], note["gross_after"]) == (start_mark, after_mark)
        assert note["widened_by"] == max(0, start_mark - after_mark)
    assert impact[thin]["widened_by"] > 0
