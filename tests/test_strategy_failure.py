"""A strategy error in live trading (issue 21, item 4): the worker stops buying, keeps
managing the shares it holds, and never crashes. Driven through the production worker
(``build_worker`` from Settings, ``Worker.start`` and recovery, its own follower and polls)
against a real PostgreSQL and the exchange simulator over HTTP (the KIS adapter), with the
user's strategies loaded by path from a temp folder; the exchange's own books judge."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import aiohttp
from tests.books import read_books
from tests.exchange_thread import ExchangeThread
from tests.order_path_child import kis_config
from tests.scenarios.harness import LIQUIDATION_AT, WIDE_EXITS, worker_env

from tradefleet.adapters.kis.broker import in_process_kis_broker
from tradefleet.adapters.postgres.database import Database
from tradefleet.domain.exits import ExitParams
from tradefleet.domain.markets import Market
from tradefleet.domain.states import WorkerStatus
from tradefleet.services.market_directory import MarketTable
from tradefleet.settings import load_settings
from tradefleet.strategy_plugins import load_strategy
from tradefleet.worker.cycle import STRATEGY_FAILED, TradingCycle
from tradefleet.worker.wiring import build_worker

USER_FILE = Path(__file__).parent / "fixtures" / "strategies" / "user_strategies.py"
WORKER = "w-user"
# the second life sells by its time exit as soon as it looks (2 h before liquidation)
TIME_EXIT_NOW = replace(WIDE_EXITS, time_exit_minutes=120)
AFTERNOON = LIQUIDATION_AT - timedelta(minutes=115)


@dataclass
class Life:
    cycle: TradingCycle
    ex: ExchangeThread

    async def step(self, seconds: float = 23.0) -> None:
        """One turn of the running worker: time passes, its follower runs, it polls."""
        self.ex.clock.advance(seconds)
        assert self.cycle.reconcile is not None
        await self.cycle.reconcile()
        await self.cycle.poll()


async def _life(db: Database, ex: ExchangeThread, http: aiohttp.ClientSession, path: Path,
                strategy: str, exits: ExitParams = WIDE_EXITS) -> Life:
    """A worker process's life: its settings name the user's file and strategy."""
    settings = load_settings(None, worker_env(
        WORKER, exits=exits, TRADEFLEET_STRATEGY__NAME=strategy,
        TRADEFLEET_STRATEGY__PATH=str(path), TRADEFLEET_STRATEGY__PARAMS="{}"))
    broker = in_process_kis_broker(kis_config(ex.base_url), http, clock=ex.clock)
    worker = build_worker(settings, db=db, broker=broker, clock=ex.clock,
                          universe=ex.market.symbols(), track_timeout_s=2.0,
                          retry_base_delay=0.001, unseen_grace_s=0.0,
                          markets=MarketTable({i.symbol: Market(i.market)
                                               for i in ex.market.symbol_infos()}),
                          stray_check_s=0)
    cycle = await worker.start()
    if cycle.status is WorkerStatus.IDLE:
        await worker.recover(cycle)
    return Life(cycle, ex)


async def test_a_raising_strategy_stops_buying_and_still_sells_what_it_holds(db, tmp_path):
    folder = tmp_path / "my_strategies"
    folder.mkdir()
    path = Path(shutil.copy(USER_FILE, folder / "mine.py"))
    with ExchangeThread(mode="real", n_symbols=20) as ex:
        async with aiohttp.ClientSession() as http:
            first = await _life(db, ex, http, path, "most_traded")
            for _ in range(40):                       # the user's good strategy buys
                await first.step()
                if first.cycle.holding is not None and first.cycle.holding.position_id:
                    break
            assert first.cycle.status is WorkerStatus.HOLD
            held = first.cycle.holding.lock.symbol
            entry = await db.pool.fetchrow("SELECT * FROM positions WHERE status = 'OPEN'")
            assert entry["strategy_name"] == "most_traded"
            assert entry["param_version"] == load_strategy("most_traded", {}, path
                                                           ).param_version

            # the process dies holding; its next life runs a strategy that raises
            second = await _life(db, ex, http, path, "always_raises", TIME_EXIT_NOW)
            assert second.cycle.status is WorkerStatus.HOLD         # recovered the shares
            assert second.cycle.holding.lock.symbol == held
            ex.clock.set(AFTERNOON)
            for _ in range(10):                       # the exit rule sells; SCAN fails
                await second.step()                   # never raises out of the poll
                if second.cycle.buying_stopped:
                    break
            assert second.cycle.status is WorkerStatus.SCAN and second.cycle.holding is None
            assert second.cycle.buying_stopped
            assert await db.pool.fetchval("SELECT buy_blocked FROM workers WHERE worker_id"
                                          " = $1", WORKER) == STRATEGY_FAILED
            sold = await db.pool.fetchval("SELECT exit_reason FROM positions")
            assert sold == "TIME_EXIT"
            for _ in range(5):                        # later polls: no scan, no buy
                await second.step()
            ex.clock.set(LIQUIDATION_AT + timedelta(minutes=1))
            await second.step()
            books = await read_books(db, ex.market)
            assert books.clean, books                 # nothing of ours left at the exchange
        assert await db.pool.fetchval("SELECT count(*) FROM orders WHERE side = 'BUY'") == 1
        assert await db.pool.fetchval("SELECT count(*) FROM positions WHERE status = 'OPEN'") == 0
