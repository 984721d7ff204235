"""Mandatory liquidation before the close (SC-008, EC-003): sell every open position at
market, least liquid first, retrying an unfilled remainder a bounded number of times; what
still cannot be sold is reported (WARN) and noted in the daily summary for tuning."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tradefleet.domain.errors import LockLost
from tradefleet.domain.events import (
    LiquidationShortfallEvent,
    MandatoryLiquidationEvent,
    OrderUnfilledEvent,
)
from tradefleet.domain.liquidation import liquidation_priority
from tradefleet.domain.locks import Lock
from tradefleet.domain.orders import OrderPurpose, OrderStatus
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.clock import Clock
from tradefleet.ports.events import EventSink
from tradefleet.ports.trade_store import OrderRow, PositionRow, SummaryStore, TradeStore
from tradefleet.services.order_service import OrderService

MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Unsold:
    symbol: str
    position_id: int
    unsold_qty: int
    attempts: int


class LiquidationService:
    def __init__(self, orders: OrderService, trades: TradeStore, summaries: SummaryStore,
                 broker: BrokerPort, sink: EventSink, clock: Clock, *,
                 max_attempts: int = MAX_ATTEMPTS, retry_wait_s: float = 1.0,
                 track_timeout_s: float = 2.0, purpose: OrderPurpose = OrderPurpose.LIQUIDATION,
                 settle_wait_s: float = 0.5) -> None:
        """Timing: ``retry_wait_s`` (between sell attempts, for the book to refill) is the
        session clock's, as market time; ``track_timeout_s`` and ``settle_wait_s`` (waiting
        for an open order to end) are real seconds, as every wait on the broker is: a
        compressed demo or chaos day does not make the broker answer faster."""
        self._settle_wait_s = settle_wait_s
        self._orders = orders
        self._trades = trades
        self._summaries = summaries
        self._broker = broker
        self._sink = sink
        self._clock = clock
        self._max_attempts = max_attempts
        self._retry_wait_s = retry_wait_s
        self._track_timeout_s = track_timeout_s
        self._purpose = purpose

    async def liquidate(self, worker_id: str, locks: Sequence[Lock], *,
                        liquidation_at: datetime) -> list[Unsold]:
        """Sell all OPEN positions of ``worker_id`` (each under its lock); returns what remains."""
        positions = await self._trades.open_positions(worker_id)
        if not positions:
            return []
        by_symbol = {p.symbol: p for p in positions}
        try:
            quotes = await self._broker.get_quotes(list(by_symbol))
        except Exception:  # noqa: BLE001 - liquidity only orders the exits; sell anyway
            quotes = {}
        order = liquidation_priority([
            (p.symbol, p.qty, quotes[p.symbol].traded_value if p.symbol in quotes else 0)
            for p in positions])
        await self._sink.publish(MandatoryLiquidationEvent(
            worker_id=worker_id, liquidation_at=liquidation_at, positions=list(by_symbol),
            order_of_exit=order))
        lock_of = {lock.symbol: lock for lock in locks}
        unsold: list[Unsold] = []
        for symbol in order:
            pos = by_symbol[symbol]
            left = await self._sell_out(pos, lock_of.get(symbol))
            if left is not None:
                unsold.append(left)
            if symbol in quotes:
                await self._note_impact(pos, quotes[symbol].price)
        return unsold

    async def _note_impact(self, pos: PositionRow, price_at_start: int) -> None:
        """Tuning input: gross PnL marked at the quote when liquidation began versus what
        the forced sale realized (or, if shares are left, marked at that same quote)."""
        after = await self._trades.get_position(pos.position_id)
        at_start = pos.sell_amount + pos.qty * price_at_start - pos.buy_amount
        realized = after.sell_amount + after.qty * price_at_start - after.buy_amount
        await self._summaries.append_tuning(pos.worker_id, pos.trading_day, "liquidation_impact", {
            "symbol": pos.symbol, "position_id": pos.position_id, "price_at_start": price_at_start,
            "gross_at_start": at_start, "gross_after": realized,
            "widened_by": max(0, at_start - realized)})

    async def _sell_out(self, pos: PositionRow, lock: Lock | None) -> Unsold | None:
        """Sell the position down to zero: never a new sell while an earlier order on the
        symbol is still open (it is settled first, or the attempt waits), and the quantity
        always re-read from the position, so a fill recorded late is never sold twice."""
        remaining, attempts, waits = pos.qty, 0, 0
        while remaining > 0 and attempts < self._max_attempts and lock is not None:
            if not await self._settle_open(pos):
                waits += 1
                if waits > self._max_attempts:
                    break                 # the follower keeps following it
                await asyncio.sleep(self._settle_wait_s)   # the broker's time: real seconds
                remaining = (await self._trades.get_position(pos.position_id)).qty
                continue
            remaining = (await self._trades.get_position(pos.position_id)).qty
            if remaining == 0:
                break
            attempts += 1
            row = await self._sell_once(pos, lock, remaining, attempts)
            if row is None:
                break                     # lock lost: not ours to sell any more
            remaining = (await self._trades.get_position(pos.position_id)).qty
            if remaining > 0:
                await self._sink.publish(OrderUnfilledEvent(
                    worker_id=pos.worker_id, symbol=pos.symbol, order_id=row.order_id,
                    side="SELL", qty=row.qty, filled_qty=row.filled_qty, unfilled_qty=remaining,
                    attempt=attempts, will_retry=attempts < self._max_attempts))
                if attempts < self._max_attempts:
                    await self._clock.sleep(self._retry_wait_s)
        if remaining == 0:
            return None
        await self._sink.publish(LiquidationShortfallEvent(
            worker_id=pos.worker_id, symbol=pos.symbol, position_id=pos.position_id,
            unsold_qty=remaining, attempts=attempts))
        await self._summaries.append_tuning(pos.worker_id, pos.trading_day, "liquidity_shortfall", {
            "symbol": pos.symbol, "unsold_qty": remaining, "attempts": attempts,
            "position_id": pos.position_id})
        return Unsold(pos.symbol, pos.position_id, remaining, attempts)

    async def _settle_open(self, pos: PositionRow) -> bool:
        """Bring this worker's open orders on the symbol to an end; True when none is left."""
        still_open = False
        for order in await self._trades.open_orders(pos.worker_id):
            if order.symbol != pos.symbol or self._orders.sending(order.order_id):
                continue
            row = await self._orders.track(order, timeout_s=self._track_timeout_s)
            if not row.status.is_terminal:
                row = await self._orders.cancel_remainder(row)
            still_open = still_open or not row.status.is_terminal
        return not still_open

    async def _sell_once(self, pos: PositionRow, lock: Lock, qty: int, attempt: int
                         ) -> OrderRow | None:
        """One market sell, written first, sent once, tracked; None if the lock is lost."""
        try:
            quote = (await self._broker.get_quotes([pos.symbol])).get(pos.symbol)
        except Exception:  # noqa: BLE001 - the decision price is only a tuning note
            quote = None
        try:
            row = await self._orders.create_order(
                lock, side="SELL", qty=qty, order_type="MARKET", limit_price=None,
                purpose=self._purpose, attempt=attempt,
                decision_price=quote.price if quote else None)
        except LockLost:
            return None
        row = await self._orders.send_order(row)
        if row.status is not OrderStatus.REJECTED:
            row = await self._orders.track(row, timeout_s=self._track_timeout_s)
            if not row.status.is_terminal:
                row = await self._orders.cancel_remainder(row)
        return row
