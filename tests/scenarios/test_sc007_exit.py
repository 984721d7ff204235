"""SC-007: in HOLD, the first exit condition met (stop-loss, take-profit, trend break, or the
time exit before liquidation) sells the whole position at market; the fills close the
position with its PnL, the daily summary accumulates it, the lock is released and the worker
returns to SCAN. One test per exit reason, each configured so that only its check can fire.

검증: orders SELL FILLED, fills of the sell, positions qty = 0, no stock_locks row for the
symbol, workers current_symbol = NULL and status = SCAN, daily_summaries PnL updated,
PositionExitedEvent, log lines (exit condition, sell sent, fill, lock released)."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

import pytest
from tests.scenarios.evidence import events, has_fields, one_line, worker_row
from tests.scenarios.harness import DAY_START, build, poll_until, poll_until_holding

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.exits import ExitParams

WIDE = Decimal("29.9")
TIGHT = Decimal("0.01")
# reason -> (exit params, clock start, market open): before 11:00 a 120-bar trend window has
# too few bars to judge; for the time exit the simulated market opens at 13:00, so at 13:15
# (15:15 liquidation - 120 minutes) it is the only check that can fire
CASES = {
    "STOP_LOSS": (ExitParams(TIGHT, WIDE, 120, 0), DAY_START, time(9, 0)),
    "TAKE_PROFIT": (ExitParams(WIDE, TIGHT, 120, 0), DAY_START, time(9, 0)),
    "TREND_BREAK": (ExitParams(WIDE, WIDE, 2, 0), DAY_START, time(9, 0)),
    "TIME_EXIT": (ExitParams(WIDE, WIDE, 120, 120),
                  datetime(2026, 11, 24, 13, 15, 10, tzinfo=SEOUL), time(13, 0)),
}
CHECK_OF = {"STOP_LOSS": "stop_loss", "TAKE_PROFIT": "take_profit",
            "TREND_BREAK": "trend_break", "TIME_EXIT": "time_exit"}


@pytest.mark.parametrize("reason", list(CASES))
async def test_exit_condition_sells_closes_releases_and_returns_to_scan(db, logs, reason):
    exits, start, opens = CASES[reason]
    clock = FrozenClock(start)
    market = SimMarket(7, n_symbols=40, clock=clock, session_open=opens)
    wid = f"w-{reason.lower().replace('_', '-')}"
    rig = await build(db, worker_id=wid, market=market, clock=clock, exits=exits)
    symbol = await poll_until_holding(rig)
    lock = dict(await db.pool.fetchrow("SELECT * FROM stock_locks WHERE symbol = $1", symbol))
    await poll_until(rig, lambda: rig.cycle.holding is None)

    sells = await db.pool.fetch("SELECT * FROM orders WHERE side = 'SELL'")
    assert sells and all((s["symbol"], s["purpose"]) == (symbol, reason) for s in sells)
    sell = sells[-1]
    assert sell["status"] == "FILLED"
    sold = await db.pool.fetchval(
        """SELECT sum(f.qty) FROM fills f JOIN orders o USING (order_id)
            WHERE o.side = 'SELL' AND o.symbol = $1""", symbol)
    pos = await db.pool.fetchrow("SELECT * FROM positions WHERE symbol = $1", symbol)
    assert sold == pos["bought_qty"] > 0
    assert (pos["qty"], pos["status"], pos["exit_reason"]) == (0, "CLOSED", reason)
    assert pos["realized_pnl"] is not None and pos["exit_price"] is not None
    assert await db.pool.fetchval(
        "SELECT count(*) FROM stock_locks WHERE symbol = $1", symbol) == 0
    row = await worker_row(db, wid)
    assert (row["status"], row["current_symbol"]) == ("SCAN", None)
    summary = await db.pool.fetchrow(
        "SELECT * FROM daily_summaries WHERE worker_id = $1", wid)
    assert (summary["realized_pnl"], summary["trades_count"]) == (pos["realized_pnl"], 1)

    [exited] = await events(db, "PositionExitedEvent", worker_id=wid)
    assert (exited["symbol"], exited["exit_reason"], exited["realized_pnl"]) == \
        (symbol, reason, pos["realized_pnl"])
    [released] = await events(db, "LockReleasedEvent", worker_id=wid)
    assert (released["symbol"], released["reason"], released["fencing_token"]) == \
        (symbol, "EXITED", lock["fencing_token"])
    [moved] = [e for e in await events(db, "StateTransitionedEvent", worker_id=wid)
               if e["from_status"] == "HOLD"]
    assert moved["to_status"] == "SCAN"

    met = one_line(logs, event="exit condition met", worker_id=wid)
    assert met["level"] == "info" and met["reason"] == reason and met["symbol"] == symbol
    assert [k for k, hit in met["checks"].items() if hit] == [CHECK_OF[reason]]
    sent = one_line(logs, event_type="OrderSentEvent", worker_id=wid, side="SELL")
    assert sent["level"] == "info" and sent["order_id"] == sell["order_id"]
    filled = [r for r in logs.of("OrderFilledEvent") if r["worker_id"] == wid
              and r["side"] == "SELL"]
    assert filled and {r["level"] for r in filled} == {"info"}
    assert sum(r["qty"] for r in filled) == sold
    freed = one_line(logs, event_type="LockReleasedEvent", worker_id=wid)
    assert freed["level"] == "info" and freed["reason"] == "EXITED"
    has_fields(freed, "symbol", "worker_id", "locked_at")
    order = logs.records
    assert order.index(met) < order.index(sent) < order.index(freed)
