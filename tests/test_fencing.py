"""A worker whose lock was reclaimed (a paused zombie) can never place an order."""

from __future__ import annotations

import asyncio
from datetime import date

from tests.test_locks import register
from tradefleet.adapters.postgres.fenced_order import insert_order_if_lock_held
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.services.lock_service import LockService

DAY = date(2026, 11, 24)


async def order(db, worker_id: str, token: int, cid: str, side: str = "BUY") -> int | None:
    async with db.transaction() as conn:
        return await insert_order_if_lock_held(
            conn, worker_id=worker_id, fencing_token=token, client_order_id=cid,
            trading_day=DAY, symbol="005930", side=side, order_type="MARKET", qty=10,
            limit_price=None, purpose="ENTRY")


async def test_zombie_cannot_order_after_reclaim_even_with_old_token(db, sink):
    await register(db, sink, "zombie", "heir", ttl=1)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=1)
    old = await locks.acquire_lock("005930", "zombie")
    assert await order(db, "zombie", old.fencing_token, "c1") is not None   # while it held it
    await asyncio.sleep(1.3)
    await locks.heartbeat("heir", 1)
    assert await locks.reclaim_expired() == ["zombie"]
    new = await locks.acquire_lock("005930", "heir")
    assert new.fencing_token > old.fencing_token
    assert await order(db, "zombie", old.fencing_token, "c2") is None
    assert await order(db, "zombie", new.fencing_token, "c3") is None      # not its token
    assert await order(db, "heir", old.fencing_token, "c4") is None        # stale token
    assert await order(db, "heir", new.fencing_token, "c5") is not None
    rows = await db.pool.fetch("SELECT client_order_id, worker_id, fencing_token FROM orders "
                               "ORDER BY order_id")
    assert [(r["client_order_id"], r["worker_id"]) for r in rows] == [
        ("c1", "zombie"), ("c5", "heir")]


async def test_buy_refused_while_another_worker_has_an_open_position(db, sink):
    await register(db, sink, "orphan", "other", ttl=30)
    await db.pool.execute(
        """INSERT INTO positions (worker_id, trading_day, symbol, status, qty, bought_qty,
               strategy_name, strategy_version, param_version, fencing_token)
           VALUES ('orphan', $1, '005930', 'OPEN', 10, 10, 's', '1', 'p', 1)""", DAY)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
    lock = await locks.acquire_lock("005930", "other")
    assert await order(db, "other", lock.fencing_token, "b1", "BUY") is None
    assert await db.pool.fetchval("SELECT count(*) FROM orders") == 0


async def test_reclaim_racing_guarded_inserts_never_orders_without_the_lock(db, sink):
    """Orders and a reclaim race; every order that exists was inserted under a lock row
    that still had its token at commit time: none is newer than the reclaim's delete."""
    await register(db, sink, "wz", "wh", ttl=1)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=1)
    lock = await locks.acquire_lock("005930", "wz")
    await asyncio.sleep(1.2)
    await locks.heartbeat("wh", 1)

    async def spam() -> list[int | None]:
        return [await order(db, "wz", lock.fencing_token, f"s{i}") for i in range(40)]

    results, reclaimed = await asyncio.gather(spam(), locks.reclaim_expired())
    assert reclaimed == ["wz"]
    placed = [r for r in results if r is not None]
    refused_from = next((i for i, r in enumerate(results) if r is None), len(results))
    assert all(r is None for r in results[refused_from:])     # once refused, always refused
    assert len(placed) == refused_from
    last_order = await db.pool.fetchval("SELECT max(created_at) FROM orders")
    released = await db.pool.fetchval(
        "SELECT occurred_at FROM events WHERE event_type = 'LockReleasedEvent'")
    assert last_order is None or last_order <= released
