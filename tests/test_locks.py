"""SC-003 / SC-004: taking a free symbol, and being refused one another worker holds."""

from __future__ import annotations

from tradefleet.adapters.postgres.event_store import fetch_events
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.services.lock_service import LockService
from tradefleet.services.worker_registry import WorkerRegistry


async def register(db, sink, *workers: str, ttl: int = 30) -> dict[str, int]:
    registry = WorkerRegistry(PostgresWorkerStore(db), sink)
    return {w: await registry.register(w, pid=100 + i, host="test", mode="sim",
                                       lock_ttl_seconds=ttl)
            for i, w in enumerate(workers)}


async def test_sc003_acquire_lock_stores_row_and_event(db, sink, logs):
    await register(db, sink, "wa")
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
    lock = await locks.acquire_lock("005930", "wa")
    assert lock is not None and lock.worker_id == "wa"
    row = await db.pool.fetchrow("SELECT * FROM stock_locks WHERE symbol = '005930'")
    assert row["worker_id"] == "wa" and row["fencing_token"] == lock.fencing_token
    assert row["ttl_seconds"] == 30 and row["locked_at"] == lock.locked_at
    assert row["heartbeat_at"] is not None
    events = await fetch_events(db.pool, "LockAcquiredEvent")
    assert [(e["worker_id"], e["symbol"]) for e in events] == [("wa", "005930")]
    assert events[0]["payload"]["fencing_token"] == lock.fencing_token
    line = logs.of("LockAcquiredEvent")[0]
    assert line["level"] == "info" and line["worker_id"] == "wa" and line["symbol"] == "005930"
    assert "locked_at" in line


async def test_sc004_second_worker_is_rejected_and_row_unchanged(db, sink, logs):
    await register(db, sink, "wa", "wb")
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
    first = await locks.acquire_lock("000660", "wa")
    before = dict(await db.pool.fetchrow("SELECT * FROM stock_locks WHERE symbol = '000660'"))
    assert await locks.acquire_lock("000660", "wb") is None
    after = dict(await db.pool.fetchrow("SELECT * FROM stock_locks WHERE symbol = '000660'"))
    assert before == after and after["fencing_token"] == first.fencing_token
    rejected = await fetch_events(db.pool, "LockRejectedEvent")
    assert [(e["worker_id"], e["payload"]["held_by"]) for e in rejected] == [("wb", "wa")]
    warn = logs.of("LockRejectedEvent")[0]
    assert warn["level"] == "warning" and warn["held_by"] == "wa"
    # the loser goes on with another symbol
    assert await locks.acquire_lock("035420", "wb") is not None


async def test_release_only_by_owner_with_same_token(db, sink):
    await register(db, sink, "wa", "wb")
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
    lock = await locks.acquire_lock("005930", "wa")
    from dataclasses import replace
    assert not await locks.release_lock(replace(lock, worker_id="wb"), "EXITED")
    assert not await locks.release_lock(replace(lock, fencing_token=lock.fencing_token + 1),
                                        "EXITED")
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 1
    assert await locks.release_lock(lock, "EXITED")
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 0
    released = await fetch_events(db.pool, "LockReleasedEvent")
    assert [e["payload"]["reason"] for e in released] == ["EXITED"]


async def test_fencing_tokens_strictly_increase(db, sink):
    await register(db, sink, "wa")
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
    tokens = []
    for _ in range(5):
        lock = await locks.acquire_lock("005930", "wa")
        tokens.append(lock.fencing_token)
        await locks.release_lock(lock, "EXITED")
    assert tokens == sorted(set(tokens))


async def test_exited_or_unknown_worker_cannot_lock(db, sink):
    await register(db, sink, "wa")
    await db.pool.execute("UPDATE workers SET status = 'EXIT' WHERE worker_id = 'wa'")
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
    assert await locks.acquire_lock("005930", "wa") is None
    assert await locks.acquire_lock("005930", "nobody") is None
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 0


async def test_bad_symbol_or_worker_id_names_the_field_and_writes_nothing(db, sink):
    import pytest

    await register(db, sink, "wa")
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
    with pytest.raises(ValueError, match="symbol"):
        await locks.acquire_lock("5930", "wa")
    with pytest.raises(ValueError, match="worker_id"):
        await locks.acquire_lock("005930", "WA;drop")
    with pytest.raises(ValueError, match="ttl_seconds"):
        LockService(PostgresLockStore(db), sink, ttl_seconds=0)
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 0
    assert await db.pool.fetchval("SELECT count(*) FROM events") == 0


async def test_acquire_waits_for_a_reclaim_in_flight_and_is_then_rejected(db, sink):
    """A reclaim holding the worker row wins: the acquire must not leave a lock to an EXIT
    worker (acquire share-locks the worker row)."""
    import asyncio

    await register(db, sink, "wa", ttl=1)
    await db.pool.execute("UPDATE workers SET heartbeat_at = now() - interval '5 seconds'")
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
    async with db.transaction() as conn:
        await conn.execute("SELECT 1 FROM workers WHERE worker_id = 'wa' FOR UPDATE")
        pending = asyncio.create_task(locks.acquire_lock("005930", "wa"))
        await asyncio.sleep(0.2)
        assert not pending.done()                   # blocked behind the reclaimer's row lock
        await conn.execute("UPDATE workers SET status = 'EXIT' WHERE worker_id = 'wa'")
    assert await pending is None
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 0


async def test_sc004_a_true_race_still_names_the_holder(db, sink, logs):
    """The refused insert waits for the winner's uncommitted row and then does nothing; its
    statement's snapshot predates the winner's commit, yet the holder is named."""
    import asyncio

    await register(db, sink, "wa", "wb")
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
    async with db.pool.acquire() as winner:
        tx = winner.transaction()
        await tx.start()
        await winner.execute("INSERT INTO stock_locks (symbol, worker_id, fencing_token, "
                             "ttl_seconds) VALUES ('035720', 'wa', "
                             "nextval('fencing_token_seq'), 30)")
        loser = asyncio.create_task(locks.acquire_lock("035720", "wb"))
        for _ in range(100):        # until the loser's insert waits on the winner's row
            waiting = await db.pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%INSERT INTO stock_locks%'")
            if waiting:
                break
            await asyncio.sleep(0.05)
        assert waiting, "the refused insert never waited on the winner's row"
        await tx.commit()
    assert await loser is None
    [rejected] = await fetch_events(db.pool, "LockRejectedEvent")
    assert rejected["payload"]["held_by"] == "wa"
    assert logs.of("LockRejectedEvent")[0]["held_by"] == "wa"
