"""The ONE place where a worker is assembled from ``Settings``: stores, services, the
strategy, the retry policy and the trading cycle. Callers bring the broker and the clock
(simulated market or KIS; simulated or wall clock) and a connected Database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from datetime import timedelta
from functools import partial

from tradefleet.adapters.calendar_cache import krx_calendar
from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.kis.client import KisConfig
from tradefleet.adapters.postgres.candidate_store import PostgresCandidateStore
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.adapters.postgres.orphan_store import PostgresOrphanStore
from tradefleet.adapters.postgres.poll_lag_store import PostgresPollLagStore
from tradefleet.adapters.postgres.position_store import open_positions
from tradefleet.adapters.postgres.shared_quotes import SharedQuotesBroker
from tradefleet.adapters.postgres.shared_scan_store import PostgresSharedScanStore
from tradefleet.adapters.postgres.summary_store import PostgresSummaryStore
from tradefleet.adapters.postgres.worker_controls_store import read_controls
from tradefleet.adapters.postgres.worker_readings import read_worker_readings
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.adapters.telemetry.metered_broker import MeteredBroker
from tradefleet.adapters.telemetry.metrics import WorkerMetrics
from tradefleet.adapters.telemetry.redaction import register_secret
from tradefleet.domain.costs import CostModel
from tradefleet.domain.lease import Lease
from tradefleet.domain.risk import RiskLimits
from tradefleet.ports.broker import BrokerPort
from tradefleet.ports.clock import Clock
from tradefleet.ports.market_of import MarketOf
from tradefleet.ports.trade_store import StrategyTag
from tradefleet.services.account_reconciler import STRAY_CHECK_S, AccountReconciler
from tradefleet.services.liquidation_service import LiquidationService
from tradefleet.services.lock_service import LockService
from tradefleet.services.market_directory import MarketDirectory
from tradefleet.services.order_follower import OrderFollower
from tradefleet.services.order_service import OrderService
from tradefleet.services.scan_service import ScanService
from tradefleet.services.shared_scan import SharedScans
from tradefleet.services.worker_registry import WorkerRegistry
from tradefleet.settings import Settings
from tradefleet.worker.cycle import TradingCycle
from tradefleet.worker.cycle_parts import ExitWatch, OrderPaths, RecoveryHooks
from tradefleet.worker.entry import EntryStep
from tradefleet.worker.entry_gate import EntryGate
from tradefleet.worker.guarded_broker import GuardedBroker
from tradefleet.worker.metrics_page import WorkerMetricsPage
from tradefleet.worker.poll_lag import PollLagMeter
from tradefleet.worker.retry import BrokerReadRetry
from tradefleet.worker.session import MarketDay, market_day
from tradefleet.worker.trading_day import TradingDay
from tradefleet.worker.worker import Worker, WorkerConfig


def register_settings_secrets(settings: Settings) -> None:
    """Every decrypted secret is masked in every later log line."""
    for secret in (settings.broker.appkey, settings.broker.appsecret, settings.account.cano):
        register_secret(secret.get_secret_value())
    if settings.db.dsn is not None:
        register_secret(settings.db.dsn.get_secret_value())


def kis_config(settings: Settings, *, worker_tag: str | None = None) -> KisConfig:
    """The broker's REST settings from the loaded settings. A simulated account speaks the
    real dialect; only the simulator reads `worker_tag` (its per-worker fault rules)."""
    simulated = settings.mode == "sim"
    return KisConfig(base_url=settings.broker.base_url or "",
                     appkey=settings.broker.appkey.get_secret_value(),
                     appsecret=settings.broker.appsecret.get_secret_value(),
                     cano=settings.account.cano.get_secret_value(),
                     product_code=settings.account.product_code,
                     mode="real" if simulated else settings.mode,
                     timeout_seconds=settings.broker.timeout_seconds,
                     simulator_worker_tag=worker_tag if simulated else None)


def todays_market(settings: Settings, clock: Clock) -> MarketDay:
    """The session of the clock's day from the KRX calendar (disk-cached, with overrides);
    the regular 09:00-15:30 only for sim mode on a day the calendar does not know."""
    day = clock.now().astimezone(SEOUL).date()
    return market_day(day, mode=settings.mode,
                      liquidation_offset=timedelta(
                          minutes=settings.risk.liquidation_offset_minutes),
                      calendar=krx_calendar(day))


SHARED_SCAN_CLAIM_TTL_S = 3.0   # real seconds a killed claimer can hold its account's scan up


def _shared_scans(broker: BrokerPort, db: Database, clock: Clock,
                  worker_id: str) -> SharedScans | None:
    """Scans are shared where quotes are: one account's fleet on one snapshot per window."""
    if not isinstance(broker, SharedQuotesBroker):
        return None
    return SharedScans(PostgresSharedScanStore(db), clock,
                       window_seconds=broker.window_seconds,
                       claim_ttl_s=SHARED_SCAN_CLAIM_TTL_S,
                       claimer=f"{worker_id}:{os.getpid()}:{uuid.uuid4().hex[:6]}")


def build_worker(settings: Settings, *, db: Database, broker: BrokerPort, clock: Clock,
                 universe: Sequence[str], track_timeout_s: float = 5.0,
                 retry_base_delay: float = 0.2, unseen_grace_s: float | None = None,
                 markets: MarketOf | None = None,
                 stray_check_s: float = STRAY_CHECK_S, stray_on_session_clock: bool = False,
                 metrics: WorkerMetrics | None = None) -> Worker:
    """``markets`` tells a symbol's KRX market (its sell taxes): the simulator's universe,
    or None (then only ``costs.markets``). Real mode buys only symbols whose market is known;
    sim and paper charge an unknown market the highest tax any market would.
    ``stray_check_s``: seconds between two looks at the broker's holdings for shares no
    row accounts for (tests that step polls on a frozen clock look every time with 0): real
    seconds, or ``clock``'s session seconds with ``stray_on_session_clock`` (a replay).
    ``metrics``: the process's registry (the command builds it first when the broker's rate
    budget reports into it too); None = a new one. Served on the health port."""
    worker_id = settings.worker_id
    shared_scans = _shared_scans(broker, db, clock, worker_id)
    account_key = broker.account_key if isinstance(broker, SharedQuotesBroker) else ""
    metrics = metrics or WorkerMetrics()
    metrics.set_identity(worker_id)
    broker = MeteredBroker(broker, metrics.broker_call)
    sink = PostgresEventSink(db, observe=metrics.observe_event)
    registry = WorkerRegistry(PostgresWorkerStore(db), sink)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=settings.locks.ttl_seconds)
    # the strategy (shipped, entry point or the user's file) with its filters and exits
    strategy, filters, exits = settings.trading_rules()
    costs = CostModel(settings.costs.buy_commission_rate, settings.costs.sell_commission_rate)
    order_store = PostgresOrderStore(db, costs=costs, on_status=metrics.order_status)
    # every order POST passes the lease and the database fence first
    lease = Lease(settings.locks.ttl_seconds)
    order_broker = GuardedBroker(broker, lease, order_store.fence_holds)
    summaries = PostgresSummaryStore(db)
    grace = settings.broker.unseen_grace_seconds if unseen_grace_s is None else unseen_grace_s
    orders = OrderService(order_store, order_broker, sink, clock, strategy=StrategyTag(
        strategy.name, strategy.strategy_version, strategy.param_version),
        summaries=summaries,          # fills far worse than the decision quote are noted
        unseen_grace_s=grace)         # the sender's track and the follower judge alike
    follower = OrderFollower(orders, order_store, sink, unseen_grace_s=grace)
    orphans = AccountReconciler(PostgresOrphanStore(db), locks, broker, sink,
                                stray_check_s=stray_check_s,
                                stray_clock=clock if stray_on_session_clock else None)
    retry = BrokerReadRetry(sink, worker_id=worker_id, base_delay=retry_base_delay)
    scanner = ScanService(broker, PostgresCandidateStore(db), sink, strategy, filters,
                          worker_id=worker_id, read=retry.call, shared=shared_scans,
                          account_key=account_key)
    limits = RiskLimits(settings.risk.capital_limit, settings.risk.daily_loss_limit)
    market = todays_market(settings, clock)
    liquidation_at, close_at = market.liquidates_at, market.closes_at

    async def pnl_today() -> int:
        value = await db.pool.fetchval(
            "SELECT coalesce(sum(realized_pnl), 0) FROM positions WHERE worker_id = $1 "
            "AND trading_day = $2 AND status = 'CLOSED'", worker_id,
            clock.now().astimezone(SEOUL).date())
        return int(value)

    day = TradingDay(clock, liquidation_at=liquidation_at,
                     entry_cutoff=timedelta(minutes=settings.risk.entry_cutoff_minutes),
                     scan_max_age=timedelta(seconds=settings.risk.scan_max_age_seconds))
    entry = EntryStep(broker=broker, locks=locks, orders=orders, sink=sink,
                      worker_id=worker_id, limits=limits, stop_loss_pct=exits.stop_loss_pct,
                      realized_pnl_today=pnl_today, read=retry.call,
                      gate=EntryGate(day, sink, worker_id=worker_id),
                      track_timeout_s=track_timeout_s,
                      markets=MarketDirectory(markets, overrides=settings.costs.markets),
                      require_market=settings.mode == "real")

    liquidation = LiquidationService(orders, order_store, summaries, broker,
                                     sink, clock, track_timeout_s=track_timeout_s)

    paths = OrderPaths(orders=orders, entry=entry, liquidation=liquidation,
                       open_positions=lambda: open_positions(db.pool, worker_id),
                       open_orders=lambda: order_store.open_orders(worker_id),
                       track_timeout_s=track_timeout_s)
    hooks = RecoveryHooks(reconcile=lambda: follower.settle(worker_id), orphans=orphans,
                          controls=lambda: read_controls(db.pool, worker_id))
    watch = ExitWatch(broker, retry.call, exits, sink, clock, worker_id=worker_id)

    def make_cycle(epoch: int) -> TradingCycle:
        return TradingCycle(
            worker_id=worker_id, epoch=epoch, registry=registry, locks=locks, day=day,
            scan=partial(scanner.scan, universe), paths=paths,
            watch=watch, hooks=hooks)

    config = WorkerConfig(
        worker_id=worker_id, mode=settings.mode,
        poll_interval_seconds=settings.poll_interval_seconds,
        lock_ttl_seconds=settings.locks.ttl_seconds,
        heartbeat_interval_seconds=settings.locks.heartbeat_interval_seconds,
        limits=limits, liquidation_at=liquidation_at, session_close=close_at,
        health_port=settings.health_port, market=market)
    page = WorkerMetricsPage(metrics, lambda: read_worker_readings(
        db, worker_id, clock.now().astimezone(SEOUL).date()))
    return Worker(config, broker=broker, clock=clock, sink=sink, registry=registry,
                  locks=locks, retry=retry, lease=lease, make_cycle=make_cycle,
                  metrics_page=page,
                  poll_lag=PollLagMeter(PostgresPollLagStore(db), worker_id))
