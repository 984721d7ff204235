"""Follows every open order to a final state, independently of the call that sent it.

The call that sends an order tracks it for a few seconds and cancels an unfilled remainder;
anything that goes wrong there (a lost answer, a status read that times out, a rate limit, an
ambiguous cancel, the process dying) leaves the order open, and this follower takes it from
there: on a schedule it re-reads every open order of the worker (NEW, SENT, UNKNOWN,
PARTIALLY_FILLED) and of workers no longer live, records fills idempotently, cancels a
remainder left resting, and only ever *records* what the broker says. It never sends.

An order the broker does not show (NEW or UNKNOWN, no broker id) is EXPIRED only after
several lookups over a grace period by the database clock: a list that lags for a few
seconds is not proof that an order never arrived. Start-up recovery is the same code.

Timing: the grace, the cancel age and the follower's schedule are REAL seconds (the grace and
the cancel age judged by the database clock), never the session clock's, whatever speed a
demo or chaos run compresses the day to: they wait for the broker (its list lagging, an
answer in flight), and a broker takes real time at any simulated speed. A compressed session
must therefore leave real seconds for them (the chaos rig budgets its liquidation window)."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from tradefleet.ports.events import EventSink
from tradefleet.ports.trade_store import OrderRow, PositionRow, TradeStore
from tradefleet.services.order_service import (
    NEVER_SENT,
    UNSEEN_GRACE_S,
    UNSEEN_LOOKUPS,
    OrderService,
)

CANCEL_AFTER_S = 8.0     # a remainder still resting this long after the send is cancelled
__all__ = ["CANCEL_AFTER_S", "NEVER_SENT", "UNSEEN_GRACE_S", "UNSEEN_LOOKUPS", "Followed",
           "OrderFollower"]


@dataclass(frozen=True, slots=True)
class Followed:
    positions: list[PositionRow]
    open_orders: list[OrderRow]       # this worker's orders still open afterwards
    settled: list[OrderRow]           # rows this pass changed


class OrderFollower:
    def __init__(self, orders: OrderService, trades: TradeStore, sink: EventSink, *,
                 unseen_grace_s: float = UNSEEN_GRACE_S, unseen_lookups: int = UNSEEN_LOOKUPS,
                 cancel_after_s: float = CANCEL_AFTER_S) -> None:
        if unseen_lookups < 1:
            raise ValueError("unseen_lookups: must be >= 1")
        self._orders = orders
        self._trades = trades
        self._sink = sink
        self._grace = unseen_grace_s
        self._lookups = unseen_lookups
        self._cancel_after = cancel_after_s
        self._log = structlog.get_logger("tradefleet.follower")

    async def follow(self, worker_id: str) -> Followed:
        """One pass over the open orders; never raises for a broker failure (the order stays
        open for the next pass). Database failures propagate: the caller retries."""
        settled: list[OrderRow] = []
        for order, age_s in await self._trades.orders_to_follow(worker_id):
            if self._orders.sending(order.order_id):
                continue                  # this process is sending it right now
            row = await self._follow_one(order, age_s)
            if row != order:
                settled.append(row)
        return Followed(positions=await self._trades.open_positions(worker_id),
                        open_orders=await self._trades.open_orders(worker_id),
                        settled=settled)

    async def _follow_one(self, order: OrderRow, age_s: float) -> OrderRow:
        try:
            report = await self._orders.lookup(order)
        except Exception as exc:  # noqa: BLE001 - any broker failure: try next pass
            self._log.warning("order status read failed; following it next pass",
                              order_id=order.order_id, symbol=order.symbol,
                              error_type=type(exc).__name__, error=str(exc))
            return order
        if report is not None:
            row = await self._orders.apply(order, report)
            if not row.status.is_terminal and age_s >= self._cancel_after:
                self._log.warning("order still open past its time; cancelling the remainder",
                                  order_id=row.order_id, symbol=row.symbol,
                                  status=str(row.status), age_s=round(age_s, 1))
                row = await self._orders.cancel_remainder(row)
            return row
        if order.broker_order_id:
            return order                  # has a broker id the broker did not answer for
        expired = await self._orders.expire_if_unseen(order, grace_s=self._grace,
                                                      lookups=self._lookups)
        return order if expired is None else expired      # None: too young to judge
