"""EC-002: the broker refuses an order (here APBK0952, orderable cash short).

A refused BUY (from the worker's own scan and entry): the REJECTED row stays, its lock is
released, WARN lines say so, and the worker tries the next candidate of the same scan.

A refused SELL (an exit condition met in HOLD): where we depart from the spec (README, "Where
we depart from the spec"): the worker still holds the shares, so it keeps the position and
the lock, stays in HOLD and sells again on its next poll. Releasing the lock would let
another worker buy the symbol while these shares are still ours to sell.

검증: orders status = REJECTED, the refused BUY's symbol has no stock_locks row,
OrderRejectedEvent, log (send failed, lock released; WARN)."""

from __future__ import annotations

from decimal import Decimal

from tests.scenarios.evidence import events, lines, one_line, worker_row
from tests.scenarios.harness import WIDE_EXITS, build, poll_until, poll_until_holding

from tradefleet.domain.exits import ExitParams
from tradefleet.domain.orders import Side

CASH_SHORT = "APBK0952"


async def test_rejected_buy_releases_its_lock_and_the_next_candidate_is_bought(db, logs):
    rig = await build(db, worker_id="w-rej")
    rig.market.faults.set("place_order", "reject", count=1, code=CASH_SHORT,
                          message="insufficient orderable cash")

    bought = await poll_until_holding(rig)

    [rejected] = await db.pool.fetch("SELECT * FROM orders WHERE status = 'REJECTED'")
    first = rejected["symbol"]
    [scan] = await events(db, "CandidateScannedEvent", worker_id="w-rej")
    assert scan["candidates"][:2] == [first, bought]        # the next one of the same scan
    assert (rejected["side"], rejected["reject_code"], rejected["filled_qty"]) == \
        ("BUY", CASH_SHORT, 0)
    assert await db.pool.fetchval(
        "SELECT count(*) FROM stock_locks WHERE symbol = $1", first) == 0
    assert await db.pool.fetchval("SELECT worker_id FROM stock_locks WHERE symbol = $1",
                                  bought) == "w-rej"
    released = await events(db, "LockReleasedEvent", worker_id="w-rej")
    assert [(e["symbol"], e["reason"]) for e in released] == [(first, "REJECTED")]
    [refusal] = await events(db, "OrderRejectedEvent", worker_id="w-rej")
    assert (refusal["symbol"], refusal["code"], refusal["order_id"]) == \
        (first, CASH_SHORT, rejected["order_id"])
    # nothing of the refused symbol reached the market, nor a position; never in HOLD on it
    assert rig.market.find(first, Side.BUY, rig.clock.now().replace(hour=0)) == []
    assert await db.pool.fetchval("SELECT count(*) FROM positions WHERE symbol = $1", first) == 0
    holds = [e["symbol"] for e in await events(db, "StateTransitionedEvent", worker_id="w-rej")
             if e["to_status"] == "HOLD"]
    assert holds == [bought]

    line = one_line(logs, event_type="OrderRejectedEvent", worker_id="w-rej")
    assert line["level"] == "warning" and line["code"] == CASH_SHORT
    assert (line["order_id"], line["symbol"], line["side"], line["status"]) == \
        (rejected["order_id"], first, "BUY", "REJECTED")
    [said] = lines(logs, event="buy order rejected; lock released", worker_id="w-rej")
    assert said["level"] == "warning" and said["symbol"] == first
    freed = one_line(logs, event_type="LockReleasedEvent", worker_id="w-rej")
    assert freed["level"] == "info" and freed["reason"] == "REJECTED"


async def test_rejected_sell_keeps_position_and_lock_and_sells_on_the_next_poll(db, logs):
    exits = ExitParams(Decimal("0.01"), WIDE_EXITS.take_profit_pct, 120, 0)   # stop-loss
    rig = await build(db, worker_id="w-rejs", exits=exits)
    symbol = await poll_until_holding(rig)
    lock = dict(await db.pool.fetchrow("SELECT * FROM stock_locks WHERE symbol = $1", symbol))
    position = dict(await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = $1", symbol))
    rig.market.faults.set("place_order", "reject", count=1, code=CASH_SHORT)

    await rig.step()                                 # exit condition met; the sell is refused

    [sell] = await db.pool.fetch("SELECT * FROM orders WHERE side = 'SELL'")
    assert (sell["symbol"], sell["status"], sell["reject_code"], sell["purpose"]) == \
        (symbol, "REJECTED", CASH_SHORT, "STOP_LOSS")
    assert dict(await db.pool.fetchrow("SELECT * FROM stock_locks WHERE symbol = $1",
                                       symbol)) == lock                       # lock kept
    now = dict(await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = $1", symbol))
    assert (now["status"], now["qty"]) == ("OPEN", position["qty"])         # shares kept
    row = await worker_row(db, "w-rejs")
    assert (row["status"], row["current_symbol"]) == ("HOLD", symbol)
    assert rig.market.find(symbol, Side.SELL, rig.clock.now().replace(hour=0)) == []
    [refusal] = await events(db, "OrderRejectedEvent", worker_id="w-rejs")
    assert (refusal["side"], refusal["code"]) == ("SELL", CASH_SHORT)
    assert await events(db, "LockReleasedEvent") == []
    line = one_line(logs, event_type="OrderRejectedEvent", worker_id="w-rejs")
    assert line["level"] == "warning" and line["side"] == "SELL"
    [kept] = lines(logs, event="sell order rejected; keeping position and lock",
                   worker_id="w-rejs")
    assert kept["level"] == "warning" and kept["code"] == CASH_SHORT

    await poll_until(rig, lambda: rig.cycle.holding is None)   # the next poll sells again

    sells = await db.pool.fetch("SELECT status, purpose FROM orders WHERE side = 'SELL' "
                                "ORDER BY order_id")
    assert [s["status"] for s in sells] == ["REJECTED", "FILLED"]
    closed = await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = $1", symbol)
    assert (closed["status"], closed["qty"]) == ("CLOSED", 0)
    [released] = await events(db, "LockReleasedEvent", worker_id="w-rejs")
    assert (released["symbol"], released["reason"]) == (symbol, "EXITED")
    assert (await worker_row(db, "w-rejs"))["status"] == "SCAN"
