"""A state move whose write landed but whose answer was lost (the database restarted between
its commit and its reply). Found by the chaos campaign (db_restart): the worker, still SCAN in
memory, found its shares on the next poll and asked for HOLD again; the row already said HOLD,
every poll after failed with "illegal worker transition HOLD -> HOLD", and the forced
liquidation never ran: the shares were held at the close."""

from __future__ import annotations

import aiohttp
from tests.books import read_books
from tests.exchange_thread import ExchangeThread
from tests.order_path_child import kis_config

from tradefleet.adapters.kis.broker import in_process_kis_broker
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.event_store import fetch_events
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.domain.states import WorkerStatus
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_service import OrderService
from tradefleet.services.worker_registry import WorkerRegistry
from tradefleet.settings import load_settings
from tradefleet.worker.wiring import build_worker

WORKER = "w-lost-answer"


async def test_repeating_a_move_whose_answer_was_lost_is_the_move_already_made(db, sink):
    reg = WorkerRegistry(PostgresWorkerStore(db), sink)
    epoch = await reg.register(WORKER, pid=1, host="h", mode="sim", lock_ttl_seconds=15)
    await reg.transition(WORKER, epoch, WorkerStatus.SCAN, current_symbol=None, reason="up")
    await reg.transition(WORKER, epoch, WorkerStatus.HOLD, current_symbol="005930",
                         reason="bought")
    # the caller never heard back and asks again: done already, no second event
    await reg.transition(WORKER, epoch, WorkerStatus.HOLD, current_symbol="005930",
                         reason="bought")
    events = await fetch_events(db.pool, "StateTransitionedEvent", WORKER)
    assert [e["payload"]["to_status"] for e in events] == ["SCAN", "HOLD"]


def _settings():  # noqa: ANN202
    return load_settings(None, {
        "TRADEFLEET_WORKER_ID": WORKER, "TRADEFLEET_RISK__CAPITAL_LIMIT": "5000000",
        "TRADEFLEET_RISK__DAILY_LOSS_LIMIT": "1000000", "TRADEFLEET_LOCKS__TTL_SECONDS": "30",
        "TRADEFLEET_LOCKS__HEARTBEAT_INTERVAL_SECONDS": "1"})


async def test_a_worker_whose_hold_answer_was_lost_takes_its_shares_up_and_sells_them(pg_dsn):
    with ExchangeThread(n_symbols=20) as ex:
        symbol = max(ex.market.symbols(), key=lambda s: ex.market.quote(s).traded_value)
        db = await Database.connect(pg_dsn, min_size=1, max_size=6)
        try:
            async with aiohttp.ClientSession() as http:
                broker = in_process_kis_broker(kis_config(ex.base_url), http, clock=ex.clock)
                worker = build_worker(_settings(), db=db, broker=broker, clock=ex.clock,
                                      universe=[symbol], track_timeout_s=2.0,
                                      unseen_grace_s=1.0)
                cycle = await worker.start()
                await worker.recover(cycle)
                assert cycle.status is WorkerStatus.SCAN
                # the worker's own entry: its lock, its order, its fill, its position
                sink = PostgresEventSink(db)
                locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
                lock = await locks.acquire_lock(symbol, WORKER, epoch=cycle.epoch)
                assert lock is not None
                orders = OrderService(PostgresOrderStore(db), broker, sink, ex.clock)
                row = await orders.send_order(await orders.create_order(
                    lock, side="BUY", qty=3, order_type="MARKET", limit_price=None,
                    purpose="ENTRY"))
                await orders.track(row, timeout_s=3)
                # its move to HOLD landed in the database; the answer never came back
                await WorkerRegistry(PostgresWorkerStore(db), sink).transition(
                    WORKER, cycle.epoch, WorkerStatus.HOLD, current_symbol=symbol,
                    reason="entry filled")
                assert cycle.status is WorkerStatus.SCAN and cycle.holding is None

                await cycle.poll()          # finds the shares and holds them
                assert cycle.status is WorkerStatus.HOLD
                assert cycle.holding is not None and cycle.holding.lock.symbol == symbol
                await cycle.liquidate()
                for _ in range(20):         # the sell followed to its fill
                    if not await cycle.open_orders():
                        break
                    await cycle.reconcile()
                books = await read_books(db, ex.market)
                assert books.executed and books.clean, books
        finally:
            await db.close()
