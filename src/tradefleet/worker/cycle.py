"""One poll of the worker's state machine: SCAN (search, enter) or HOLD (watch, exit).

Kept separate from the process shell (worker.py) so tests can drive polls one by one
against the simulated market with a frozen clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import structlog
from opentelemetry import trace

from tradefleet.domain.errors import BrokerError, LockLost
from tradefleet.domain.events import MonitoringEvent
from tradefleet.domain.exits import ExitParams, evaluate_exit
from tradefleet.domain.locks import Lock
from tradefleet.domain.orders import OrderPurpose, OrderStatus, OrderType, Side
from tradefleet.domain.states import WorkerStatus
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.clock import Clock
from tradefleet.ports.events import EventSink
from tradefleet.ports.worker_controls import WorkerControls
from tradefleet.services.account_reconciler import AccountReconciler
from tradefleet.services.liquidation_service import LiquidationService
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_service import OrderService
from tradefleet.services.scan_service import Reader, ScanService, closed_bars
from tradefleet.services.worker_registry import WorkerRegistry
from tradefleet.worker.entry import EntryStep

ENTRY_PENDING = "entry pending: its outcome is not known yet; followed until it is final"
PositionReader = Callable[[], Awaitable[list[Any]]]
ControlsReader = Callable[[], Awaitable[WorkerControls]]
_tracer = trace.get_tracer("tradefleet.worker")


@dataclass(slots=True)
class Holding:
    lock: Lock
    position_id: int              # 0: an entry whose size is not known yet (being followed)
    qty: int
    entry_price: Decimal
    orphan: bool = False          # adopted from a worker no longer live: sold at once


class TradingCycle:
    def __init__(self, *, worker_id: str, epoch: int, registry: WorkerRegistry,
                 locks: LockService, orders: OrderService, scanner: ScanService,
                 entry: EntryStep, broker: BrokerPort, sink: EventSink, read: Reader,
                 clock: Clock, exits: ExitParams, universe: Sequence[str],
                 liquidation_at: datetime, open_positions: PositionReader,
                 open_orders: PositionReader, liquidation: LiquidationService,
                 track_timeout_s: float = 5.0,
                 reconcile: Callable[[], Awaitable[Any]] | None = None,
                 orphans: AccountReconciler | None = None,
                 controls: ControlsReader | None = None) -> None:
        self.worker_id = worker_id
        self._liquidation = liquidation
        self.epoch = epoch
        self._registry = registry
        self._locks = locks
        self._orders = orders
        self._scanner = scanner
        self._entry = entry
        self._broker = broker
        self._sink = sink
        self._read = read
        self._clock = clock
        self._exits = exits
        self._universe = list(universe)
        self.liquidation_at = liquidation_at
        self._open_positions = open_positions
        self._orders_open = open_orders
        self.reconcile = reconcile
        self._orphans = orphans
        self._controls = controls
        self.buying_paused = False    # the operator's pause (worker_controls.buy_paused)
        self._track_timeout = track_timeout_s
        self.status = WorkerStatus.IDLE
        self.holding: Holding | None = None
        self.buying_stopped = False
        self._log = structlog.get_logger("tradefleet.worker").bind(worker_id=worker_id)

    async def move(self, to: WorkerStatus, *, symbol: str | None, reason: str) -> None:
        await self._registry.transition(self.worker_id, self.epoch, to,
                                        current_symbol=symbol, reason=reason)
        self.status = to

    def trading_day(self) -> date:
        return self._clock.now().date()

    def liquidation_due(self) -> bool:
        return self._clock.now() >= self.liquidation_at

    async def adopt(self, lock: Lock) -> bool:
        """Take over this worker's open position on ``lock.symbol`` (entry fill or
        recovery); False when no open position exists for it."""
        for pos in await self._open_positions():
            if pos["symbol"] == lock.symbol and pos["qty"] > 0:
                self.holding = Holding(lock, pos["position_id"], pos["qty"],
                                       Decimal(pos["entry_price"]),
                                       orphan=pos.get("adopted_from") is not None)
                return True
        return False

    async def take_up(self) -> str | None:
        """Hold this worker's open position under its lock (kept, or re-taken when it
        lapsed), and release locks with neither a position nor an open order behind them.
        Start-up recovery and any poll that finds shares the cycle lost track of use it."""
        held_locks = {lock.symbol: lock for lock in await self._locks.locks_of(self.worker_id)}
        busy = {o.symbol for o in await self._orders_open()}
        taken: str | None = None
        for pos in [p for p in await self._open_positions() if p["qty"] > 0]:
            symbol = pos["symbol"]
            kept = held_locks.pop(symbol, None)
            lock = replace(kept, epoch=self.epoch) if kept is not None else \
                await self._locks.acquire_lock(symbol, self.worker_id, epoch=self.epoch)
            if lock is None:
                self._log.error("open position but its lock is held by another worker; "
                                "not trading it now", symbol=symbol)
                continue
            if await self.adopt(lock):
                self._log.info("holding open position", symbol=symbol, qty=pos["qty"],
                               fencing_token=lock.fencing_token)
                taken = symbol
                break
        for symbol, stale in held_locks.items():
            if symbol not in busy and (taken is None or symbol != taken):
                await self._locks.release_lock(stale, "RECOVERY")
        return taken

    async def poll(self) -> None:
        """One tick of the state machine, as one trace: its scan, lock attempt, order send
        and broker calls are the poll span's children."""
        with _tracer.start_as_current_span("worker.poll", attributes={
                "worker_id": self.worker_id, "status": self.status.value}) as span:
            await self._poll()
            span.set_attribute("status_after", self.status.value)

    async def _poll(self) -> None:
        """Broker read failures end the poll quietly (the retry policy already logged and
        published them)."""
        if self._controls is not None:
            await self._apply_controls()
        try:
            if self.status is WorkerStatus.HOLD:
                await self.hold_poll()
            elif self.status is WorkerStatus.SCAN:
                await self.scan_poll()
        except BrokerError as exc:
            self._log.error("poll abandoned after broker failure; waiting for next poll",
                            error_type=type(exc).__name__, error=str(exc),
                            status=str(self.status))

    async def scan_poll(self) -> None:
        if await self._orders_open():
            return              # an order of ours is not final yet: buy nothing else
        if await self._open_positions() or await self._locks.locks_of(self.worker_id):
            if await self.take_up() is not None:     # shares we lost track of: hold them
                await self.move(WorkerStatus.HOLD, symbol=self.holding.lock.symbol,
                                reason="open position taken up")
                return
        if self._orphans is not None and await self._adopt_orphan():
            return
        if self.liquidation_due():
            if not self.buying_stopped:
                self.buying_stopped = True
                self._log.info("liquidation time reached; buying stopped",
                               liquidation_at=self.liquidation_at.isoformat())
            return
        if self.buying_stopped or self.buying_paused:
            return
        result = await self._scanner.scan(self._universe, self.trading_day())
        if not result.ranked:
            return
        outcome = await self._entry.try_enter(result.ranked, epoch=self.epoch)
        if outcome is None:
            return
        if outcome.blocked:
            self.buying_stopped = True
            await self._registry.set_buy_blocked(self.worker_id, "risk limit")
            return
        assert outcome.lock is not None
        reason = "entry filled"
        if outcome.pending or not await self.adopt(outcome.lock):
            # unknown send: hold the lock and look again next poll; never buy twice
            self.holding = Holding(outcome.lock, 0, 0, Decimal(0))
            reason = ENTRY_PENDING
        await self.move(WorkerStatus.HOLD, symbol=outcome.lock.symbol, reason=reason)

    async def _apply_controls(self) -> None:
        """The operator's orders through the database: pause buying (what is held is still
        managed), and liquidate from an earlier time than this worker's own clock says."""
        assert self._controls is not None
        controls = await self._controls()
        self.buying_paused = controls.buy_paused
        at = controls.liquidate_from(self.trading_day())
        if at is not None and at < self.liquidation_at:
            self._log.info("liquidation ordered by the operator", liquidation_at=at.isoformat(),
                           ordered_by=controls.liquidate_requested_by)
            self.liquidation_at = at

    async def _adopt_orphan(self) -> bool:
        """Shares that no live worker owns are taken over and sold by this one."""
        assert self._orphans is not None
        adopted = await self._orphans.adopt_one(self.worker_id, self.epoch, self.trading_day())
        if adopted is None:
            return False
        pos = adopted.position
        self.holding = Holding(adopted.lock, pos.position_id, pos.qty,
                               Decimal(pos.entry_price or 0), orphan=True)
        await self.move(WorkerStatus.HOLD, symbol=pos.symbol, reason="orphan adopted")
        return True

    async def _symbol_busy(self, symbol: str) -> bool:
        return any(o.symbol == symbol for o in await self._orders_open())

    async def hold_poll(self) -> None:
        assert self.holding is not None
        symbol = self.holding.lock.symbol
        if await self._symbol_busy(symbol):
            return                    # an order on it is still being followed to its end
        if self.holding.position_id == 0 and not await self.adopt(self.holding.lock):
            # the entry ended with nothing bought (the follower settled it)
            await self._locks.release_lock(self.holding.lock, "UNFILLED")
            self.holding = None
            await self.move(WorkerStatus.SCAN, symbol=None, reason="entry not filled")
            return
        if self.holding.orphan:
            await self.sell(OrderPurpose.ORPHAN)
            return
        if self.liquidation_due():
            await self.liquidate()
            return
        held = self.holding
        quotes = await self._read("get_quotes", lambda: self._broker.get_quotes([symbol]))
        quote = quotes[symbol]
        window = self._exits.trend_ma_window
        bars = await self._read("get_minute_bars",
                                lambda: self._broker.get_minute_bars(symbol, window + 1))
        closes = [b.close for b in closed_bars(bars, quote)][-window:]
        short_ma = Decimal(sum(closes)) / len(closes) if len(closes) == window else None
        decision = evaluate_exit(entry_price=held.entry_price, price=quote.price,
                                 short_ma=short_ma, now=self._clock.now(),
                                 liquidation_at=self.liquidation_at, params=self._exits)
        if decision.reason is None:
            await self._sink.publish(MonitoringEvent(
                worker_id=self.worker_id, symbol=symbol, position_id=held.position_id,
                price=quote.price, pnl_pct=str(decision.pnl_pct.quantize(Decimal("0.0001"))),
                checks=decision.checks))
            return
        self._log.info("exit condition met", symbol=symbol, reason=str(decision.reason),
                       checks=decision.checks, price=quote.price)
        await self.sell(decision.reason)

    async def liquidate(self) -> None:
        """SC-008 / EC-003 through the LiquidationService: market sells, least liquid first,
        the unfilled remainder retried up to three times; a shortfall is reported and kept in
        the daily summary, and the position and its lock are kept (the shares are still ours)."""
        held = self.holding
        assert held is not None
        self._log.info("mandatory liquidation", symbol=held.lock.symbol)
        unsold = await self._liquidation.liquidate(self.worker_id, [held.lock],
                                                   liquidation_at=self.liquidation_at)
        if not await self._after_sell(held) and unsold:
            await self._retake_lock()

    async def sell(self, purpose: OrderPurpose, *, attempt: int = 1) -> bool:
        """Sell the whole holding at market. True when flat (lock released, back to SCAN)."""
        held = self.holding
        assert held is not None
        try:
            order = await self._orders.create_order(
                held.lock, side=Side.SELL, qty=held.qty, order_type=OrderType.MARKET,
                limit_price=None, purpose=purpose, attempt=attempt)
        except LockLost as exc:
            self._log.warning("lock of the held position lost; re-taking it before selling",
                              symbol=held.lock.symbol, error=str(exc))
            await self._retake_lock()
            return False
        order = await self._orders.send_order(order)
        if order.status is OrderStatus.REJECTED:
            # still holding the shares: keep the lock, try again on the next poll
            self._log.warning("sell order rejected; keeping position and lock",
                              symbol=held.lock.symbol, code=order.reject_code)
            return False
        order = await self._orders.track(order, timeout_s=self._track_timeout)
        if order.status in (OrderStatus.SENT, OrderStatus.PARTIALLY_FILLED):
            order = await self._orders.cancel_remainder(order)
        return await self._after_sell(held)

    async def _retake_lock(self) -> None:
        """The held position's lock was reclaimed while this process still lives: take the
        symbol's lock again if it is free (the next poll sells); a fenced process is stopped
        by its heartbeat, and another holder cannot buy while our position is open."""
        held = self.holding
        assert held is not None
        for ours in await self._locks.locks_of(self.worker_id):
            if ours.symbol == held.lock.symbol:     # not lost (a sale that fell short): keep it
                held.lock = replace(ours, epoch=self.epoch)
                return
        lock = await self._locks.acquire_lock(held.lock.symbol, self.worker_id, epoch=self.epoch)
        if lock is not None:
            held.lock = lock

    async def _after_sell(self, held: Holding) -> bool:
        remaining = [p for p in await self._open_positions()
                     if p["position_id"] == held.position_id]
        if remaining:
            held.qty = remaining[0]["qty"]
            return False
        await self._locks.release_lock(held.lock, "EXITED")
        self.holding = None
        await self.move(WorkerStatus.SCAN, symbol=None, reason="position exited")
        return True

    async def positions(self) -> list[Any]:
        return await self._open_positions()

    async def open_orders(self) -> list[Any]:
        return await self._orders_open()
