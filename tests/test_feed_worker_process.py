"""``tradefleet worker`` as a process with ``feed.enabled`` (issue 20): beside its poll it
stands for the account's feed holder, is elected, listens to the ticks of what it holds, and
an exit is decided on a tick (its log says so); it lets the feed go when it exits; and the
exchange's own books are clean at the end. The KIS REST adapter and the KIS WebSocket
client against the exchange simulator over real HTTP and WebSocket; real PostgreSQL.

The poll is slow on purpose (one a session minute, 3 real seconds) and every exit rule is
tight (0.01 %): the first tick after an entry that moves the price decides the exit long
before the next poll would. The worker buys again after each exit, so the test waits for
the first exit decided on a tick, whichever position it is; then buying is paused through
the operator's control and the worker runs until nothing is held."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from datetime import time as dtime
from pathlib import Path

from tests.books import read_books
from tests.exchange_thread import DAY, ExchangeThread
from tests.order_path_child import kis_config
from tests.scenarios.test_health import free_port
from tests.test_metrics_worker_process import _scrape, _sum

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.worker_controls_store import PostgresWorkerControls
from tradefleet.adapters.sim.exchange.app import exchange_of, running_exchange
from tradefleet.adapters.sim.exchange.approval import APPROVALS
from tradefleet.adapters.sim.exchange.ws_server import FeedConfig, FeedServer, running_feed

WORKER = "w-feed-proc"
HTS_ID = "htsuser9"
USER_FILE = Path(__file__).parent / "fixtures" / "strategies" / "user_strategies.py"
SPEED = 20.0
ON_THE_TICK = "exit condition met on the tick"


class FeedExchangeThread(ExchangeThread):
    """The exchange simulator with its WebSocket feed (``tradefleet exchange --ws-port``)."""

    ws_url = ""
    feed: FeedServer | None = None

    async def _serve(self) -> None:
        assert self._stop is not None
        async with running_exchange(self.market, self._config) as (base_url, app):
            self.feed = FeedServer(self.market, app[APPROVALS], exchange_of(app),
                                   FeedConfig(mode="real", hts_id=HTS_ID))
            async with running_feed(self.feed) as ws_url:
                self._app, self.base_url, self.ws_url = app, base_url, ws_url
                self._ready.set()
                await self._stop.wait()


def _env(ex: FeedExchangeThread, dsn: str, clock: SimClock, strategy: Path,
         enabled: bool = True) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("TRADEFLEET_")},
            "TRADEFLEET_WORKER_ID": WORKER, "TRADEFLEET_MODE": "sim",
            "TRADEFLEET_DB__DSN": dsn, "TRADEFLEET_SIM_CLOCK": clock.to_env(),
            "TRADEFLEET_BROKER__BASE_URL": ex.base_url,
            "TRADEFLEET_BROKER__APPKEY": kis_config(ex.base_url).appkey,
            "TRADEFLEET_BROKER__APPSECRET": "child-secret",
            "TRADEFLEET_BROKER__RATE_LIMIT_PER_SECOND": "200",
            "TRADEFLEET_RISK__CAPITAL_LIMIT": "3000000",
            "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "2000000",
            "TRADEFLEET_RISK__SCAN_MAX_AGE_SECONDS": "600",
            "TRADEFLEET_STRATEGY__NAME": "most_traded",
            "TRADEFLEET_STRATEGY__PATH": str(strategy),
            "TRADEFLEET_EXITS__STOP_LOSS_PCT": "0.01", "TRADEFLEET_EXITS__TAKE_PROFIT_PCT": "0.01",
            "TRADEFLEET_EXITS__TIME_EXIT_MINUTES": "0",
            "TRADEFLEET_POLL_INTERVAL_SECONDS": "60",
            "TRADEFLEET_UNIVERSE": ",".join(ex.market.symbols()[:8]),
            "TRADEFLEET_FEED__ENABLED": "true" if enabled else "false",
            "TRADEFLEET_FEED__WS_URL": ex.ws_url,
            "TRADEFLEET_FEED__LEASE_SECONDS": "3", "TRADEFLEET_FEED__HTS_ID": HTS_ID,
            "TRADEFLEET_LOG_FORMAT": "json"}


def _lines(path: Path) -> list[dict]:
    out = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(raw))
        except ValueError:
            continue
    return out


def _said(path: Path, event: str) -> list[dict]:
    return [e for e in _lines(path) if e.get("event") == event]


async def _until(cond, what: str, log: Path, timeout: float) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not await cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}\n"
                                 + log.read_text(errors="replace")[-4000:])
        await asyncio.sleep(0.2)


async def test_a_worker_process_with_the_feed_decides_an_exit_on_a_tick(pg_dsn, tmp_path):
    strategy = tmp_path / "mine" / "user_strategies.py"
    strategy.parent.mkdir()
    shutil.copy(USER_FILE, strategy)
    clock = SimClock(datetime.combine(DAY, dtime(10, 0), tzinfo=SEOUL), SPEED, time.time())
    db = await Database.connect(pg_dsn)
    log_path = tmp_path / "worker.log"
    port = free_port()
    try:
        with FeedExchangeThread(n_symbols=12, clock=clock) as ex:
            log = log_path.open("wb")
            proc = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "tradefleet.cli", "worker"],
                env={**_env(ex, pg_dsn, clock, strategy), "TRADEFLEET_HEALTH_PORT": str(port)},
                stdout=log, stderr=subprocess.STDOUT)
            try:
                async def elected() -> bool:
                    row = await db.pool.fetchrow("SELECT holder_id FROM feed_holders")
                    return row is not None and row["holder_id"].startswith(f"{WORKER}:")

                await _until(elected, "the worker holds the account's feed", log_path, 30)

                async def exit_on_tick() -> bool:
                    return bool(_said(log_path, ON_THE_TICK))

                await _until(exit_on_tick, "an exit decided on a tick", log_path, 90)

                async def gauge_live() -> bool:       # the worker's /metrics says so too
                    samples = await _scrape(f"http://127.0.0.1:{port}/metrics")
                    return bool(samples) and _sum(samples, "tradefleet_feed_live") == 1

                await _until(gauge_live, "tradefleet_feed_live 1", log_path, 10)

                async def row_says_live() -> bool:    # for the operator's status
                    return await db.pool.fetchval(
                        "SELECT feed_mode FROM workers WHERE worker_id = $1", WORKER) == "live"

                await _until(row_says_live, "workers.feed_mode = live", log_path, 10)
                await PostgresWorkerControls(db).set_paused(WORKER, True)

                async def nothing_held() -> bool:
                    return not await db.pool.fetchval(
                        "SELECT count(*) FROM positions WHERE status <> 'CLOSED'") and \
                        not await db.pool.fetchval(
                            "SELECT count(*) FROM orders WHERE status NOT IN "
                            "('FILLED', 'CANCELLED', 'REJECTED', 'EXPIRED')")

                await _until(nothing_held, "the worker holds nothing", log_path, 90)
            finally:
                proc.send_signal(signal.SIGTERM)
                code = await asyncio.to_thread(proc.wait, 60)
                log.close()
            assert code == 0, log_path.read_text(errors="replace")[-4000:]
            said = _said(log_path, ON_THE_TICK)
            symbol = said[0]["symbol"]
            assert said[0]["reason"] in ("STOP_LOSS", "TAKE_PROFIT")
            # the sell of that exit: one row, filled, with that purpose
            sells = await db.pool.fetch(
                "SELECT purpose, status FROM orders WHERE side = 'SELL' AND symbol = $1 "
                "ORDER BY order_id", symbol)
            assert any(r["purpose"] == said[0]["reason"] and r["status"] == "FILLED"
                       for r in sells), sells
            assert _said(log_path, "feed live: exits decided on each tick")
            assert _said(log_path, "feed lease won: this process holds the account's feed")
            # the worker let the feed go as it exited
            assert await db.pool.fetchval("SELECT count(*) FROM feed_holders") == 0
            assert _said(log_path, "feed stopped with the worker")
            books = await read_books(db, ex.market)
            assert books.clean, books          # every execution exactly one fills row
            assert books.executed
            # the fill notices of its orders were heard (each recorded by the push, or by
            # the follower first and then only noted in the ledger)
            assert await db.pool.fetchval("SELECT count(*) FROM fill_notices") >= 1
    finally:
        await db.close()


async def test_a_worker_whose_feed_never_connects_trades_on_its_poll_and_says_so(
        pg_dsn, tmp_path):
    """The feed's WebSocket refuses every connection: the worker still trades, every exit
    on its poll, says it polls, and lets the lease go when it exits."""
    strategy = tmp_path / "mine" / "user_strategies.py"
    strategy.parent.mkdir()
    shutil.copy(USER_FILE, strategy)
    clock = SimClock(datetime.combine(DAY, dtime(10, 0), tzinfo=SEOUL), SPEED, time.time())
    db = await Database.connect(pg_dsn)
    log_path = tmp_path / "worker.log"
    try:
        with FeedExchangeThread(n_symbols=12, clock=clock) as ex:
            env = _env(ex, pg_dsn, clock, strategy)
            env["TRADEFLEET_FEED__WS_URL"] = f"ws://127.0.0.1:{free_port()}"   # nobody there
            log = log_path.open("wb")
            proc = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "tradefleet.cli", "worker"], env=env, stdout=log,
                stderr=subprocess.STDOUT)
            try:
                async def sold() -> bool:
                    return bool(await db.pool.fetchval(
                        "SELECT count(*) FROM orders WHERE side = 'SELL' "
                        "AND status = 'FILLED'"))

                await _until(sold, "an exit decided on the poll", log_path, 90)
                assert await db.pool.fetchval(      # the operator's status shows it
                    "SELECT feed_mode FROM workers WHERE worker_id = $1", WORKER) == "polling"
                await PostgresWorkerControls(db).set_paused(WORKER, True)

                async def nothing_held() -> bool:
                    return not await db.pool.fetchval(
                        "SELECT count(*) FROM positions WHERE status <> 'CLOSED'")

                await _until(nothing_held, "the worker holds nothing", log_path, 90)
                assert proc.poll() is None          # the feed's failures never stopped it
            finally:
                proc.send_signal(signal.SIGTERM)
                code = await asyncio.to_thread(proc.wait, 60)
                log.close()
            assert code == 0, log_path.read_text(errors="replace")[-4000:]
            assert _said(log_path, "feed not live: exits decided on the poll only")
            assert not _said(log_path, "feed live: exits decided on each tick")
            assert not _said(log_path, ON_THE_TICK)
            assert await db.pool.fetchval("SELECT count(*) FROM feed_holders") == 0
            books = await read_books(db, ex.market)
            assert books.clean and books.executed, books
    finally:
        await db.close()
