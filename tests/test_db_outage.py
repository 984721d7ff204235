"""A worker process holding shares while its PostgreSQL server restarts (what a restart or a
failover does to every connection): it stops trading at once, keeps running, lets its lease
lapse, reconnects, and sells everything at the liquidation time; the exchange's books end
flat. The server is this test's own (pg_ctl stop/start), not the suite's shared one."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import aiohttp
import asyncpg
import pgserver
import pytest
from pgserver._commands import pg_ctl
from tests.books import read_books
from tests.db_proxy import PgProxy
from tests.exchange_thread import DAY, ExchangeThread
from tests.order_path_child import kis_config

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.adapters.kis.broker import in_process_kis_broker
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.migrate import migrate
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_service import OrderService
from tradefleet.services.worker_registry import WorkerRegistry

WORKER = "w-db"
TTL = 3


@pytest.fixture
def own_server(tmp_path_factory):  # noqa: ANN001, ANN201
    import tempfile
    from pathlib import Path

    base = Path(tempfile.mkdtemp(prefix="tradefleet-outage-pg-"))
    server = pgserver.get_server(base / "data", cleanup_mode="stop")
    yield server
    server.cleanup()
    shutil.rmtree(base, ignore_errors=True)


async def _until(predicate, within: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + within
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def _status(dsn: str) -> str | None:
    try:
        conn = await asyncpg.connect(dsn, timeout=2)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        return await conn.fetchval("SELECT status FROM workers WHERE worker_id = $1", WORKER)
    finally:
        await conn.close()


def _worker_env(ex: ExchangeThread, dsn: str, clock: SimClock, symbol: str) -> dict[str, str]:
    return {**os.environ, "TRADEFLEET_WORKER_ID": WORKER, "TRADEFLEET_MODE": "sim",
            "TRADEFLEET_DB__DSN": dsn, "TRADEFLEET_SIM_CLOCK": clock.to_env(),
            "TRADEFLEET_BROKER__BASE_URL": ex.base_url,
            "TRADEFLEET_BROKER__APPKEY": kis_config(ex.base_url).appkey,
            "TRADEFLEET_BROKER__APPSECRET": "child-secret",
            "TRADEFLEET_RISK__CAPITAL_LIMIT": "5000000",
            "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "1000000",
            "TRADEFLEET_LOCKS__TTL_SECONDS": str(TTL),
            "TRADEFLEET_LOCKS__HEARTBEAT_INTERVAL_SECONDS": "1",
            "TRADEFLEET_POLL_INTERVAL_SECONDS": "1", "TRADEFLEET_UNIVERSE": symbol,
            "TRADEFLEET_EXITS__STOP_LOSS_PCT": "29", "TRADEFLEET_EXITS__TAKE_PROFIT_PCT": "29",
            "TRADEFLEET_EXITS__TIME_EXIT_MINUTES": "0", "TRADEFLEET_LOG_FORMAT": "json"}


async def _previous_life_bought(dsn: str, ex: ExchangeThread, clock: SimClock, symbol: str,
                                qty: int) -> None:
    """A previous process of the worker bought shares: the new one recovers them."""
    conn = await asyncpg.connect(dsn)
    await migrate(conn)
    await conn.close()
    db = await Database.connect(dsn, min_size=1, max_size=3)
    sink = PostgresEventSink(db)
    epoch = await WorkerRegistry(PostgresWorkerStore(db), sink).register(
        WORKER, pid=os.getpid(), host="test", mode="sim", lock_ttl_seconds=TTL)
    lock = await LockService(PostgresLockStore(db), sink, ttl_seconds=TTL).acquire_lock(
        symbol, WORKER, epoch=epoch)
    async with aiohttp.ClientSession() as http:
        while not ex.market.is_open(clock.now()):
            await asyncio.sleep(0.1)
        broker = in_process_kis_broker(kis_config(ex.base_url), http, clock=clock)
        orders = OrderService(PostgresOrderStore(db), broker, sink, clock)
        row = await orders.send_order(await orders.create_order(
            lock, side="BUY", qty=qty, order_type="MARKET", limit_price=None, purpose="ENTRY"))
        assert (await orders.track(row, timeout_s=3)).filled_qty == qty
    await db.close()


async def _judge(dsn: str, ex: ExchangeThread) -> None:
    db = await Database.connect(dsn, min_size=1, max_size=2)
    try:
        books = await read_books(db, ex.market)
        assert books.clean, books
        assert await db.pool.fetchval(
            "SELECT count(*) FROM orders WHERE side = 'BUY'") == 1     # nothing bought twice
        assert await db.pool.fetchval("SELECT realized_pnl IS NOT NULL FROM positions")
    finally:
        await db.close()


def _session_clock() -> SimClock:
    """The market opens in ~3 real s; liquidation (15:15) some 40 real seconds later, room
    for a worker's start-up on a busy machine before the fault."""
    return SimClock(datetime.combine(DAY, dtime(14, 50), tzinfo=SEOUL), 40.0, time.time() + 3)


async def _flat(ex: ExchangeThread) -> bool:
    return not ex.market.balance().holdings


async def _worker_holding(ex: ExchangeThread, worker_dsn: str, dsn: str, clock: SimClock,
                          symbol: str, log) -> subprocess.Popen:  # noqa: ANN001
    """A `tradefleet worker` process, once it holds the position it recovered. Its minute
    bars fail (the exits need them), so it holds until the liquidation time whatever the
    tape does: the fault, not the market, decides when it sells."""
    ex.market.faults.set("get_minute_bars", "error")
    proc = subprocess.Popen([sys.executable, "-m", "tradefleet.cli", "worker"],  # noqa: S603
                            env=_worker_env(ex, worker_dsn, clock, symbol), stdout=log,
                            stderr=subprocess.STDOUT)

    async def holding() -> bool:
        assert proc.poll() is None, f"the worker exited with {proc.returncode}"
        return await _status(dsn) == "HOLD"
    try:
        await _until(holding, 60, "the worker to hold its recovered position")
    except BaseException:
        proc.kill()
        raise
    return proc


@asynccontextmanager
async def _a_worker_holding(tmp_path: Path, worker_dsn: str, dsn: str
                            ) -> AsyncIterator[tuple[ExchangeThread, subprocess.Popen]]:
    """A worker process (reaching its database over ``worker_dsn``) that recovered and holds
    the 5 shares its previous life bought; killed on the way out if it is still running."""
    clock = _session_clock()
    with ExchangeThread(n_symbols=20, clock=clock) as ex:
        symbol = max(ex.market.symbols(), key=lambda s: ex.market.quote(s).traded_value)
        await _previous_life_bought(dsn, ex, clock, symbol, 5)
        with open(tmp_path / "worker.log", "wb") as log:
            proc = await _worker_holding(ex, worker_dsn, dsn, clock, symbol, log)
            try:
                yield ex, proc
            finally:
                if proc.poll() is None:
                    proc.kill()


async def test_6_worker_holding_shares_survives_a_postgres_restart(own_server, tmp_path):
    dsn = own_server.get_uri()
    async with _a_worker_holding(tmp_path, dsn, dsn) as (ex, proc):
        assert ex.clock.now() < ex.clock.now().replace(hour=15, minute=15) - timedelta(
            seconds=60)
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=own_server.pgdata,
               user=own_server.system_user, timeout=30)
        await asyncio.sleep(TTL + 3)            # the outage outlives the lease
        assert proc.poll() is None, "the worker died with the database"
        pg_ctl(["-w", "restart"], pgdata=own_server.pgdata, user=own_server.system_user,
               timeout=30)
        await _until(lambda: _flat(ex), 60, "the worker to sell at the liquidation time")
        assert proc.poll() is None
        proc.terminate()
        assert await asyncio.to_thread(proc.wait, 30) == 0
        await _judge(dsn, ex)
    text = (tmp_path / "worker.log").read_text(errors="replace")
    assert "heartbeat failed" in text              # it saw the outage, and lived


async def test_6_cut_off_past_its_ttl_and_reclaimed_it_re_registers_recovers_and_sells(
        own_server, tmp_path):
    """A partition between the worker and its database outlives the TTL and another process
    reclaims the worker (marks it EXIT): on reconnection it re-registers under a new epoch,
    recovers its position and sells it, instead of leaving it to nobody."""
    dsn = own_server.get_uri()
    socket = next(Path(own_server.pgdata).glob(".s.PGSQL.*[0-9]"))
    proxy = PgProxy(socket, tmp_path / "proxy")
    await proxy.start()
    proxied = dsn.replace(f"host={own_server.pgdata}", f"host={proxy.listen_dir}")
    assert proxied != dsn
    async with _a_worker_holding(tmp_path, proxied, dsn) as (ex, proc):
        try:
            epoch = await _epoch(dsn)
            await proxy.cut()
            await asyncio.sleep(TTL + 2)
            db = await Database.connect(dsn, min_size=1, max_size=2)
            sink = PostgresEventSink(db)
            assert await LockService(PostgresLockStore(db), sink, ttl_seconds=TTL
                                     ).reclaim_expired() == [WORKER]
            await db.close()
            assert proc.poll() is None
            await proxy.start()                      # the partition heals

            async def rejoined() -> bool:
                return await _epoch(dsn) == epoch + 1
            await _until(rejoined, 30, "the worker to re-register")
            await _until(lambda: _flat(ex), 60, "the worker to sell at the liquidation time")
            proc.terminate()
            assert await asyncio.to_thread(proc.wait, 30) == 0
        finally:
            await proxy.cut()
        await _judge(dsn, ex)
    assert "re-registering" in (tmp_path / "worker.log").read_text(errors="replace")
    conn = await asyncpg.connect(dsn)
    try:   # the new epoch took the position up again (HOLD) before selling it
        assert await conn.fetchval(
            "SELECT count(*) FROM events WHERE event_type = 'StateTransitionedEvent' "
            "AND payload->>'to_status' = 'HOLD' AND payload->>'reason' = "
            "'recovered open position'") == 2
    finally:
        await conn.close()


async def _epoch(dsn: str) -> int | None:
    conn = await asyncpg.connect(dsn, timeout=2)
    try:
        return await conn.fetchval("SELECT epoch FROM workers WHERE worker_id = $1", WORKER)
    finally:
        await conn.close()
