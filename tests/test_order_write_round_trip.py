"""The order row of a send is written in one round trip (issue 20, tick-to-order): the fenced
insert, its OrderCreatedEvent and a synchronous commit are one statement
(``fenced_order.write_order_if_lock_held``). What must hold, judged by PostgreSQL itself: the
commit that wrote the row waited for the disk even on a pool whose connections commit
asynchronously (a deferred constraint trigger notes ``synchronous_commit`` as the commit
runs), that setting ends with the statement (the pooled connection is as it was, even
where pools skip asyncpg's reset), and the
stored event is the event the caller logs."""

from __future__ import annotations

from tests.commit_settings import note_commit_settings
from tests.test_locks import register
from tests.test_order_service import AT, liquid

from tradefleet.adapters.clock import FrozenClock
from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.event_store import fetch_events
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.adapters.sim.broker import SimBroker
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.orders import OrderStatus
from tradefleet.services.lock_service import LockService
from tradefleet.services.order_service import OrderService

NOTE_COMMIT = note_commit_settings("INSERT")


async def test_an_order_row_is_committed_to_disk_in_one_statement_on_an_async_pool(pg_dsn):
    # one connection, not reset between uses (as the replay's pools): a setting that outlived
    # the statement would show on the next use
    db = await Database.connect(pg_dsn, min_size=1, max_size=1, durable_by_default=False,
                                reset_sessions=False)
    try:
        await db.pool.execute(NOTE_COMMIT)
        sink = PostgresEventSink(db)
        await register(db, sink, "w1")
        clock = FrozenClock(AT)
        market = SimMarket(7, n_symbols=40, clock=clock)
        orders = OrderService(PostgresOrderStore(db), SimBroker(market), sink, clock)
        lock = await LockService(PostgresLockStore(db), sink, ttl_seconds=30).acquire_lock(
            liquid(market), "w1")
        row = await orders.create_order(lock, side="BUY", qty=3, order_type="MARKET",
                                        limit_price=None, purpose="ENTRY")
        assert row.status is OrderStatus.NEW and row.fencing_token == lock.fencing_token
        noted = await db.pool.fetch("SELECT * FROM commit_settings")
        assert [(r["order_id"], r["synchronous_commit"]) for r in noted] == \
            [(row.order_id, "on")]
        assert await db.pool.fetchval("SHOW synchronous_commit") == "off"
        created = await fetch_events(db.pool, "OrderCreatedEvent")
        assert len(created) == 1
        assert created[0]["payload"]["order_id"] == row.order_id
        assert created[0]["payload"]["client_order_id"] == row.client_order_id
        assert created[0]["payload"]["fencing_token"] == lock.fencing_token
    finally:
        await db.close()
