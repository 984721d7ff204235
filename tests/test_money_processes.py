"""The order path in real worker processes, stopped at each step: paused past the TTL
(SIGSTOP/SIGCONT) or killed (SIGKILL), against the exchange simulator over HTTP and a real
database. The exchange's books are the judge: one buy per symbol, every execution in exactly
one order row with its fills, and the account flat once the fleet has settled."""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from tests.books import read_books
from tests.exchange_thread import ExchangeThread
from tests.order_path_child import STEPS, kis_config, run

from tradefleet.adapters.kis.broker import in_process_kis_broker
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.adapters.postgres.orphan_store import PostgresOrphanStore
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.domain.orders import Side
from tradefleet.services.account_reconciler import AccountReconciler
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_service import OrderService
from tradefleet.services.worker_registry import WorkerRegistry
from tradefleet.settings import load_settings
from tradefleet.worker.wiring import build_worker

TTL = 3
PAUSED, LIVE = "w-paused", "w-live"


def _state(pid: int) -> str:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "gone"
    return text.rsplit(")", 1)[1].split()[0]


async def _until_stopped(proc: mp.Process, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while _state(proc.pid) != "T":
        assert proc.is_alive(), f"child exited with {proc.exitcode} before its stop"
        assert time.monotonic() < deadline, "child never reached its stop"
        await asyncio.sleep(0.05)


def _start_child(ex: ExchangeThread, dsn: str, symbol: str, stop_at: str, out: Path,
                 qty: int = 3) -> mp.Process:
    proc = mp.get_context("spawn").Process(target=run, args=(
        dsn, ex.base_url, ex.clock.now().isoformat(), PAUSED, symbol, qty, stop_at, TTL,
        str(out)))
    proc.start()
    return proc


def _settings(worker_id: str):  # noqa: ANN202
    return load_settings(None, {
        "TRADEFLEET_WORKER_ID": worker_id, "TRADEFLEET_RISK__CAPITAL_LIMIT": "5000000",
        "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "1000000", "TRADEFLEET_LOCKS__TTL_SECONDS": str(TTL),
        "TRADEFLEET_LOCKS__HEARTBEAT_INTERVAL_SECONDS": "1"})


async def _restart_and_settle(db: Database, http: aiohttp.ClientSession, ex: ExchangeThread,
                              worker_id: str, symbol: str) -> None:
    """A new process of ``worker_id``: the worker's own start-up recovery, then its order
    follower and its liquidation until nothing of it is open (what the next pod does)."""
    broker = in_process_kis_broker(kis_config(ex.base_url), http, clock=ex.clock)
    worker = build_worker(_settings(worker_id), db=db, broker=broker, clock=ex.clock,
                          universe=[symbol], track_timeout_s=2.0, unseen_grace_s=1.0)
    cycle = await worker.start()
    await worker.recover(cycle)
    for _ in range(60):
        await cycle.reconcile()
        if cycle.holding is None:
            await cycle.take_up()
        if cycle.holding is not None and not await cycle.open_orders():
            await cycle.liquidate()
        if cycle.holding is None and not await cycle.open_orders() \
                and not await cycle.positions():
            return
        await asyncio.sleep(0.3)
    raise AssertionError("the restarted worker did not settle")


async def _buy(db: Database, http: aiohttp.ClientSession, ex: ExchangeThread, worker_id: str,
               symbol: str, qty: int):  # noqa: ANN202
    sink = PostgresEventSink(db)
    epoch = await WorkerRegistry(PostgresWorkerStore(db), sink).register(
        worker_id, pid=os.getpid(), host="test", mode="sim", lock_ttl_seconds=30)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
    lock = await locks.acquire_lock(symbol, worker_id, epoch=epoch)
    assert lock is not None, "the live worker could not take the reclaimed symbol"
    broker = in_process_kis_broker(kis_config(ex.base_url), http, clock=ex.clock)
    orders = OrderService(PostgresOrderStore(db), broker, sink, ex.clock)
    row = await orders.send_order(await orders.create_order(
        lock, side="BUY", qty=qty, order_type="MARKET", limit_price=None, purpose="ENTRY"))
    return await orders.track(row, timeout_s=3), lock, locks, orders, epoch


@asynccontextmanager
async def _child_stopped_at(dsn: str, tmp_path: Path, step: str
                            ) -> AsyncIterator[tuple[ExchangeThread, Database, str, mp.Process,
                                                     Path]]:
    """The exchange, our database and a child worker process that stops itself at ``step``
    of its order path (writing its result to ``out``); on the way out the child is killed if
    it still lives and the database closed."""
    with ExchangeThread(n_symbols=20) as ex:
        symbol = max(ex.market.symbols(), key=lambda s: ex.market.quote(s).traded_value)
        db = await Database.connect(dsn, min_size=1, max_size=6)
        out = tmp_path / "child.json"
        child = _start_child(ex, dsn, symbol, step, out)
        try:
            yield ex, db, symbol, child, out
        finally:
            if child.is_alive():
                child.kill()
            await db.close()


async def _paused_past_its_ttl_and_reclaimed(child: mp.Process, db: Database
                                             ) -> PostgresEventSink:
    """Wait for the child's own stop, let its TTL run out, and reclaim it as the fleet's
    sweep would (the database clock judges the age)."""
    await _until_stopped(child)
    await asyncio.sleep(TTL + 0.5)
    sink = PostgresEventSink(db)
    assert await LockService(PostgresLockStore(db), sink, ttl_seconds=TTL
                             ).reclaim_expired() == [PAUSED]
    return sink


async def test_1_paused_after_its_buy_row_it_sends_nothing_once_its_lock_was_reclaimed(
        pg_dsn, tmp_path):
    async with _child_stopped_at(pg_dsn, tmp_path, "row_written") as (ex, db, symbol, child, out):
        await _paused_past_its_ttl_and_reclaimed(child, db)
        async with aiohttp.ClientSession() as http:
            bought, *_ = await _buy(db, http, ex, LIVE, symbol, 4)
            assert bought.filled_qty == 4
            os.kill(child.pid, signal.SIGCONT)
            await asyncio.to_thread(child.join, 30)
        result = json.loads(out.read_text())
        assert result["status"] == "REJECTED" and result["reject_code"] == "TF_LEASE"
        assert result["refused"]                   # and its heartbeat learned it is fenced
        assert ex.gateway_counters()["orders_per_symbol"] == {symbol: 1}
        books = await read_books(db, ex.market)
        assert not books.unrecorded and not books.mismatched, books
        assert books.holdings == {symbol: 4}        # only the live worker's buy


async def test_1_a_send_after_the_last_check_fills_into_an_orphan_that_is_sold(
        pg_dsn, tmp_path):
    async with _child_stopped_at(pg_dsn, tmp_path, "before_http") as (ex, db, symbol, child, out):
        sink = await _paused_past_its_ttl_and_reclaimed(child, db)
        async with aiohttp.ClientSession() as http:
            os.kill(child.pid, signal.SIGCONT)       # the window: it sends on resume
            await asyncio.to_thread(child.join, 30)
            result = json.loads(out.read_text())
            assert result["filled_qty"] == 3 and result["refused"]
            stray = await db.pool.fetchrow("SELECT worker_id, qty FROM positions "
                                           "WHERE status = 'OPEN'")
            assert (stray["worker_id"], stray["qty"]) == (PAUSED, 3)   # the fill landed
            # a live worker adopts the orphan and sells it
            epoch = await WorkerRegistry(PostgresWorkerStore(db), sink).register(
                LIVE, pid=os.getpid(), host="test", mode="sim", lock_ttl_seconds=30)
            broker = in_process_kis_broker(kis_config(ex.base_url), http, clock=ex.clock)
            locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
            adopted = await AccountReconciler(PostgresOrphanStore(db), locks, broker,
                                              sink).adopt_one(LIVE, epoch, ex.market.day)
            assert adopted is not None and adopted.position.qty == 3
            orders = OrderService(PostgresOrderStore(db), broker, sink, ex.clock)
            row = await orders.send_order(await orders.create_order(
                adopted.lock, side="SELL", qty=3, order_type="MARKET", limit_price=None,
                purpose="ORPHAN"))
            await orders.track(row, timeout_s=3)
        books = await read_books(db, ex.market)
        assert books.clean, books
        assert await db.pool.fetchval("SELECT adopted_from FROM positions") == PAUSED


@pytest.mark.parametrize("step", STEPS)
async def test_sigkill_at_each_step_of_the_order_path_recovers_without_a_double_buy(
        pg_dsn, tmp_path, step):
    async with _child_stopped_at(pg_dsn, tmp_path, step) as (ex, db, symbol, child, out):
        await _until_stopped(child)
        child.kill()
        await asyncio.to_thread(child.join, 10)
        async with aiohttp.ClientSession() as http:
            await _restart_and_settle(db, http, ex, PAUSED, symbol)
        day_start = ex.clock.now().replace(hour=0, minute=0)
        assert len(ex.market.find(symbol, Side.BUY, day_start)) <= 1      # no second buy
        books = await read_books(db, ex.market)
        assert books.clean, books
        assert await db.pool.fetchval(
            "SELECT count(*) FROM orders WHERE status IN "
            "('NEW', 'SENT', 'UNKNOWN', 'PARTIALLY_FILLED')") == 0
