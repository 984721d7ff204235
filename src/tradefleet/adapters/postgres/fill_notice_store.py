"""A pushed fill notice recorded as a fill of one of our orders, in one transaction with the
order follower's own rules (``order_reports.apply_report_locked``), so an execution seen by
push and by REST lands once.

Whose order: only the row whose broker order number (ODNO) is the notice's, of this worker,
this trading day, same symbol and side. A person's order on the same account has no such
row: its notice is ignored (never claim what another actor did). A notice that comes before
our row has its ODNO (the order's answer not yet written) is left to the follower.

Exactly once: a notice has no execution number, so the ledger (``fill_notices``) knows a
notice by (order, HHMMSS, shares, price); a duplicate inserts nothing. The pushed notices of
an order are applied only while the order's recorded fills are exactly theirs (quantity and
amount): they then bring it to a cumulative quantity and amount, and the fill is keyed
``ODNO:cumulative`` as the follower keys it. Once the follower has recorded what the
notices do not account for, the later notices of that order only join the ledger and the
follower alone goes on (its reports are cumulative; the notices' sum could double)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

import asyncpg

from tradefleet.adapters.postgres.order_reports import apply_report_locked, order_row
from tradefleet.domain.costs import CostModel
from tradefleet.domain.events import Event
from tradefleet.domain.orders import OrderReport, Side
from tradefleet.ports.feed import FillNotice
from tradefleet.ports.trade_store import OrderRow, StrategyTag


class NoticeOutcome(StrEnum):
    RECORDED = "recorded"              # the notice's fill is committed
    DUPLICATE = "duplicate"            # the same notice was heard before
    NOT_OURS = "not ours"              # no order of this worker has that ODNO today
    FOLLOWER_AHEAD = "follower ahead"  # the follower recorded fills the notices do not cover


_OURS = """WHERE worker_id = $1 AND trading_day = $2 AND broker_order_id = $3
             AND symbol = $4 AND side = $5"""


async def may_be_ours(pool: asyncpg.Pool | asyncpg.Connection, *, worker_id: str,
                      trading_day: date, notice: FillNotice) -> bool:
    """One read, no transaction: does one of ``worker_id``'s orders have the notice's ODNO?"""
    return bool(await pool.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM orders {_OURS})", worker_id, trading_day,  # noqa: S608
        notice.order_no, notice.symbol, notice.side))


async def apply_fill_notice(conn: asyncpg.Connection, *, worker_id: str, trading_day: date,
                            notice: FillNotice, strategy: StrategyTag, costs: CostModel
                            ) -> tuple[NoticeOutcome, OrderRow | None, OrderRow | None,
                                       list[Event]]:
    """In ``conn``'s money transaction: the outcome, the order before and after, events."""
    rec = await conn.fetchrow(
        f"SELECT * FROM orders {_OURS} FOR UPDATE", worker_id, trading_day,  # noqa: S608
        notice.order_no, notice.symbol, notice.side)
    if rec is None:
        return NoticeOutcome.NOT_OURS, None, None, []
    row: OrderRow = order_row(rec)
    pushed = await conn.fetchrow(
        """SELECT coalesce(sum(qty), 0)::bigint AS qty,
                  coalesce(sum(qty * price), 0)::bigint AS amount
             FROM fill_notices WHERE order_id = $1 AND applied""", row.order_id)
    filled = row.filled_qty + notice.qty
    # the recorded fills are exactly the applied notices', and this one fits in the order
    applies = (pushed["qty"], pushed["amount"]) == (row.filled_qty, row.filled_amount) \
        and filled <= row.qty
    inserted = await conn.fetchval(
        """INSERT INTO fill_notices (order_id, broker_order_id, executed_hms, qty, price,
                                     applied)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (order_id, executed_hms, qty, price) DO NOTHING RETURNING notice_id""",
        row.order_id, notice.order_no, notice.executed_hms, notice.qty, notice.price, applies)
    if inserted is None:
        return NoticeOutcome.DUPLICATE, row, row, []
    if not applies:
        return NoticeOutcome.FOLLOWER_AHEAD, row, row, []
    report = OrderReport(
        broker_order_id=notice.order_no, symbol=row.symbol, side=Side(row.side), qty=row.qty,
        filled_qty=filled, filled_amount=row.filled_amount + notice.qty * notice.price,
        remaining_qty=max(0, row.qty - filled), cancelled_qty=0, rejected_qty=0,
        ordered_at=row.created_at)
    updated, events = await apply_report_locked(conn, row, report, strategy, costs)
    return NoticeOutcome.RECORDED, row, updated, events
