"""A pushed fill and the follower's cumulative report of other executions of one order
(issue 20): when a notice came out of order (an earlier execution's notice late or lost),
the follower's report of that earlier prefix may bring more shares for no more money than
the pushed fills recorded. It is not applied (it would be a fill of 0 won); a later report
(at the latest the final one) covers everything, and the totals are then exact. Real
PostgreSQL, the worker's own store."""

from __future__ import annotations

from datetime import datetime

from tests.scenarios.harness import build, liquid_symbol, written_order

from tradefleet.adapters.clock import SEOUL
from tradefleet.domain.orders import OrderReport, Side
from tradefleet.ports.feed import FillNotice
from tradefleet.ports.trade_store import StrategyTag

TAG = StrategyTag("t", "1", "1")


def report(odno: str, symbol: str, filled: int, amount: int, qty: int = 3) -> OrderReport:
    return OrderReport(odno, symbol, Side.BUY, qty, filled, amount, qty - filled, 0, 0,
                       datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL))


async def test_a_prefix_report_for_no_more_money_waits_for_a_later_one(db):
    rig = await build(db)
    symbol = liquid_symbol(rig.market)
    row = await written_order(rig, symbol, qty=3)
    store = rig.cycle.paths.orders._store
    await store.mark_sent(row.order_id, "0000009999", None, 0.0)
    day = rig.cycle.trading_day()
    # executions: A 2 shares @ 40,000 then B 1 share @ 100,000; B's notice came first
    late_b = FillNotice("0000009999", symbol, "BUY", 1, 100_000, "100001")
    outcome, after_b, _ = await store.record_fill_notice(rig.worker_id, day, late_b, TAG)
    assert outcome == "recorded" and (after_b.filled_qty, after_b.filled_amount) == (1, 100_000)
    # the follower's report of A alone: 2 shares, 80,000 won (less than B's 100,000)
    row_a, events = await store.apply_report(row.order_id, report("0000009999", symbol, 2,
                                                                  80_000), TAG)
    assert events == [] and (row_a.filled_qty, row_a.filled_amount) == (1, 100_000)
    final, _ = await store.apply_report(row.order_id, report("0000009999", symbol, 3,
                                                             180_000), TAG)
    assert (final.filled_qty, final.filled_amount, str(final.status)) == (3, 180_000, "FILLED")
    fills = await db.pool.fetch("SELECT qty, amount FROM fills WHERE order_id = $1",
                                row.order_id)
    assert sum(f["qty"] for f in fills) == 3 and sum(f["amount"] for f in fills) == 180_000
    # A's notice, when it comes, adds nothing
    late_a = FillNotice("0000009999", symbol, "BUY", 2, 40_000, "100000")
    outcome, _, _ = await store.record_fill_notice(rig.worker_id, day, late_a, TAG)
    assert outcome == "follower ahead"
