"""The window between the send guard's last lease check and the wire, on the KIS path
(issue 16): the adapter may wait there (a token, the shared rate budget, an EGW00201
resend). A lease that lapses inside that wait must stop the send: the lease is checked
again right before each HTTP write of the order (ports/wire_gate.py). Over real HTTP to the
exchange simulator, judged by its books."""

from __future__ import annotations

import os
import time
from dataclasses import replace

import aiohttp
from tests.books import read_books
from tests.exchange_thread import ExchangeThread
from tests.order_path_child import kis_config

from tradefleet.adapters.kis.broker import in_process_kis_broker
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.domain.lease import Lease
from tradefleet.domain.orders import OrderStatus
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_service import OrderService
from tradefleet.services.worker_registry import WorkerRegistry
from tradefleet.worker.guarded_broker import GuardedBroker

RESEND_PAUSE_S = 3.0        # the EGW00201 resend waits this long (budget 6 s, one retry)
LEASE_LEFT_S = 1.5          # the lease lapses this long after it is granted


async def test_a_lease_lapsing_while_an_order_waits_for_its_resend_stops_the_send(pg_dsn):
    with ExchangeThread(n_symbols=20) as ex:
        symbol = max(ex.market.symbols(), key=lambda s: ex.market.quote(s).traded_value)
        db = await Database.connect(pg_dsn, min_size=1, max_size=4)
        try:
            async with aiohttp.ClientSession() as http:
                sink = PostgresEventSink(db)
                epoch = await WorkerRegistry(PostgresWorkerStore(db), sink).register(
                    "w-1", pid=os.getpid(), host="test", mode="sim", lock_ttl_seconds=30)
                lock = await LockService(PostgresLockStore(db), sink, ttl_seconds=30
                                         ).acquire_lock(symbol, "w-1", epoch=epoch)
                config = replace(kis_config(ex.base_url), order_rate_limit_retries=1,
                                 order_rate_limit_budget_seconds=2 * RESEND_PAUSE_S)
                kis = in_process_kis_broker(config, http, clock=ex.clock)
                await kis.authenticate()
                store = PostgresOrderStore(db)
                row = await OrderService(store, kis, sink, ex.clock).create_order(
                    lock, side="BUY", qty=3, order_type="MARKET", limit_price=None,
                    purpose="ENTRY")
                async with http.post(ex.base_url + "/_admin/faults", json={
                        "operation": "place_order", "kind": "rate_limit", "count": 1}) as r:
                    rule = (await r.json())["id"]
                # a lease with LEASE_LEFT_S to run: valid at the guard, lapsed at the resend
                lease = Lease(10, margin_seconds=1)
                lease.grant(epoch, time.monotonic() - (9 - LEASE_LEFT_S))
                guarded = GuardedBroker(kis, lease, store.fence_holds)
                started = time.monotonic()
                done = await OrderService(store, guarded, sink, ex.clock).send_order(row)
                waited = time.monotonic() - started
                async with http.get(ex.base_url + f"/_admin/faults/{rule}") as r:
                    fired = (await r.json())["fired"]
            assert fired == 1, "the first POST never reached the gateway: the test proves nothing"
            assert waited >= RESEND_PAUSE_S * 0.9                 # refused at the resend
            assert (done.status, done.reject_code) == (OrderStatus.REJECTED, "TF_LEASE")
            assert guarded.refused == 1
            books = await read_books(db, ex.market)
            assert books.orders_at_exchange == 0 and not books.holdings, books
        finally:
            await db.close()
