"""One broker report of one order applied in the caller's transaction: the rule the order
follower (REST, ``order_store``) and the pushed fill notices (``fill_notice_store``) share,
so an execution seen both ways lands once. Both stores import it; neither imports the
other."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from tradefleet.adapters.postgres.event_store import EVENTS_INSERT, event_columns
from tradefleet.adapters.postgres.position_store import apply_fill
from tradefleet.domain.costs import CostModel
from tradefleet.domain.events import Event, OrderFilledEvent
from tradefleet.domain.orders import OrderReport, OrderStatus
from tradefleet.ports.trade_store import OrderRow, StrategyTag

_COLUMNS = [f for f in OrderRow.__dataclass_fields__]

# was two statements (UPDATE, then append_events): the same rows, in the same transaction
_SET_STATUS_AND_LOG = """
WITH upd AS (
    UPDATE orders SET status = $2, filled_qty = GREATEST(filled_qty, $3),
           filled_amount = GREATEST(filled_amount, $4), updated_at = now()
     WHERE order_id = $1 RETURNING *
), ev AS (""" + EVENTS_INSERT + """)
SELECT * FROM upd
"""


def order_row(rec: asyncpg.Record) -> OrderRow:
    values = {f: rec[f] for f in _COLUMNS}
    values["status"] = OrderStatus(values["status"])
    return OrderRow(**values)



async def apply_report_locked(conn: asyncpg.Connection, row: OrderRow, report: OrderReport,
                              strategy: StrategyTag, costs: CostModel
                              ) -> tuple[OrderRow, list[Event]]:
    """The broker's cumulative report applied to ``row`` (locked FOR UPDATE in ``conn``'s
    transaction): the new fill keyed ``ODNO:cumulative qty``, its position, the order's
    status. Shared by the order follower (REST) and the pushed fill notices, so one execution
    seen both ways lands once: both name it by the cumulative quantity it brings the order
    to."""
    order_id = row.order_id
    if row.broker_order_id is None:
        await conn.execute(
            "UPDATE orders SET broker_order_id = $2, sent_at = coalesce(sent_at, now()) "
            "WHERE order_id = $1", order_id, report.broker_order_id)
    elif row.broker_order_id != report.broker_order_id:
        raise ValueError(f"broker_order_id: report {report.broker_order_id} is not the "
                         f"order's {row.broker_order_id}")
    reopened = row.status is OrderStatus.EXPIRED and not report.is_done
    if report.filled_qty < row.filled_qty or (
            row.status.is_terminal and report.filled_qty == row.filled_qty
            and not reopened):
        return row, []           # a stale or repeated report: never move backwards
    events: list[Event] = []
    new_qty = report.filled_qty - row.filled_qty
    new_amount = report.filled_amount - row.filled_amount
    if new_qty > 0 and new_amount <= 0:
        # more shares for no more money: the row's fills came by push in another order than
        # the executions (a notice late or lost) and this report is an earlier prefix of
        # them. Not applied: a later report (at the latest the final one) covers them all.
        return row, []
    status = _status(row, report)
    if new_qty > 0:
        fill_id = await conn.fetchval(
            """INSERT INTO fills (order_id, broker_fill_key, symbol, side, qty, price,
                   amount) VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (order_id, broker_fill_key) DO NOTHING RETURNING fill_id""",
            order_id, f"{report.broker_order_id}:{report.filled_qty}", row.symbol,
            row.side, new_qty, Decimal(new_amount) / new_qty, new_amount)
        if fill_id is not None:
            events.append(OrderFilledEvent(
                worker_id=row.worker_id, symbol=row.symbol, order_id=order_id,
                fill_id=fill_id, side=row.side,
                price=str((Decimal(new_amount) / new_qty).quantize(Decimal("0.0001"))),
                qty=new_qty, cumulative_qty=report.filled_qty, status=status))
            events += await apply_fill(
                conn, worker_id=row.worker_id, trading_day=row.trading_day,
                symbol=row.symbol, side=row.side, qty=new_qty, amount=new_amount,
                fencing_token=row.fencing_token, purpose=row.purpose, strategy=strategy,
                costs=costs, order_id=order_id, market=row.market)
    # the status and the events (which never depend on the updated row) in one round trip
    rec = await conn.fetchrow(
        _SET_STATUS_AND_LOG, order_id, status, report.filled_qty, report.filled_amount,
        *event_columns(events))
    return order_row(rec), events


def _status(row: OrderRow, report: OrderReport) -> str:
    """The order's status implied by the broker's cumulative report."""
    if report.filled_qty >= row.qty:
        return OrderStatus.FILLED
    if report.is_done:
        return OrderStatus.CANCELLED if report.rejected_qty == 0 or report.filled_qty \
            else OrderStatus.REJECTED
    if report.filled_qty > 0:
        return OrderStatus.PARTIALLY_FILLED
    return OrderStatus.SENT

