"""One poll of the worker's state machine: SCAN (search, enter) or HOLD (watch, exit).

Kept separate from the process shell (worker.py) so tests can drive polls one by one
against the simulated market with a frozen clock. The cycle is handed a few components
(cycle_parts.py, trading_day.py); its transitions are the table ``CYCLE_FSM`` below."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import structlog
from opentelemetry import trace

from tradefleet.domain.errors import BrokerError, LockLost
from tradefleet.domain.locks import Lock
from tradefleet.domain.orders import OrderPurpose, OrderStatus, OrderType, Side
from tradefleet.domain.states import IllegalTransition, WorkerStatus
from tradefleet.domain.strategies.base import StrategyFailed
from tradefleet.services.lock_service import LockService
from tradefleet.services.worker_registry import WorkerRegistry
from tradefleet.worker.cycle_parts import (
    ExitWatch,
    Holding,
    OrderPaths,
    RecoveryHooks,
    Scan,
)
from tradefleet.worker.trading_day import TradingDay

__all__ = ["CYCLE_FSM", "ENTRY_PENDING", "STRATEGY_FAILED", "Holding", "TradingCycle", "Why"]

ENTRY_PENDING = "entry pending: its outcome is not known yet; followed until it is final"
STRATEGY_FAILED = "strategy error"     # the buy-blocked reason the workers row shows
_tracer = trace.get_tracer("tradefleet.worker")


class Why(StrEnum):
    """What moves the cycle; the value is the transition's recorded reason."""

    STARTED = "start-up complete"
    RECOVERED = "recovered open position"
    TAKEN_UP = "open position taken up"
    ORPHAN_ADOPTED = "orphan adopted"
    ENTRY_FILLED = "entry filled"
    ENTRY_PENDING = ENTRY_PENDING
    ENTRY_NOT_FILLED = "entry not filled"
    EXITED = "position exited"


IDLE, SCAN, HOLD = WorkerStatus.IDLE, WorkerStatus.SCAN, WorkerStatus.HOLD
# The cycle's state machine at a glance: (state, what happened) -> next state. EXIT is the
# process's stop (Worker._shutdown through the registry), not a move of the cycle.
CYCLE_FSM: dict[tuple[WorkerStatus, Why], WorkerStatus] = {
    (IDLE, Why.STARTED): SCAN,              # recovery found nothing to hold
    (IDLE, Why.RECOVERED): HOLD,            # recovery resumed an open position
    (SCAN, Why.TAKEN_UP): HOLD,             # shares of ours the cycle had lost track of
    (SCAN, Why.ORPHAN_ADOPTED): HOLD,       # shares no live worker owns: sold at once
    (SCAN, Why.ENTRY_FILLED): HOLD,         # the buy filled (some or all)
    (SCAN, Why.ENTRY_PENDING): HOLD,        # the buy's outcome unknown: lock kept, followed
    (HOLD, Why.ENTRY_NOT_FILLED): SCAN,     # the followed buy ended with nothing bought
    (HOLD, Why.EXITED): SCAN,               # sold (exit rule, orphan, or liquidation)
}
_TARGET = {why: to for (_, why), to in CYCLE_FSM.items()}
# What one poll does in each state (IDLE and EXIT poll nothing).
POLL_STEPS = {SCAN: "scan_poll", HOLD: "hold_poll"}


class TradingCycle:
    def __init__(self, *, worker_id: str, epoch: int, registry: WorkerRegistry,
                 locks: LockService, day: TradingDay, scan: Scan, paths: OrderPaths,
                 watch: ExitWatch, hooks: RecoveryHooks | None = None) -> None:
        """``day``: the session clock and its times; ``scan``: one scan of the universe;
        ``paths``: every order path; ``watch``: HOLD's market reads and exit rules;
        ``hooks``: reconciliation, orphans and the operator's controls."""
        self.worker_id = worker_id
        self.epoch = epoch
        self._registry = registry
        self._locks = locks
        self.day = day
        self._scan = scan
        self.paths = paths
        self._watch = watch
        self.hooks = hooks or RecoveryHooks()
        self.buying_paused = False    # the operator's pause (worker_controls.buy_paused)
        self.status = WorkerStatus.IDLE
        self.holding: Holding | None = None
        # held by every poll and by an exit on the tick (worker/tick_exits.py): one decides
        # at a time, so the two never both sell one position
        self.turn = asyncio.Lock()
        self.buying_stopped = False
        self._cutoff_told = False
        self._log = structlog.get_logger("tradefleet.worker").bind(worker_id=worker_id)

    @property
    def watch(self) -> ExitWatch:
        """HOLD's market reads and exit rules (the exits on the tick lend it their ticks)."""
        return self._watch

    @property
    def liquidation_at(self) -> datetime:
        return self.day.liquidation_at

    @property
    def reconcile(self) -> Callable[[], Awaitable[Any]] | None:
        """One pass of the order follower (start-up recovery and the follow timer)."""
        return self.hooks.reconcile

    async def on(self, why: Why, *, symbol: str | None) -> None:
        """Make the move the table names for ``why`` from the current state."""
        to = CYCLE_FSM.get((self.status, why))
        if to is None:
            raise IllegalTransition(self.status, _TARGET[why])
        await self.move(to, symbol=symbol, reason=why.value)

    async def move(self, to: WorkerStatus, *, symbol: str | None, reason: str) -> None:
        await self._registry.transition(self.worker_id, self.epoch, to,
                                        current_symbol=symbol, reason=reason)
        self.status = to

    def trading_day(self) -> date:
        return self.day.day()

    def liquidation_due(self) -> bool:
        return self.day.liquidation_due()

    async def adopt(self, lock: Lock) -> bool:
        """Take over this worker's open position on ``lock.symbol`` (entry fill or
        recovery); False when no open position exists for it."""
        for pos in await self.paths.open_positions():
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
        busy = {o.symbol for o in await self.paths.open_orders()}
        taken: str | None = None
        for pos in [p for p in await self.paths.open_positions() if p["qty"] > 0]:
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
            async with self.turn:
                await self._poll()
            span.set_attribute("status_after", self.status.value)

    async def _poll(self) -> None:
        """Broker read failures end the poll quietly (the retry policy already logged and
        published them)."""
        if self.hooks.controls is not None:
            await self._apply_controls()
        step = POLL_STEPS.get(self.status)
        try:
            if step is not None:
                await getattr(self, step)()
        except BrokerError as exc:
            self._log.error("poll abandoned after broker failure; waiting for next poll",
                            error_type=type(exc).__name__, error=str(exc),
                            status=str(self.status))

    async def scan_poll(self) -> None:
        if await self.paths.open_orders():
            return              # an order of ours is not final yet: buy nothing else
        if await self.paths.open_positions() or await self._locks.locks_of(self.worker_id):
            if await self.take_up() is not None:     # shares we lost track of: hold them
                await self.on(Why.TAKEN_UP, symbol=self.holding.lock.symbol)
                return
        if self.hooks.orphans is not None and await self._adopt_orphan():
            return
        if not self._may_buy():
            return
        try:
            result = await self._scan(self.trading_day())
        except StrategyFailed as exc:
            await self._strategy_failed(exc)
            return
        if not result.ranked:
            return
        outcome = await self.paths.entry.try_enter(result.ranked, epoch=self.epoch)
        if outcome is None:
            return
        if outcome.blocked:
            self.buying_stopped = True
            await self._registry.set_buy_blocked(self.worker_id, "risk limit")
            return
        assert outcome.lock is not None
        why = Why.ENTRY_FILLED
        if outcome.pending or not await self.adopt(outcome.lock):
            # unknown send: hold the lock and look again next poll; never buy twice
            self.holding = Holding(outcome.lock, 0, 0, Decimal(0))
            why = Why.ENTRY_PENDING
        await self.on(why, symbol=outcome.lock.symbol)

    async def _strategy_failed(self, exc: StrategyFailed) -> None:
        """The strategy's own code failed: no more buying today (a person fixes the code and
        restarts the worker); what is held is still managed by the exit rules and the
        liquidation, which run none of the strategy's code."""
        self.buying_stopped = True
        self._log.error("strategy failed; buying stopped, held positions still managed",
                        strategy=exc.strategy, error=str(exc), exc_info=exc)
        await self._registry.set_buy_blocked(self.worker_id, STRATEGY_FAILED)

    def _may_buy(self) -> bool:
        """Checked at the start of a scan poll, so a late day costs no scan; the entry step
        checks the cutoff again right before its order row (the scan may be slow)."""
        if self.liquidation_due():
            if not self.buying_stopped:
                self.buying_stopped = True
                self._log.info("liquidation time reached; buying stopped",
                               liquidation_at=self.liquidation_at.isoformat())
            return False
        if self.day.entry_closed():
            if not self._cutoff_told:
                self._cutoff_told = True
                self._log.info("entry cutoff reached: no new entries today",
                               entry_closes_at=self.day.entry_closes_at.isoformat(),
                               liquidation_at=self.liquidation_at.isoformat())
            return False
        return not (self.buying_stopped or self.buying_paused)

    async def _apply_controls(self) -> None:
        """The operator's orders through the database: pause buying (what is held is still
        managed), and liquidate from an earlier time than this worker's own clock says."""
        assert self.hooks.controls is not None
        controls = await self.hooks.controls()
        self.buying_paused = controls.buy_paused
        at = controls.liquidate_from(self.trading_day())
        if at is not None and self.day.liquidate_earlier(at):
            self._log.info("liquidation ordered by the operator", liquidation_at=at.isoformat(),
                           ordered_by=controls.liquidate_requested_by)

    async def _adopt_orphan(self) -> bool:
        """Shares that no live worker owns are taken over and sold by this one."""
        assert self.hooks.orphans is not None
        adopted = await self.hooks.orphans.adopt_one(self.worker_id, self.epoch, self.trading_day())
        if adopted is None:
            return False
        pos = adopted.position
        self.holding = Holding(adopted.lock, pos.position_id, pos.qty,
                               Decimal(pos.entry_price or 0), orphan=True)
        await self.on(Why.ORPHAN_ADOPTED, symbol=pos.symbol)
        return True

    async def _symbol_busy(self, symbol: str) -> bool:
        return any(o.symbol == symbol for o in await self.paths.open_orders())

    async def hold_poll(self) -> None:
        assert self.holding is not None
        symbol = self.holding.lock.symbol
        if await self._symbol_busy(symbol):
            return                    # an order on it is still being followed to its end
        if self.holding.position_id == 0 and not await self.adopt(self.holding.lock):
            # the entry ended with nothing bought (the follower settled it)
            await self._locks.release_lock(self.holding.lock, "UNFILLED")
            self.holding = None
            await self.on(Why.ENTRY_NOT_FILLED, symbol=None)
            return
        if self.holding.orphan:
            await self.sell(OrderPurpose.ORPHAN)
            return
        if self.liquidation_due():
            await self.liquidate()
            return
        reason = await self._watch.exit_reason(self.holding, liquidation_at=self.liquidation_at)
        if reason is not None:
            await self.sell(reason)

    async def liquidate(self) -> None:
        """SC-008 / EC-003 through the LiquidationService: market sells, least liquid first,
        the unfilled remainder retried up to three times; a shortfall is reported and kept in
        the daily summary, and the position and its lock are kept (the shares are still ours)."""
        held = self.holding
        assert held is not None
        self._log.info("mandatory liquidation", symbol=held.lock.symbol)
        unsold = await self.paths.liquidation.liquidate(self.worker_id, [held.lock],
                                                   liquidation_at=self.liquidation_at)
        if not await self._after_sell(held) and unsold:
            await self._retake_lock()

    async def sell(self, purpose: OrderPurpose, *, attempt: int = 1) -> bool:
        """Sell the whole holding at market. True when flat (lock released, back to SCAN)."""
        held = self.holding
        assert held is not None
        try:
            order = await self.paths.orders.create_order(
                held.lock, side=Side.SELL, qty=held.qty, order_type=OrderType.MARKET,
                limit_price=None, purpose=purpose, attempt=attempt)
        except LockLost as exc:
            self._log.warning("lock of the held position lost; re-taking it before selling",
                              symbol=held.lock.symbol, error=str(exc))
            await self._retake_lock()
            return False
        order = await self.paths.orders.send_order(order)
        if order.status is OrderStatus.REJECTED:
            # still holding the shares: keep the lock, try again on the next poll
            self._log.warning("sell order rejected; keeping position and lock",
                              symbol=held.lock.symbol, code=order.reject_code)
            return False
        order = await self.paths.orders.track(order, timeout_s=self.paths.track_timeout_s)
        if order.status in (OrderStatus.SENT, OrderStatus.PARTIALLY_FILLED):
            order = await self.paths.orders.cancel_remainder(order)
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
        remaining = [p for p in await self.paths.open_positions()
                     if p["position_id"] == held.position_id]
        if remaining:
            held.qty = remaining[0]["qty"]
            return False
        await self._locks.release_lock(held.lock, "EXITED")
        self.holding = None
        await self.on(Why.EXITED, symbol=None)
        return True

    async def positions(self) -> list[Any]:
        return await self.paths.open_positions()

    async def open_orders(self) -> list[Any]:
        return await self.paths.open_orders()
