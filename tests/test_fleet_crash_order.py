"""A worker process SIGKILLed between writing its order row and hearing back from the broker:
after restart the order is found at the exchange, recorded once, its fill recorded, and no
second order is ever sent (KIS has no client order id: only reconciliation can tell)."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import signal
from datetime import datetime, time

import aiohttp

from tradefleet.adapters.clock import SEOUL, SimClock
from tradefleet.adapters.kis.broker import in_process_kis_broker
from tradefleet.adapters.kis.client import KisConfig
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.adapters.sim.exchange.app import gateway_of, running_exchange
from tradefleet.domain.orders import OrderPurpose, OrderStatus, OrderType, Side
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_follower import OrderFollower
from tradefleet.services.order_service import OrderService
from tradefleet.services.worker_registry import WorkerRegistry

APPKEY, APPSECRET = "PSCRASHTESTKEY00000000000000000000", "crash-secret"
WORKER = "wcrash"


def _config(base_url: str) -> KisConfig:
    return KisConfig(base_url=base_url, appkey=APPKEY, appsecret=APPSECRET, cano="12345678",
                     product_code="01", mode="real", timeout_seconds=60)


def _doomed_worker(dsn: str, base_url: str, clock_env: str, symbol: str) -> None:
    """Registers, locks, writes the order row, sends it, and waits for an answer that the
    exchange holds back; the test SIGKILLs it meanwhile."""
    async def main() -> None:
        db = await Database.connect(dsn, min_size=1, max_size=2)
        sink = PostgresEventSink(db)
        clock = SimClock.from_env(clock_env)
        await WorkerRegistry(PostgresWorkerStore(db), sink).register(
            WORKER, pid=os.getpid(), host="test", mode="sim", lock_ttl_seconds=30)
        lock = await LockService(PostgresLockStore(db), sink, ttl_seconds=30).acquire_lock(
            symbol, WORKER)
        async with aiohttp.ClientSession() as session:
            broker = in_process_kis_broker(_config(base_url), session, clock=clock)
            await broker.authenticate()
            orders = OrderService(PostgresOrderStore(db), broker, sink, clock)
            order = await orders.create_order(lock, side=Side.BUY, qty=10,
                                              order_type=OrderType.MARKET, limit_price=None,
                                              purpose=OrderPurpose.ENTRY)
            await orders.send_order(order)          # never returns: killed while waiting
    asyncio.run(main())


async def test_sigkill_between_order_row_and_answer_recovers_without_duplicate(pg_dsn):
    today = datetime.now(SEOUL).date()
    clock = SimClock(datetime.combine(today, time(10, 0), tzinfo=SEOUL), 1.0)
    market = SimMarket(11, n_symbols=20, clock=clock)
    symbol = max(market.symbols(), key=lambda s: market.quote(s).traded_value)
    db = await Database.connect(pg_dsn, min_size=1, max_size=4)
    async with running_exchange(market) as (base_url, app), aiohttp.ClientSession() as http:
        gateway = gateway_of(app)
        async with http.post(base_url + "/_admin/faults", json={
                "operation": "place_order", "kind": "hang_after_accept", "delay": 6,
                "count": 1}) as resp:
            assert resp.status == 200
        ctx = mp.get_context("spawn")
        child = ctx.Process(target=_doomed_worker,
                            args=(pg_dsn, base_url, clock.to_env(), symbol))
        child.start()
        for _ in range(400):         # until the exchange has the order and our row exists
            if gateway.counters()["orders_per_symbol"].get(symbol) and await db.pool.fetchval(
                    "SELECT count(*) FROM orders WHERE symbol = $1", symbol):
                break
            await asyncio.sleep(0.05)
        row = await db.pool.fetchrow("SELECT status, broker_order_id FROM orders")
        assert row["status"] == "NEW" and row["broker_order_id"] is None   # never heard back
        os.kill(child.pid, signal.SIGKILL)
        await asyncio.to_thread(child.join, 10)
        assert child.exitcode == -signal.SIGKILL

        # restart: the same worker id registers again and start-up recovery runs
        sink = PostgresEventSink(db)
        await WorkerRegistry(PostgresWorkerStore(db), sink).register(
            WORKER, pid=os.getpid(), host="test", mode="sim", lock_ttl_seconds=30)
        broker = in_process_kis_broker(_config(base_url), http, clock=clock)
        store = PostgresOrderStore(db)
        orders = OrderService(store, broker, sink, clock)
        result = await OrderFollower(orders, store, sink).follow(WORKER)

        assert gateway.counters()["orders_per_symbol"][symbol] == 1      # no duplicate sent
        rows = await db.pool.fetch("SELECT * FROM orders WHERE symbol = $1", symbol)
        assert len(rows) == 1
        assert rows[0]["status"] == OrderStatus.FILLED.value and rows[0]["broker_order_id"]
        fills = await db.pool.fetch("SELECT qty FROM fills WHERE order_id = $1",
                                    rows[0]["order_id"])
        assert sum(f["qty"] for f in fills) == rows[0]["filled_qty"] == 10
        assert [p.symbol for p in result.positions] == [symbol]
        held = market.balance().holdings
        assert [(h.symbol, h.qty) for h in held] == [(symbol, 10)]       # nothing lost
    await db.close()


async def test_lost_order_response_is_recorded_once_with_its_fill(pg_dsn):
    """The simulator accepts the order and drops the answer: UNKNOWN, never resent, then
    settled from the daily fills to exactly one order, one row, and its fill."""
    today = datetime.now(SEOUL).date()
    clock = SimClock(datetime.combine(today, time(10, 0), tzinfo=SEOUL), 1.0)
    market = SimMarket(12, n_symbols=20, clock=clock)
    symbol = max(market.symbols(), key=lambda s: market.quote(s).traded_value)
    db = await Database.connect(pg_dsn, min_size=1, max_size=4)
    sink = PostgresEventSink(db)
    async with running_exchange(market) as (base_url, app), aiohttp.ClientSession() as http:
        gateway = gateway_of(app)
        async with http.post(base_url + "/_admin/faults", json={
                "operation": "place_order", "kind": "drop_after_accept", "count": 1}) as resp:
            assert resp.status == 200
        await WorkerRegistry(PostgresWorkerStore(db), sink).register(
            WORKER, pid=os.getpid(), host="test", mode="sim", lock_ttl_seconds=30)
        lock = await LockService(PostgresLockStore(db), sink, ttl_seconds=30).acquire_lock(
            symbol, WORKER)
        orders = OrderService(PostgresOrderStore(db),
                              in_process_kis_broker(_config(base_url), http, clock=clock),
                              sink, clock)
        order = await orders.create_order(lock, side=Side.BUY, qty=7,
                                          order_type=OrderType.MARKET, limit_price=None,
                                          purpose=OrderPurpose.ENTRY)
        sent = await orders.send_order(order)
        assert sent.status is OrderStatus.UNKNOWN
        settled = await orders.track(sent, timeout_s=10)
        assert settled.status is OrderStatus.FILLED and settled.filled_qty == 7
        assert gateway.counters()["orders_per_symbol"][symbol] == 1
        assert await db.pool.fetchval("SELECT count(*) FROM orders") == 1
        assert await db.pool.fetchval("SELECT sum(qty) FROM fills") == 7
    await db.close()
