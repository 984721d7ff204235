"""A worker as production builds it (``worker.wiring.build_worker`` from ``Settings``), started
(``Worker.start``: authenticate, register, recover) against a real database and the
in-process simulated market on a frozen clock, so scenario tests drive its own polls one at a
time. Nothing here sets the worker's state: a step is what the running worker does between
two sleeps (its order follower's pass, then one poll of its trading cycle).

The lock TTL is long (300 s) because no heartbeat timer runs while a test steps polls: the
worker's lease, granted at registration, must outlive the test. Lease expiry, heartbeats and
reclaims are proven with running workers (tests/scenarios/test_sc009_reclaim.py,
tests/test_fencing.py, tests/test_money_processes.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.exits import ExitParams
from tradefleet.domain.markets import Market
from tradefleet.domain.states import WorkerStatus
from tradefleet.ports.trade_store import OrderRow
from tradefleet.services.lock_service import LockService
from tradefleet.services.market_directory import MarketTable
from tradefleet.services.scan_service import RankedCandidate
from tradefleet.settings import Settings, load_settings
from tradefleet.worker.cycle import TradingCycle
from tradefleet.worker.wiring import build_worker
from tradefleet.worker.worker import Worker

DAY_START = datetime(2026, 11, 24, 10, 0, 10, tzinfo=SEOUL)
LIQUIDATION_AT = datetime(2026, 11, 24, 15, 15, tzinfo=SEOUL)
POLL_S = 23.0                      # sim seconds between steps: lands mid-minute too
TTL_S = 300
# exits that never fire in a morning: ±29.9 %, a trend window longer than the bars so far
WIDE_EXITS = ExitParams(stop_loss_pct=Decimal("29.9"), take_profit_pct=Decimal("29.9"),
                        trend_ma_window=120, time_exit_minutes=0)
STRATEGY = '{"short": 2, "long": 5, "breakout_window": 5}'


def worker_env(worker_id: str, *, capital_limit: int = 5_000_000,
               daily_loss_limit: int = 10_000_000, exits: ExitParams = WIDE_EXITS,
               **extra: str) -> dict[str, str]:
    """The environment a sim worker of these scenarios is configured by."""
    return {"TRADEFLEET_WORKER_ID": worker_id, "TRADEFLEET_MODE": "sim",
            "TRADEFLEET_RISK__CAPITAL_LIMIT": str(capital_limit),
            "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": str(daily_loss_limit),
            "TRADEFLEET_POLL_INTERVAL_SECONDS": "5",
            "TRADEFLEET_STRATEGY__PARAMS": STRATEGY,
            "TRADEFLEET_FILTERS__MIN_VOLUME": "0", "TRADEFLEET_FILTERS__MIN_TRADED_VALUE": "0",
            "TRADEFLEET_FILTERS__MAX_SPREAD_TICKS": "50",
            "TRADEFLEET_EXITS__STOP_LOSS_PCT": str(exits.stop_loss_pct),
            "TRADEFLEET_EXITS__TAKE_PROFIT_PCT": str(exits.take_profit_pct),
            "TRADEFLEET_EXITS__TREND_MA_WINDOW": str(exits.trend_ma_window),
            "TRADEFLEET_EXITS__TIME_EXIT_MINUTES": str(exits.time_exit_minutes),
            "TRADEFLEET_LOCKS__TTL_SECONDS": str(TTL_S), **extra}


@dataclass
class Rig:
    db: Database
    market: SimMarket
    clock: FrozenClock
    broker: SimBroker
    settings: Settings
    worker: Worker
    cycle: TradingCycle
    sink: PostgresEventSink

    @property
    def worker_id(self) -> str:
        return self.settings.worker_id

    async def follow(self) -> None:
        """One pass of the worker's order follower (its follow timer)."""
        assert self.cycle.reconcile is not None
        await self.cycle.reconcile()

    async def step(self, seconds: float = POLL_S) -> None:
        """What the running worker does in one turn: time passes, its follower runs, it polls."""
        self.clock.advance(seconds)
        await self.follow()
        await self.cycle.poll()


async def build(db: Database, *, worker_id: str = "w-1", market: SimMarket | None = None,
                clock: FrozenClock | None = None, capital_limit: int = 5_000_000,
                exits: ExitParams = WIDE_EXITS, universe: list[str] | None = None,
                daily_loss_limit: int = 10_000_000, unseen_grace_s: float = 0.0,
                stray_check_s: float = 0.0, stray_on_session_clock: bool = False,
                **env: str) -> Rig:
    clock = clock or FrozenClock(DAY_START)
    market = market or SimMarket(7, n_symbols=40, clock=clock)
    broker = SimBroker(market)
    settings = load_settings(None, worker_env(worker_id, capital_limit=capital_limit,
                                              daily_loss_limit=daily_loss_limit, exits=exits,
                                              **env))
    worker = build_worker(settings, db=db, broker=broker, clock=clock,
                          universe=universe or market.symbols(), track_timeout_s=2.0,
                          retry_base_delay=0.001, unseen_grace_s=unseen_grace_s,
                          markets=MarketTable({i.symbol: Market(i.market)
                                               for i in market.symbol_infos()}),
                          stray_check_s=stray_check_s,
                          stray_on_session_clock=stray_on_session_clock)
    cycle = await worker.start()
    if cycle.status is WorkerStatus.IDLE:        # start-up that leaves recovery to the loop
        await worker.recover(cycle)
    return Rig(db, market, clock, broker, settings, worker, cycle, PostgresEventSink(db))


async def poll_until(rig: Rig, done: Callable[[], Awaitable[bool]] | Callable[[], bool], *,
                     seconds: float = POLL_S, max_polls: int = 300) -> int:
    """Step the worker until ``done()``; the number of steps taken (AssertionError if never)."""
    for n in range(1, max_polls + 1):
        await rig.step(seconds)
        result = done()
        if not isinstance(result, bool):
            result = await result
        if result:
            return n
    raise AssertionError(f"{rig.worker_id}: condition not reached in {max_polls} polls")


async def poll_until_holding(rig: Rig, **kw: float) -> str:
    """Step until the worker's own scan and entry put it in HOLD on a filled position."""
    await poll_until(rig, lambda: rig.cycle.holding is not None
                     and rig.cycle.holding.position_id != 0, **kw)
    return rig.cycle.holding.lock.symbol


def liquid_symbol(market: SimMarket, skip: int = 0) -> str:
    u = market.universe
    found = [s for i, s in enumerate(u.symbols) if not u.thin[i] and u.depth[i] >= 5]
    return found[skip]


def candidate(market: SimMarket, symbol: str) -> RankedCandidate:
    quote = market.quote(symbol)
    return RankedCandidate(symbol, quote.price, 1.0, quote)


async def enter(rig: Rig, symbol: str) -> None:
    """Money-path tests: the worker's entry step for one chosen symbol, as a scan poll
    would run it, then HOLD. Acceptance tests let the worker's own scan choose instead."""
    cycle = rig.cycle
    outcome = await cycle.paths.entry.try_enter([candidate(rig.market, symbol)], epoch=cycle.epoch)
    assert outcome is not None and outcome.lock is not None and not outcome.pending
    assert await cycle.adopt(outcome.lock)
    await cycle.move(WorkerStatus.HOLD, symbol=symbol, reason="entry filled")


def later(rig: Rig, minutes: float) -> None:
    rig.clock.advance(timedelta(minutes=minutes).total_seconds())


async def written_order(rig: Rig, symbol: str, *, qty: int = 3,
                        limit_price: int | None = None) -> OrderRow:
    """Money-path tests: the worker's own entry up to its written NEW BUY row (the symbol's
    lock taken under the worker's epoch), not sent; LIMIT when ``limit_price`` is given."""
    lock = await LockService(PostgresLockStore(rig.db), rig.sink, ttl_seconds=TTL_S
                             ).acquire_lock(symbol, rig.worker_id, epoch=rig.cycle.epoch)
    assert lock is not None
    return await rig.cycle.paths.orders.create_order(
        lock, side="BUY", qty=qty, order_type="MARKET" if limit_price is None else "LIMIT",
        limit_price=limit_price, purpose="ENTRY")
