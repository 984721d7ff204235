"""EC-003 on the worker's own poll: a worker holds an illiquid symbol when liquidation time
comes; the book has thinned out, so its market sells fill only in part. The unfilled rest
is retried (3 attempts), the shortfall is logged (WARN) and noted in the daily summary, and
the worker keeps the position and its lock (the shares are still its own). Once the book
can take the rest, the next poll sells it: the lock is released and the worker goes back
to SCAN.

검증: fills rows of the partial sells, log (unfilled, retried; WARN), daily summary
(liquidity shortfall, adverse fills)."""

from __future__ import annotations

from datetime import timedelta

from tests.scenarios.evidence import events, lines, worker_row
from tests.scenarios.harness import DAY_START, LIQUIDATION_AT, build, poll_until_holding

from tradefleet.adapters.clock import FrozenClock
from tradefleet.adapters.sim import book
from tradefleet.adapters.sim.engine import SimMarket


async def test_partial_liquidation_retries_reports_keeps_the_lock_then_sells_and_scans(db, logs):
    clock = FrozenClock(DAY_START)
    market = SimMarket(7, n_symbols=40, clock=clock)
    u = market.universe
    rig = await build(db, worker_id="w-thin", market=market, clock=clock)
    symbol = await poll_until_holding(rig)
    i = u.symbols.index(symbol)
    held = rig.cycle.holding.qty
    depth = int(u.depth[i])
    # by the afternoon the symbol's book has thinned out to one share per level: one market
    # sell takes LEVELS shares, walking down the bids
    u.depth[i] = 1
    per_sell = book.LEVELS
    assert held > 3 * per_sell, f"scenario needs a position larger than 3 sells ({held})"
    lock = dict(await db.pool.fetchrow("SELECT * FROM stock_locks WHERE symbol = $1", symbol))

    clock.set(LIQUIDATION_AT + timedelta(seconds=30))
    await rig.step(0)

    sells = await db.pool.fetch(
        "SELECT * FROM orders WHERE side = 'SELL' ORDER BY order_id")
    assert [(s["attempt"], s["purpose"], s["filled_qty"]) for s in sells] == \
        [(n, "LIQUIDATION", per_sell) for n in (1, 2, 3)]
    fills = await db.pool.fetch("SELECT * FROM fills WHERE side = 'SELL'")
    assert sum(f["qty"] for f in fills) == 3 * per_sell               # the partial fills
    pos = await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = $1", symbol)
    assert (pos["status"], pos["qty"]) == ("OPEN", held - 3 * per_sell)
    assert dict(await db.pool.fetchrow("SELECT * FROM stock_locks WHERE symbol = $1",
                                       symbol)) == lock               # still ours, untouched
    row = await worker_row(db, "w-thin")
    assert (row["status"], row["current_symbol"]) == ("HOLD", symbol)
    unfilled = lines(logs, event_type="OrderUnfilledEvent", worker_id="w-thin")
    assert [(r["attempt"], r["will_retry"], r["level"]) for r in unfilled] == \
        [(1, True, "warning"), (2, True, "warning"), (3, False, "warning")]
    assert [r["unfilled_qty"] for r in unfilled] == \
        [held - n * per_sell for n in (1, 2, 3)]
    [short] = lines(logs, event_type="LiquidationShortfallEvent", worker_id="w-thin")
    assert short["level"] == "warning" and short["unsold_qty"] == held - 3 * per_sell
    tuning = await db.pool.fetchval(
        "SELECT daily_tuning(trading_day, worker_id) FROM daily_summaries "
        "WHERE worker_id = 'w-thin'")
    [note] = tuning["liquidity_shortfall"]
    assert (note["symbol"], note["unsold_qty"], note["attempts"]) == \
        (symbol, held - 3 * per_sell, 3)
    assert tuning["adverse_fills"], "sells far below the decision quote are noted"
    assert {n["symbol"] for n in tuning["adverse_fills"]} == {symbol}
    assert await events(db, "LockRejectedEvent") == []     # nothing claims it was taken

    u.depth[i] = depth                               # the book can take the rest again
    await rig.step()

    pos = await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = $1", symbol)
    assert (pos["status"], pos["qty"], pos["exit_reason"]) == ("CLOSED", 0, "LIQUIDATION")
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 0
    [released] = await events(db, "LockReleasedEvent", worker_id="w-thin")
    assert (released["symbol"], released["reason"]) == (symbol, "EXITED")
    row = await worker_row(db, "w-thin")
    assert (row["status"], row["current_symbol"]) == ("SCAN", None)
    assert not [h for h in market.balance().holdings if h.symbol == symbol and h.qty]
