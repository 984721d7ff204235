"""SC-005: after the lock, the worker sizes the buy (capital limit / current price), sends
one market order, follows it to its fill, records order, fills and position (entry price and
time, strategy and parameter versions) and moves SCAN -> HOLD on the symbol.

검증: orders FILLED, fills rows, positions qty > 0, workers current_symbol = the symbol and
status = HOLD, PositionEnteredEvent, log lines (order sent, fill; INFO)."""

from __future__ import annotations

from decimal import Decimal

from tests.scenarios.evidence import events, has_fields, one_line, worker_row
from tests.scenarios.harness import build, poll_until_holding

from tradefleet.domain.orders import Side
from tradefleet.domain.strategies import get_strategy

CAPITAL = 1_000_000


async def test_entry_sizes_sends_fills_records_and_holds(db, logs):
    rig = await build(db, worker_id="w-entry", capital_limit=CAPITAL)
    symbol = await poll_until_holding(rig)

    [scan] = (await events(db, "CandidateScannedEvent", worker_id="w-entry"))[-1:]
    price = await db.pool.fetchval(
        "SELECT price FROM candidates WHERE scan_id = $1 AND symbol = $2",
        scan["scan_id"], symbol)
    order = await db.pool.fetchrow("SELECT * FROM orders WHERE worker_id = 'w-entry'")
    assert (order["symbol"], order["side"], order["order_type"], order["purpose"]) == \
        (symbol, "BUY", "MARKET", "ENTRY")
    assert order["qty"] == CAPITAL // price > 0                    # 한도액 / 현재가
    assert order["status"] == "FILLED" and order["filled_qty"] == order["qty"]
    fills = await db.pool.fetch("SELECT * FROM fills WHERE order_id = $1", order["order_id"])
    assert fills and sum(f["qty"] for f in fills) == order["qty"]
    assert sum(f["amount"] for f in fills) == order["filled_amount"]
    pos = await db.pool.fetchrow("SELECT * FROM positions WHERE worker_id = 'w-entry'")
    strategy = get_strategy("ma_breakout", {"short": 2, "long": 5, "breakout_window": 5})
    assert (pos["symbol"], pos["status"], pos["qty"]) == (symbol, "OPEN", order["qty"])
    assert pos["entry_price"] == Decimal(order["filled_amount"]) / order["qty"]
    assert pos["entry_at"] is not None
    assert (pos["strategy_name"], pos["strategy_version"], pos["param_version"]) == \
        ("ma_breakout", strategy.strategy_version, strategy.param_version)
    row = await worker_row(db, "w-entry")
    assert (row["status"], row["current_symbol"]) == ("HOLD", symbol)
    market_side = rig.market.find(symbol, Side.BUY, rig.clock.now().replace(hour=0))
    assert len(market_side) == 1 and market_side[0].filled_qty == pos["qty"]   # sent once

    [entered] = await events(db, "PositionEnteredEvent", worker_id="w-entry")
    assert (entered["symbol"], entered["qty"], entered["position_id"]) == \
        (symbol, pos["qty"], pos["position_id"])
    assert Decimal(entered["entry_price"]) == pos["entry_price"]
    assert entered["param_version"] == strategy.param_version
    [moved] = [e for e in await events(db, "StateTransitionedEvent", worker_id="w-entry")
               if e["to_status"] == "HOLD"]
    assert (moved["from_status"], moved["symbol"]) == ("SCAN", symbol)

    created = one_line(logs, event_type="OrderCreatedEvent", worker_id="w-entry")
    sent = one_line(logs, event_type="OrderSentEvent", worker_id="w-entry")
    for line in (created, sent):                     # §6.2 order fields, INFO
        assert line["level"] == "info"
        has_fields(line, "order_id", "symbol", "side", "qty", "status")
        assert (line["order_id"], line["symbol"], line["side"], line["qty"]) == \
            (order["order_id"], symbol, "BUY", order["qty"])
    assert (created["status"], sent["status"]) == ("NEW", "SENT")
    fill_lines = [r for r in logs.of("OrderFilledEvent") if r["worker_id"] == "w-entry"]
    assert [r["fill_id"] for r in fill_lines] == [f["fill_id"] for f in fills]
    for line, fill in zip(fill_lines, fills, strict=True):       # §6.2 fill fields, INFO
        assert line["level"] == "info"
        assert (line["symbol"], line["qty"], Decimal(line["price"])) == \
            (symbol, fill["qty"], fill["price"])
    hold = one_line(logs, event_type="PositionEnteredEvent", worker_id="w-entry")
    assert hold["level"] == "info"
