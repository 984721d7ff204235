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

EXPIRED is not final while the broker could still show the order: a sender that passed the
fence before the expiry may still send it (and lose the answer), and a list may lag past
the grace. Such rows (no broker id, nothing filled) are looked up again, more rarely (every
``late_look_s``), for the rest of their trading day and the next (the next day's
reconciliation); what the broker then shows is recorded like any report, once.

Timing: the grace, the cancel age and the follower's schedule are REAL seconds (the grace and
the cancel age judged by the database clock), never the session clock's, whatever speed a
demo or chaos run compresses the day to: they wait for the broker (its list lagging, an
answer in flight), and a broker takes real time at any simulated speed. A compressed session
must therefore leave real seconds for them (the chaos rig budgets its liquidation window)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

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
LATE_LOOK_S = 30.0       # real seconds between two lookups of one EXPIRED row
__all__ = ["CANCEL_AFTER_S", "LATE_LOOK_S", "NEVER_SENT", "UNSEEN_GRACE_S", "UNSEEN_LOOKUPS",
           "Followed", "OrderFollower"]


@dataclass(frozen=True, slots=True)
class Followed:
    positions: list[PositionRow]
    open_orders: list[OrderRow]       # this worker's orders still open afterwards
    settled: list[OrderRow]           # rows this pass changed


class OrderFollower:
    def __init__(self, orders: OrderService, trades: TradeStore, sink: EventSink, *,
                 unseen_grace_s: float = UNSEEN_GRACE_S, unseen_lookups: int = UNSEEN_LOOKUPS,
                 cancel_after_s: float = CANCEL_AFTER_S, late_look_s: float = LATE_LOOK_S
                 ) -> None:
        if unseen_lookups < 1:
            raise ValueError("unseen_lookups: must be >= 1")
        self._orders = orders
        self._trades = trades
        self._sink = sink
        self._grace = unseen_grace_s
        self._lookups = unseen_lookups
        self._cancel_after = cancel_after_s
        self._late_look = late_look_s
        self._next_late_look: dict[int, float] = {}     # order id -> monotonic time
        self._next_recheck = 0.0          # the EXPIRED rows are read at most twice a look
        self._log = structlog.get_logger("tradefleet.follower")

    async def follow(self, worker_id: str) -> Followed:
        """One pass over the open orders (``settle``), then the worker's positions and open
        orders as they stand after it."""
        settled = await self.settle(worker_id)
        return Followed(positions=await self._trades.open_positions(worker_id),
                        open_orders=await self._trades.open_orders(worker_id),
                        settled=settled)

    async def settle(self, worker_id: str) -> list[OrderRow]:
        """One pass over the open orders: the rows it changed. Never raises for a broker
        failure (the order stays open for the next pass). Database failures propagate: the
        caller retries. The worker's follow timer calls this, not ``follow``: it reads
        nothing of the state after the pass (two queries per pass saved; a replay's every
        poll)."""
        settled: list[OrderRow] = []
        for order, age_s in await self._trades.orders_to_follow(worker_id):
            if self._orders.sending(order.order_id):
                continue                  # this process is sending it right now
            row = await self._follow_one(order, age_s)
            if row != order:
                settled.append(row)
        settled += await self._recheck_expired(worker_id)
        return settled

    async def _recheck_expired(self, worker_id: str) -> list[OrderRow]:
        """EXPIRED rows the broker may still show, each looked up every ``late_look_s``."""
        now = time.monotonic()
        if now < self._next_recheck:
            return []
        self._next_recheck = now + self._late_look / 2
        since = self._orders.trading_day() - timedelta(days=1)
        changed: list[OrderRow] = []
        rows = await self._trades.expired_to_recheck(worker_id, since)
        ids = {order.order_id for order, _ in rows}        # forget rows no longer listed
        self._next_late_look = {k: t for k, t in self._next_late_look.items() if k in ids}
        for order, age_s in rows:
            if self._orders.sending(order.order_id) or \
                    now < self._next_late_look.get(order.order_id, 0.0):
                continue
            self._next_late_look[order.order_id] = now + self._late_look
            try:
                report = await self._orders.lookup(order)
            except Exception as exc:  # noqa: BLE001 - any broker failure: look again later
                self._log.warning("expired order's lookup failed; looking again later",
                                  order_id=order.order_id, error_type=type(exc).__name__,
                                  error=str(exc))
                continue
            if report is None:
                continue
            self._log.warning("an order judged never sent is at the broker; recording it",
                              order_id=order.order_id, symbol=order.symbol,
                              broker_order_id=report.broker_order_id,
                              filled_qty=report.filled_qty)
            self._next_late_look.pop(order.order_id, None)
            row = await self._orders.apply(order, report)
            if not row.status.is_terminal and age_s >= self._cancel_after:
                row = await self._orders.cancel_remainder(row)
            changed.append(row)
        return changed

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
