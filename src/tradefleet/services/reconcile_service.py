"""Crash recovery at start-up, before any trading: settle every non-terminal order of this
worker against the broker. It only records what the broker says happened; it never sends.

A NEW row may or may not have reached the exchange before the crash (row written, process
died around ``place_order``). If the broker shows a matching unadopted order it is adopted;
if not, and the order could no longer be in flight, the row is EXPIRED with a reason."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from tradefleet.domain.errors import BrokerTimeout, BrokerUnavailable
from tradefleet.domain.orders import OrderStatus
from tradefleet.ports.events import EventSink
from tradefleet.ports.trade_store import OrderRow, PositionRow, TradeStore
from tradefleet.services.order_service import OrderService

UNSEEN_GRACE_S = 10.0   # how long the broker may take to list an order it accepted (DB clock)
NEVER_SENT = "reconcile: no matching order at the broker; never reached the exchange"


@dataclass(frozen=True, slots=True)
class Reconciled:
    positions: list[PositionRow]
    open_orders: list[OrderRow]       # still live at the broker (or unresolved) afterwards
    settled: list[OrderRow]           # rows this run changed


class ReconcileService:
    def __init__(self, orders: OrderService, trades: TradeStore, sink: EventSink, *,
                 unseen_grace_s: float = UNSEEN_GRACE_S) -> None:
        self._orders = orders
        self._trades = trades
        self._sink = sink
        self._unseen_grace_s = unseen_grace_s
        self._log = structlog.get_logger(component="reconcile")

    async def reconcile(self, worker_id: str) -> Reconciled:
        """Settle this worker's NEW/SENT/UNKNOWN/PARTIALLY_FILLED orders; send nothing."""
        settled: list[OrderRow] = []
        for order in await self._trades.open_orders(worker_id):
            try:
                report = await self._orders.lookup(order)
            except (BrokerTimeout, BrokerUnavailable):
                continue                  # cannot know now: leave it open, the caller retries
            if report is not None:
                row = await self._orders.apply(order, report)
            elif order.status in (OrderStatus.NEW, OrderStatus.UNKNOWN):
                # The process that wrote it is gone, so it cannot be sent any more: once the
                # broker has had ``unseen_grace_s`` to show it and does not, it never will.
                expired = await self._trades.expire_unseen(
                    order.order_id, NEVER_SENT, min_age_s=self._unseen_grace_s)
                if expired is None:
                    continue              # too recent to judge: keep it open, retry later
                row = expired
                self._log.warning("order expired: not found at the broker",
                                  order_id=order.order_id, symbol=order.symbol,
                                  previous_status=str(order.status))
            else:
                continue                  # SENT but not visible: keep open
            if row != order:
                settled.append(row)
        return Reconciled(positions=await self._trades.open_positions(worker_id),
                          open_orders=await self._trades.open_orders(worker_id),
                          settled=settled)
