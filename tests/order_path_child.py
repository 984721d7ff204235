"""A worker process walking the real order path (lease, heartbeat, lock, fenced row, guarded
send, tracking) against the exchange simulator over HTTP, that stops itself (SIGSTOP) at a
named step so that a test can pause it past its TTL, or SIGKILL it, exactly there."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from datetime import datetime

import aiohttp

from tradefleet.adapters.clock import FrozenClock
from tradefleet.adapters.kis.broker import in_process_kis_broker
from tradefleet.adapters.kis.client import KisConfig
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.domain.lease import Lease
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_service import OrderService
from tradefleet.services.worker_registry import WorkerRegistry
from tradefleet.worker.guarded_broker import GuardedBroker
from tradefleet.worker.timers import heartbeat_loop

STEPS = ("locked", "row_written", "before_http", "sent", "tracked")
APPKEY, APPSECRET = "PSCHILDTESTKEY0000000000000000000000", "child-secret"


def kis_config(base_url: str) -> KisConfig:
    return KisConfig(base_url=base_url, appkey=APPKEY, appsecret=APPSECRET, cano="12345678",
                     product_code="01", mode="real", timeout_seconds=5)


def pause_at(step: str, stop_at: str) -> None:
    if step == stop_at:
        os.kill(os.getpid(), signal.SIGSTOP)


def _pause_before_the_order_post(stop_at: str) -> aiohttp.TraceConfig:
    """A stop as the order POST starts in aiohttp: after every check of ours (the send
    guard's, and the lease at the wire inside the KIS adapter), before any byte is sent."""
    async def on_request_start(session, context, params) -> None:  # noqa: ANN001
        if params.method == "POST" and "order-cash" in str(params.url):
            pause_at("before_http", stop_at)
    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    return trace


def run(dsn: str, base_url: str, at: str, worker_id: str, symbol: str, qty: int,
        stop_at: str, ttl: int, out_path: str) -> None:
    asyncio.run(_main(dsn, base_url, datetime.fromisoformat(at), worker_id, symbol, qty,
                      stop_at, ttl, out_path))


async def _main(dsn: str, base_url: str, at: datetime, worker_id: str, symbol: str, qty: int,
                stop_at: str, ttl: int, out_path: str) -> None:
    db = await Database.connect(dsn, min_size=1, max_size=3)
    sink = PostgresEventSink(db)
    clock = FrozenClock(at)
    lease = Lease(ttl)
    sent_at = time.monotonic()
    epoch = await WorkerRegistry(PostgresWorkerStore(db), sink).register(
        worker_id, pid=os.getpid(), host="test", mode="sim", lock_ttl_seconds=ttl)
    lease.grant(epoch, sent_at)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=ttl)
    refused = asyncio.Event()
    beat = asyncio.create_task(heartbeat_loop(locks, worker_id, lease, interval_seconds=ttl / 3,
                                              on_refused=refused.set))
    lock = await locks.acquire_lock(symbol, worker_id, epoch=epoch)
    assert lock is not None
    pause_at("locked", stop_at)
    async with aiohttp.ClientSession(
            trace_configs=[_pause_before_the_order_post(stop_at)]) as http:
        kis = in_process_kis_broker(kis_config(base_url), http, clock=clock)
        await kis.authenticate()
        store = PostgresOrderStore(db)
        guarded = GuardedBroker(kis, lease, store.fence_holds)
        orders = OrderService(store, guarded, sink, clock)
        row = await orders.create_order(lock, side="BUY", qty=qty, order_type="MARKET",
                                        limit_price=None, purpose="ENTRY")
        pause_at("row_written", stop_at)
        row = await orders.send_order(row)
        pause_at("sent", stop_at)
        row = await orders.track(row, timeout_s=3)
        pause_at("tracked", stop_at)
        await asyncio.sleep(ttl / 3 + 0.5)          # one more beat: is this epoch refused?
    beat.cancel()
    with open(out_path, "w") as fh:
        json.dump({"status": str(row.status), "reject_code": row.reject_code,
                   "filled_qty": row.filled_qty, "refused": refused.is_set()}, fh)
    await db.close()


if __name__ == "__main__":   # pragma: no cover - run through multiprocessing in the tests
    run(*sys.argv[1:])
