"""Entry step of the SCAN state (spec SC-003..SC-005, EC-002, EC-004): walk the ranked
candidates, and for the first one that passes risk, can be locked and fills, hold it.
Right before its order row is written, the entry gate may still refuse it (past the entry
cutoff, or a stale scan): then no other candidate of that scan is tried either.

Every buy is sent at most once. A send whose outcome is unknown keeps its lock (the
position may exist at the broker) and is handed back as pending, never resent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import structlog

from tradefleet.domain.errors import LockLost
from tradefleet.domain.events import RiskViolationEvent
from tradefleet.domain.locks import Lock
from tradefleet.domain.markets import Market
from tradefleet.domain.orders import OrderPurpose, OrderStatus, OrderType, Side
from tradefleet.domain.risk import CAPITAL_LIMIT, RiskLimits, check_entry, entry_qty
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.events import EventSink
from tradefleet.ports.market_of import MarketOf
from tradefleet.ports.trade_store import OrderRow
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_service import OrderService
from tradefleet.services.scan_service import RankedCandidate, Reader
from tradefleet.worker.entry_gate import EntryGate


@dataclass(frozen=True, slots=True)
class EntryOutcome:
    """``order`` filled (some or all) → HOLD; ``pending`` → outcome unknown, lock kept;
    ``blocked`` → a risk limit stopped buying for the day."""

    lock: Lock | None
    order: OrderRow | None
    pending: bool = False
    blocked: bool = False


class EntryStep:
    def __init__(self, *, broker: BrokerPort, locks: LockService, orders: OrderService,
                 sink: EventSink, worker_id: str, limits: RiskLimits,
                 stop_loss_pct: Decimal, realized_pnl_today: Callable[[], Awaitable[int]],
                 read: Reader, gate: EntryGate, track_timeout_s: float = 5.0,
                 markets: MarketOf | None = None, require_market: bool = False) -> None:
        """``gate``: the entry cutoff and the scan's freshness, asked before the order row."""
        self._gate = gate
        self._broker = broker
        self._locks = locks
        self._orders = orders
        self._sink = sink
        self._worker_id = worker_id
        self._limits = limits
        self._stop_loss = stop_loss_pct
        self._pnl_today = realized_pnl_today
        self._read = read
        self._track_timeout = track_timeout_s
        self._markets = markets              # the symbol's market decides its sell taxes
        self._require_market = require_market
        self._log = structlog.get_logger("tradefleet.entry").bind(worker_id=worker_id)
        self.entering: str | None = None     # the symbol locked for the entry under way

    async def try_enter(self, ranked: Sequence[RankedCandidate], *, epoch: int | None = None
                        ) -> EntryOutcome | None:
        """None when no candidate could be entered this poll (stay in SCAN). ``epoch`` is
        the process epoch the locks (and so the orders) are taken under."""
        try:
            return await self._first_entered(ranked, epoch)
        finally:
            self.entering = None

    async def _first_entered(self, ranked: Sequence[RankedCandidate], epoch: int | None
                             ) -> EntryOutcome | None:
        for candidate in ranked:
            symbol = candidate.symbol
            buyable = await self._read(
                "get_buyable_qty", lambda s=symbol: self._broker.get_buyable_qty(s, None))
            qty = entry_qty(self._limits.capital_limit, candidate.price, buyable)
            if qty <= 0:
                self._log.info("candidate skipped: zero quantity", symbol=symbol,
                               price=candidate.price, buyable_qty=buyable)
                continue
            order_value = qty * candidate.price
            expected_loss = int(Decimal(order_value) * self._stop_loss / 100)
            pnl_today = await self._pnl_today()
            verdict = check_entry(self._limits, realized_pnl_today=pnl_today,
                                  order_value=order_value, expected_loss=expected_loss)
            if not verdict.allowed:
                await self._sink.publish(RiskViolationEvent(
                    worker_id=self._worker_id, symbol=symbol, rule=verdict.rule or "",
                    detail=verdict.detail, daily_pnl=pnl_today,
                    limit=self._limits.capital_limit if verdict.rule == CAPITAL_LIMIT
                    else self._limits.daily_loss_limit))
                return EntryOutcome(None, None, blocked=True)
            market = await self._market_of(symbol)
            if market is None and self._require_market:
                self._log.warning("candidate skipped: its market (and so its taxes) is not "
                                  "known; list it under costs.markets", symbol=symbol)
                continue
            lock = await self._locks.acquire_lock(symbol, self._worker_id, epoch=epoch)
            if lock is None:
                self._log.warning("lock held by another worker; trying next candidate",
                                  symbol=symbol)
                continue
            self.entering = symbol      # its ticks may be heard from now (worker/tick_exits)
            refused = await self._gate.refusal(symbol, candidate.quote.at)
            if refused is not None:      # too late, or too old a scan: for every candidate
                await self._locks.release_lock(lock, refused)
                return None
            outcome = await self._buy(lock, qty, market, candidate.price)
            if outcome is not None:
                return outcome
        return None

    async def _market_of(self, symbol: str) -> Market | None:
        if self._markets is None:
            return None
        markets = self._markets
        return await self._read("market_of", lambda: markets.market_of(symbol))

    async def _buy(self, lock: Lock, qty: int, market: Market | None, price: int
                   ) -> EntryOutcome | None:
        try:
            order = await self._orders.create_order(
                lock, side=Side.BUY, qty=qty, order_type=OrderType.MARKET, limit_price=None,
                purpose=OrderPurpose.ENTRY, market=market, decision_price=price)
        except LockLost as exc:
            # refused by the guarded insert: the lock is gone, or the symbol still carries
            # another worker's open position; either way this lock is of no use to us
            await self._locks.release_lock(lock, "ORDER_REFUSED")
            self._log.warning("order refused by the fence; lock released, trying the next "
                              "candidate", symbol=lock.symbol, error=str(exc))
            return None
        order = await self._orders.send_order(order)
        if order.status is OrderStatus.REJECTED:
            await self._locks.release_lock(lock, "REJECTED")
            self._log.warning("buy order rejected; lock released", symbol=lock.symbol,
                              order_id=order.order_id, code=order.reject_code)
            return None
        try:
            order = await self._orders.track(order, timeout_s=self._track_timeout)
            if order.status is OrderStatus.SENT or order.status is OrderStatus.PARTIALLY_FILLED:
                order = await self._orders.cancel_remainder(order)   # IOC semantics
        except Exception as exc:  # noqa: BLE001 - the order lives on: the follower has it
            self._log.error("buy not settled; keeping lock, the follower settles it",
                            symbol=lock.symbol, order_id=order.order_id,
                            error_type=type(exc).__name__, error=str(exc), exc_info=True)
            return EntryOutcome(lock, order, pending=True)
        if order.filled_qty > 0 and order.status.is_terminal:
            return EntryOutcome(lock, order)
        if order.status.is_terminal:
            await self._locks.release_lock(lock, "UNFILLED")
            self._log.warning("buy order not filled; lock released", symbol=lock.symbol,
                              order_id=order.order_id, status=str(order.status))
            return None
        self._log.error("buy outcome not final yet; keeping lock, not resending",
                        symbol=lock.symbol, order_id=order.order_id, status=str(order.status))
        return EntryOutcome(lock, order, pending=True)
