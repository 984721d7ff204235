"""What the trading cycle is handed, grouped by what it is for, each with a small interface:
the order paths (buy, sell, liquidate, and what of ours is open), the watch of a held
position (its market reads and exit rules), and the recovery and reconciliation hooks.
The market day and its times are ``worker.trading_day.TradingDay``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import structlog

from tradefleet.domain.events import MonitoringEvent
from tradefleet.domain.exits import ExitParams, evaluate_exit
from tradefleet.domain.locks import Lock
from tradefleet.domain.orders import OrderPurpose
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.clock import Clock
from tradefleet.ports.events import EventSink
from tradefleet.ports.worker_controls import WorkerControls
from tradefleet.services.account_reconciler import AccountReconciler
from tradefleet.services.liquidation_service import LiquidationService
from tradefleet.services.order_service import OrderService
from tradefleet.services.scan_service import Reader, ScanResult, closed_bars
from tradefleet.worker.entry import EntryStep
from tradefleet.worker.tick_cover import TickCover

RowsReader = Callable[[], Awaitable[list[Any]]]
ControlsReader = Callable[[], Awaitable[WorkerControls]]
# one scan of the worker's universe for a trading day (the scan service behind one call)
Scan = Callable[[date], Awaitable[ScanResult]]


@dataclass(slots=True)
class Holding:
    lock: Lock
    position_id: int              # 0: an entry whose size is not known yet (being followed)
    qty: int
    entry_price: Decimal
    orphan: bool = False          # adopted from a worker no longer live: sold at once


@dataclass(frozen=True, slots=True)
class OrderPaths:
    """Every way an order leaves this worker, and the rows that say what is still open."""

    orders: OrderService                 # sells (and the order rows)
    entry: EntryStep                     # buys: risk, lock, the entry cutoff, the send
    liquidation: LiquidationService      # the forced liquidation
    open_positions: RowsReader           # this worker's open positions
    open_orders: RowsReader              # this worker's orders not final yet
    track_timeout_s: float = 5.0


@dataclass(frozen=True, slots=True)
class RecoveryHooks:
    """How the cycle learns what happened outside it: orders followed against the broker,
    orphaned shares to adopt, and the operator's orders through the database."""

    reconcile: Callable[[], Awaitable[Any]] | None = None
    orphans: AccountReconciler | None = None
    controls: ControlsReader | None = None


class ExitWatch:
    """HOLD's look at the market: the held symbol's quote and bars against the exit rules.
    Returns the exit's reason, or None after publishing the monitoring event. While the
    feed's last judged tick of the symbol is fresh (``ticks``, worker/tick_cover.py) its
    price and trend average stand in for the two REST reads."""

    def __init__(self, broker: BrokerPort, read: Reader, exits: ExitParams, sink: EventSink,
                 clock: Clock, *, worker_id: str) -> None:
        self._broker = broker
        self._read = read
        self._exits = exits
        self._sink = sink
        self._clock = clock
        self._worker_id = worker_id
        self.ticks = TickCover()
        self._log = structlog.get_logger("tradefleet.worker").bind(worker_id=worker_id)

    async def exit_reason(self, held: Holding, *, liquidation_at: datetime
                          ) -> OrderPurpose | None:
        symbol = held.lock.symbol
        tick = self.ticks.fresh(symbol, self._clock.now())
        if tick is not None:
            price, short_ma, source = tick.price, tick.short_ma, "tick"
        else:
            price, short_ma = await self._rest_inputs(symbol)
            source = "rest"
        decision = evaluate_exit(entry_price=held.entry_price, price=price,
                                 short_ma=short_ma, now=self._clock.now(),
                                 liquidation_at=liquidation_at, params=self._exits)
        if decision.reason is None:
            await self._sink.publish(MonitoringEvent(
                worker_id=self._worker_id, symbol=symbol, position_id=held.position_id,
                price=price, pnl_pct=str(decision.pnl_pct.quantize(Decimal("0.0001"))),
                checks=decision.checks))
            return None
        self._log.info("exit condition met", symbol=symbol, reason=str(decision.reason),
                       checks=decision.checks, price=price, price_from=source)
        return decision.reason

    async def _rest_inputs(self, symbol: str) -> tuple[int, Decimal | None]:
        """The held symbol's price and trend average (closed minute bars) read by REST."""
        quotes = await self._read("get_quotes", lambda: self._broker.get_quotes([symbol]))
        quote = quotes[symbol]
        window = self._exits.trend_ma_window
        bars = await self._read("get_minute_bars",
                                lambda: self._broker.get_minute_bars(symbol, window + 1))
        closes = [b.close for b in closed_bars(bars, quote)][-window:]
        short_ma = Decimal(sum(closes)) / len(closes) if len(closes) == window else None
        return quote.price, short_ma
