"""SC-005 (with SC-003): lock, size, send and fill a buy, then HOLD."""

from __future__ import annotations

from tests.scenarios.harness import build, enter, liquid_symbol

from tradefleet.domain.orders import Side


async def test_entry_fills_records_and_moves_to_hold(db, logs):
    rig = await build(db, worker_id="w-entry", capital_limit=3_000_000)
    symbol = liquid_symbol(rig.market)
    price = rig.market.quote(symbol).price
    buyable = rig.market.buyable_qty(symbol, None)

    await enter(rig, symbol)

    worker = await db.pool.fetchrow("SELECT * FROM workers WHERE worker_id = 'w-entry'")
    assert (worker["status"], worker["current_symbol"]) == ("HOLD", symbol)
    order = await db.pool.fetchrow("SELECT * FROM orders WHERE symbol = $1", symbol)
    assert (order["side"], order["status"], order["order_type"]) == ("BUY", "FILLED", "MARKET")
    assert order["qty"] == min(3_000_000 // price, buyable) > 0
    fills = await db.pool.fetch("SELECT * FROM fills WHERE order_id = $1", order["order_id"])
    assert fills and sum(f["qty"] for f in fills) == order["filled_qty"] > 0
    pos = await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = $1", symbol)
    assert pos["qty"] == order["filled_qty"] and pos["status"] == "OPEN"
    assert pos["entry_price"] is not None and pos["strategy_name"] == "ma_breakout"
    lock = await db.pool.fetchrow("SELECT * FROM stock_locks WHERE symbol = $1", symbol)
    assert lock["worker_id"] == "w-entry"
    market_side = rig.market.find(symbol, Side.BUY, rig.clock.now().replace(hour=0))
    assert len(market_side) == 1 and market_side[0].filled_qty == pos["qty"]

    kinds = [r["event_type"] for r in await db.pool.fetch(
        "SELECT event_type FROM events WHERE worker_id = 'w-entry' ORDER BY event_id")]
    for expected in ("LockAcquiredEvent", "OrderCreatedEvent", "OrderSentEvent",
                     "OrderFilledEvent", "PositionEnteredEvent"):
        assert expected in kinds, expected
    assert kinds.index("LockAcquiredEvent") < kinds.index("OrderCreatedEvent") \
        < kinds.index("PositionEnteredEvent")
    levels = {r.get("event"): r["level"] for r in logs.records}
    assert levels["OrderSentEvent"] == "info" and levels["OrderFilledEvent"] == "info"
