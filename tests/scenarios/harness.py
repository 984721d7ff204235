"""Builds one worker's trading cycle against a real database and the in-process simulated
market, so scenario tests can drive polls one at a time (no mocks: real stores, services,
sink and market)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.postgres.candidate_store import PostgresCandidateStore
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.adapters.postgres.orphan_store import PostgresOrphanStore
from tradefleet.adapters.postgres.position_store import open_positions
from tradefleet.adapters.postgres.summary_store import PostgresSummaryStore
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.exits import ExitParams
from tradefleet.domain.filters import FilterParams
from tradefleet.domain.markets import Market
from tradefleet.domain.risk import RiskLimits
from tradefleet.domain.states import WorkerStatus
from tradefleet.domain.strategies import get_strategy
from tradefleet.ports.trade_store import StrategyTag
from tradefleet.services.account_reconciler import AccountReconciler
from tradefleet.services.liquidation_service import LiquidationService
from tradefleet.services.lock_service import LockService
from tradefleet.services.market_directory import MarketTable
from tradefleet.services.order_follower import OrderFollower
from tradefleet.services.order_service import OrderService
from tradefleet.services.scan_service import RankedCandidate, ScanService
from tradefleet.services.worker_registry import WorkerRegistry
from tradefleet.worker.cycle import TradingCycle
from tradefleet.worker.entry import EntryStep
from tradefleet.worker.retry import BrokerReadRetry

DAY_START = datetime(2026, 11, 24, 10, 0, 10, tzinfo=SEOUL)
LIQUIDATION_AT = datetime(2026, 11, 24, 15, 15, tzinfo=SEOUL)
WIDE_EXITS = ExitParams(stop_loss_pct=Decimal("50"), take_profit_pct=Decimal("50"),
                        trend_ma_window=3, time_exit_minutes=0)


@dataclass
class Rig:
    db: Database
    market: SimMarket
    clock: FrozenClock
    broker: SimBroker
    cycle: TradingCycle
    sink: PostgresEventSink
    follower: OrderFollower


async def build(db: Database, *, worker_id: str = "w-1", market: SimMarket | None = None,
                clock: FrozenClock | None = None, capital_limit: int = 5_000_000,
                exits: ExitParams = WIDE_EXITS, universe: list[str] | None = None,
                daily_loss_limit: int = 10_000_000, unseen_grace_s: float = 0.0) -> Rig:
    clock = clock or FrozenClock(DAY_START)
    market = market or SimMarket(7, n_symbols=40, clock=clock)
    broker = SimBroker(market)
    sink = PostgresEventSink(db)
    registry = WorkerRegistry(PostgresWorkerStore(db), sink)
    epoch = await registry.register(worker_id, pid=1234, host="test", mode="sim",
                                    lock_ttl_seconds=30)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
    strategy = get_strategy("ma_breakout", {"short": 2, "long": 5, "breakout_window": 5})
    order_store = PostgresOrderStore(db)
    orders = OrderService(order_store, broker, sink, clock, strategy=StrategyTag(
        strategy.name, strategy.strategy_version, strategy.param_version))
    retry = BrokerReadRetry(sink, worker_id=worker_id, base_delay=0.001, max_delay=0.002)
    scanner = ScanService(broker, PostgresCandidateStore(db), sink, strategy,
                          FilterParams(0, 0, 50), worker_id=worker_id, read=retry.call)
    limits = RiskLimits(capital_limit=capital_limit, daily_loss_limit=daily_loss_limit)

    async def pnl_today() -> int:
        value = await db.pool.fetchval(
            "SELECT coalesce(sum(realized_pnl), 0) FROM positions "
            "WHERE worker_id = $1 AND status = 'CLOSED'", worker_id)
        return int(value)

    follower = OrderFollower(orders, order_store, sink, unseen_grace_s=unseen_grace_s)
    orphans = AccountReconciler(PostgresOrphanStore(db), locks, broker, sink, stray_check_s=0)
    entry = EntryStep(broker=broker, locks=locks, orders=orders, sink=sink,
                      worker_id=worker_id, limits=limits, stop_loss_pct=exits.stop_loss_pct,
                      realized_pnl_today=pnl_today, read=retry.call, track_timeout_s=2.0,
                      markets=MarketTable({i.symbol: Market(i.market)
                                           for i in market.symbol_infos()}))
    cycle = TradingCycle(
        worker_id=worker_id, epoch=epoch, registry=registry, locks=locks, orders=orders,
        scanner=scanner, entry=entry, broker=broker, sink=sink, read=retry.call, clock=clock,
        exits=exits, universe=universe or market.symbols(), liquidation_at=LIQUIDATION_AT,
        open_positions=lambda: open_positions(db.pool, worker_id),
        open_orders=lambda: order_store.open_orders(worker_id), track_timeout_s=2.0,
        reconcile=lambda: follower.follow(worker_id), orphans=orphans,
        liquidation=LiquidationService(orders, order_store, PostgresSummaryStore(db), broker,
                                       sink, clock, track_timeout_s=2.0, retry_wait_s=0.1))
    await cycle.move(WorkerStatus.SCAN, symbol=None, reason="start")
    return Rig(db, market, clock, broker, cycle, sink, follower)


def liquid_symbol(market: SimMarket, skip: int = 0) -> str:
    u = market.universe
    found = [s for i, s in enumerate(u.symbols) if not u.thin[i] and u.depth[i] >= 5]
    return found[skip]


def candidate(market: SimMarket, symbol: str) -> RankedCandidate:
    quote = market.quote(symbol)
    return RankedCandidate(symbol, quote.price, 1.0, quote)


async def enter(rig: Rig, symbol: str) -> None:
    """Drive the entry step for one chosen symbol as a scan poll would, then go HOLD."""
    cycle = rig.cycle
    outcome = await cycle._entry.try_enter([candidate(rig.market, symbol)])
    assert outcome is not None and outcome.lock is not None and not outcome.pending
    assert await cycle.adopt(outcome.lock)
    await cycle.move(WorkerStatus.HOLD, symbol=symbol, reason="entry filled")


def later(rig: Rig, minutes: float) -> None:
    rig.clock.advance(timedelta(minutes=minutes).total_seconds())
