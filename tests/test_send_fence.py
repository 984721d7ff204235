"""The send-time fence, proven at the moment of the send: the worker's own order path
(``OrderService`` over its ``GuardedBroker``) with a real database and the simulated market.
Each test makes one part of the guard the only thing between a stale row and the exchange,
and judges by the exchange's books that nothing reached it; the lease test judges the
worker's lease against the database's own heartbeat stamp."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.books import read_books
from tests.scenarios.harness import build, liquid_symbol, written_order
from tests.test_locks import register

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.domain.lease import Lease
from tradefleet.domain.orders import OrderStatus
from tradefleet.services.lock_service import LockService
from tradefleet.worker.timers import heartbeat_loop


async def _assert_fenced(rig, row) -> None:  # noqa: ANN001
    assert rig.worker.lease.valid()          # only the database fence stands in the way
    sent = await rig.cycle.paths.orders.send_order(row)
    assert (sent.status, sent.reject_code) == (OrderStatus.REJECTED, "TF_FENCED")
    books = await read_books(rig.db, rig.market)
    assert books.orders_at_exchange == 0 and not books.holdings


async def test_a_send_whose_lock_was_reclaimed_is_refused_by_the_fence(db):
    rig = await build(db)
    row = await written_order(rig, liquid_symbol(rig.market))
    await db.pool.execute("DELETE FROM stock_locks WHERE symbol = $1", row.symbol)  # reclaimed
    await _assert_fenced(rig, row)


async def test_a_lock_taken_back_with_a_new_token_does_not_send_the_old_row(db):
    """The same worker lost the symbol and took it again: the row written under the old
    token is not sent under the new one (a newer decision owns the symbol now)."""
    rig = await build(db)
    row = await written_order(rig, liquid_symbol(rig.market))
    await db.pool.execute("DELETE FROM stock_locks WHERE symbol = $1", row.symbol)
    again = await LockService(PostgresLockStore(db), rig.sink, ttl_seconds=300).acquire_lock(
        row.symbol, rig.worker_id, epoch=rig.cycle.epoch)
    assert again is not None and again.fencing_token > row.fencing_token
    await _assert_fenced(rig, row)


async def test_a_row_of_an_old_epoch_is_not_sent_after_the_worker_registered_again(db):
    """A newer process of the same worker registered (a new epoch) while the old one still
    has a valid lease, the lock and its NEW row: the old process sends nothing."""
    old = await build(db, worker_id="w-twice")
    row = await written_order(old, liquid_symbol(old.market))
    new = await build(db, worker_id="w-twice", market=old.market, clock=old.clock)
    assert new.cycle.epoch > old.cycle.epoch
    assert await db.pool.fetchval("SELECT fencing_token FROM stock_locks WHERE symbol = $1",
                                  row.symbol) == row.fencing_token    # lock and row unchanged
    assert await db.pool.fetchval("SELECT status FROM orders") == "NEW"
    await _assert_fenced(old, row)


async def _until_a_query_waits_on_a_lock(db: Database) -> None:
    for _ in range(400):
        if await db.pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no query ever waited on the held lock")


@asynccontextmanager
async def _held(db: Database, sql: str) -> AsyncIterator[None]:
    """Another session holds the lock ``sql`` takes, until the block ends."""
    async with db.pool.acquire() as conn:
        held = conn.transaction()
        await held.start()
        await conn.execute(sql)
        try:
            yield
        finally:
            await held.rollback()


async def _assert_lease_not_younger_than_the_stamp(db: Database, worker_id: str,
                                                   lease: Lease) -> None:
    """Others judge this process by the heartbeat the database stamped (as the statement
    began); its own lease, measured after, must be at least as old."""
    stamped_age = await db.pool.fetchval(
        "SELECT extract(epoch FROM now() - heartbeat_at)::float8 FROM workers "
        "WHERE worker_id = $1", worker_id)
    assert stamped_age >= 1.5                  # the round trip was slow indeed
    assert lease.age() >= stamped_age


async def test_a_lease_that_lapses_during_the_fence_check_sends_nothing(db):
    """The database fence answers late (its round trip outlasts what the lease had left):
    the lease checked once more after the fence refuses the send (TF_LEASE)."""
    rig = await build(db, worker_id="w-slowfence", TRADEFLEET_LOCKS__TTL_SECONDS="3",
                      TRADEFLEET_LOCKS__HEARTBEAT_INTERVAL_SECONDS="1")
    row = await written_order(rig, liquid_symbol(rig.market))
    async with _held(db, "LOCK TABLE workers IN ACCESS EXCLUSIVE MODE"):
        rig.worker.lease.renew(time.monotonic())       # a heartbeat accepted just now
        send = asyncio.create_task(rig.cycle.paths.orders.send_order(row))
        await _until_a_query_waits_on_a_lock(db)       # past the first lease check, in the fence
        while rig.worker.lease.valid():
            await asyncio.sleep(0.05)
    sent = await send
    assert (sent.status, sent.reject_code) == (OrderStatus.REJECTED, "TF_LEASE")
    assert (await read_books(db, rig.market)).orders_at_exchange == 0


async def test_the_lease_counts_from_when_the_heartbeat_was_sent_not_answered(db, sink):
    """A heartbeat whose database round trip is slow (its row locked for 1.5 s)."""
    epochs = await register(db, sink, "w-beat", ttl=30)
    lease = Lease(30)
    lease.grant(epochs["w-beat"], time.monotonic())
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
    beat = asyncio.Event()
    async with _held(db, "SELECT 1 FROM workers WHERE worker_id = 'w-beat' FOR UPDATE"):
        task = asyncio.create_task(heartbeat_loop(
            locks, "w-beat", lease, interval_seconds=3600, on_refused=lambda: None,
            on_beat=beat.set))
        await _until_a_query_waits_on_a_lock(db)
        await asyncio.sleep(1.5)
    try:
        await asyncio.wait_for(beat.wait(), 10)
        await _assert_lease_not_younger_than_the_stamp(db, "w-beat", lease)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_lease_counts_from_when_the_registration_was_sent_not_answered(db, sink):
    """The same for the registration that grants the first lease (a restart whose
    database round trip is slow)."""
    await register(db, sink, "w-reg", ttl=300)
    async with _held(db, "SELECT 1 FROM workers WHERE worker_id = 'w-reg' FOR UPDATE"):
        starting = asyncio.create_task(build(db, worker_id="w-reg"))
        await _until_a_query_waits_on_a_lock(db)
        await asyncio.sleep(1.5)
    rig = await starting
    await _assert_lease_not_younger_than_the_stamp(db, "w-reg", rig.worker.lease)
