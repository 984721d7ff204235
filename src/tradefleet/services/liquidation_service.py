"""Mandatory liquidation before the close (SC-008, EC-003): sell every open position at
market, least liquid first, retrying an unfilled remainder a bounded number of times; what
still cannot be sold is reported (WARN) and noted in the daily summary for tuning."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tradefleet.domain.errors import BrokerError
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
from tradefleet.ports.trade_store import PositionRow, SummaryStore, TradeStore
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
                 track_timeout_s: float = 2.0, purpose: OrderPurpose = OrderPurpose.LIQUIDATION
                 ) -> None:
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
        quotes = await self._broker.get_quotes(list(by_symbol))
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
        remaining, attempts = pos.qty, 0
        while remaining > 0 and attempts < self._max_attempts and lock is not None:
            attempts += 1
            try:
                quote = (await self._broker.get_quotes([pos.symbol])).get(pos.symbol)
                row = await self._orders.create_order(
                    lock, side="SELL", qty=remaining, order_type="MARKET", limit_price=None,
                    purpose=self._purpose, attempt=attempts,
                    decision_price=quote.price if quote else None)
                row = await self._orders.send_order(row)
                if row.status is not OrderStatus.REJECTED:
                    row = await self._orders.track(row, timeout_s=self._track_timeout_s)
                    if not row.status.is_terminal:
                        row = await self._orders.cancel_remainder(row)
            except BrokerError:
                break
            if row.status is OrderStatus.UNKNOWN:
                break            # may still be live at the exchange: never sell on top of it
            remaining -= row.filled_qty
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
