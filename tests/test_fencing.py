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


# Checked by the database at the moment of each insert (fresh snapshot in a volatile
# trigger): the exact lock row the order claims to be placed under must exist then.
_ASSERT_LOCK_HELD = """
CREATE FUNCTION assert_lock_held() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM stock_locks WHERE symbol = NEW.symbol AND worker_id = NEW.worker_id
                                 AND fencing_token = NEW.fencing_token;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'order % inserted without its lock', NEW.client_order_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER orders_assert_lock_held BEFORE INSERT ON orders
    FOR EACH ROW EXECUTE FUNCTION assert_lock_held();
"""


async def test_reclaim_racing_guarded_inserts_never_orders_without_the_lock(db, sink):
    """Zombie tasks keep ordering while the zombie is reclaimed and the heir takes the
    symbol and orders too: no order is ever inserted without its exact lock row, and once a
    zombie is refused it stays refused."""
    await db.pool.execute(_ASSERT_LOCK_HELD)
    epochs = await register(db, sink, "wz", "wh", ttl=1)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=1)
    old = await locks.acquire_lock("005930", "wz")
    await db.pool.execute(
        "UPDATE workers SET heartbeat_at = now() - interval '5 seconds' WHERE worker_id = 'wz'")
    assert await locks.heartbeat("wh", epochs["wh"])

    async def zombie(n: int) -> list[int | None]:
        return [await order(db, "wz", old.fencing_token, f"z{n}-{i}") for i in range(30)]

    async def heir() -> tuple[list[str], int, list[int | None]]:
        await asyncio.sleep(0.01)
        reclaimed = await locks.reclaim_expired()
        new = await locks.acquire_lock("005930", "wh")
        assert new is not None and new.fencing_token > old.fencing_token
        return reclaimed, new.fencing_token, [
            await order(db, "wh", new.fencing_token, f"h{i}", "SELL") for i in range(10)]

    *zombies, (reclaimed, new_token, heir_orders) = await asyncio.gather(
        *[zombie(n) for n in range(4)], heir())
    assert reclaimed == ["wz"]
    assert all(r is not None for r in heir_orders)
    for results in zombies:
        refused_from = next((i for i, r in enumerate(results) if r is None), len(results))
        assert all(r is None for r in results[refused_from:])   # once refused, always refused
        assert refused_from < len(results)                      # the reclaim did cut it off
    rows = await db.pool.fetch("SELECT worker_id, fencing_token FROM orders")
    assert {(r["worker_id"], r["fencing_token"]) for r in rows} <= {
        ("wz", old.fencing_token), ("wh", new_token)}
    assert sum(r["worker_id"] == "wh" for r in rows) == 10


async def test_exited_worker_cannot_order_even_if_a_lock_row_survived(db, sink):
    await register(db, sink, "wa", ttl=30)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
    lock = await locks.acquire_lock("005930", "wa")
    await db.pool.execute("UPDATE workers SET status = 'EXIT' WHERE worker_id = 'wa'")
    assert await order(db, "wa", lock.fencing_token, "x1", "SELL") is None
    assert await db.pool.fetchval("SELECT count(*) FROM orders") == 0
