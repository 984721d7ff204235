"""SC-009: a worker that stops heartbeating loses its locks after the TTL (database clock)."""

from __future__ import annotations

import asyncio

from tests.test_locks import register

from tradefleet.adapters.postgres.event_store import fetch_events
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.services.lock_service import LockService


async def test_sc009_stale_worker_locks_reclaimed_and_marked_exit(db, sink, logs):
    epochs = await register(db, sink, "wdead", "wlive", ttl=1)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=1)
    held = [await locks.acquire_lock(s, "wdead") for s in ("005930", "000660")]
    assert all(held)
    await asyncio.sleep(1.3)            # wdead stops heartbeating; wlive keeps going
    assert await locks.heartbeat("wlive", epochs["wlive"])
    assert await locks.reclaim_expired() == ["wdead"]
    assert await db.pool.fetchval(
        "SELECT count(*) FROM stock_locks WHERE worker_id = 'wdead'") == 0
    assert await db.pool.fetchval(
        "SELECT status FROM workers WHERE worker_id = 'wdead'") == "EXIT"
    assert await db.pool.fetchval(
        "SELECT status FROM workers WHERE worker_id = 'wlive'") == "IDLE"
    failed = await fetch_events(db.pool, "WorkerFailedEvent")
    assert [(e["worker_id"], e["payload"]["locks_reclaimed"]) for e in failed] == [("wdead", 2)]
    released = await fetch_events(db.pool, "LockReleasedEvent")
    assert sorted(e["symbol"] for e in released) == ["000660", "005930"]
    assert {e["payload"]["reason"] for e in released} == {"RECLAIMED"}
    assert logs.of("WorkerFailedEvent")[0]["level"] == "error"
    # another worker can now take the symbol; the dead one's heartbeat tells it it was fenced
    assert await locks.acquire_lock("005930", "wlive") is not None
    assert not await locks.heartbeat("wdead", epochs["wdead"])


async def test_heartbeat_keeps_locks_alive(db, sink):
    epochs = await register(db, sink, "wa", ttl=1)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=1)
    await locks.acquire_lock("005930", "wa")
    for _ in range(4):
        await asyncio.sleep(0.4)
        assert await locks.heartbeat("wa", epochs["wa"])
        assert await locks.reclaim_expired() == []
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 1


async def test_concurrent_reclaimers_release_each_lock_once(db, sink):
    await register(db, sink, *[f"w{i}" for i in range(6)], ttl=1)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=1)
    for i in range(6):
        for j in range(3):
            assert await locks.acquire_lock(f"{i}{j}0000", f"w{i}") is not None
    await asyncio.sleep(1.3)
    results = await asyncio.gather(*[locks.reclaim_expired() for _ in range(8)])
    reclaimed = [w for r in results for w in r]
    assert sorted(reclaimed) == [f"w{i}" for i in range(6)]
    assert len(await fetch_events(db.pool, "WorkerFailedEvent")) == 6
    assert len(await fetch_events(db.pool, "LockReleasedEvent")) == 18
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 0


async def test_reregistered_worker_fences_its_older_epoch(db, sink):
    first = (await register(db, sink, "wa"))["wa"]
    second = (await register(db, sink, "wa"))["wa"]
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=30)
    assert second == first + 1
    assert not await locks.heartbeat("wa", first)
    assert await locks.heartbeat("wa", second)


async def test_heartbeat_refreshes_locks_and_a_lock_left_stale_is_reclaimed_alone(db, sink):
    """The heartbeat moves every lock's heartbeat_at (DB clock); a single lock whose own
    heartbeat is older than its TTL is released even though its worker is alive."""
    epochs = await register(db, sink, "wa", ttl=30)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=2)
    kept = await locks.acquire_lock("005930", "wa")
    await db.pool.execute("UPDATE stock_locks SET heartbeat_at = now() - interval '1 minute'")
    assert await locks.heartbeat("wa", epochs["wa"])
    ages = await db.pool.fetchval(
        "SELECT max(now() - heartbeat_at) < interval '1 second' FROM stock_locks")
    assert ages is True
    stale = await locks.acquire_lock("000660", "wa")
    await db.pool.execute("""UPDATE stock_locks SET heartbeat_at = now() - interval '3 seconds'
                              WHERE symbol = '000660'""")
    assert await locks.reclaim_expired() == []                  # the worker is not failed
    assert [lock.symbol for lock in await locks.locks_of("wa")] == [kept.symbol]
    assert await db.pool.fetchval("SELECT status FROM workers") == "IDLE"
    released = await fetch_events(db.pool, "LockReleasedEvent")
    assert [(e["symbol"], e["payload"]["fencing_token"], e["payload"]["reason"])
            for e in released] == [("000660", stale.fencing_token, "RECLAIMED")]
    assert await locks.reclaim_expired() == []
    assert len(await fetch_events(db.pool, "LockReleasedEvent")) == 1


async def test_a_reclaimed_worker_holds_no_symbol_and_the_day_ends_clean(db, sink):
    """A worker that died in HOLD for good: the reclaim marks it EXIT and clears what it was
    holding, so the end-of-day check (no worker holding a symbol) does not fail on a ghost."""
    from datetime import date

    from tradefleet.adapters.postgres.fleet_view import fleet_invariants
    from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
    from tradefleet.domain.states import WorkerStatus
    from tradefleet.services.worker_registry import WorkerRegistry

    epochs = await register(db, sink, "wdead", "wlive", ttl=1)
    registry = WorkerRegistry(PostgresWorkerStore(db), sink)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=1)
    assert await locks.acquire_lock("005930", "wdead") is not None
    await registry.transition("wdead", epochs["wdead"], WorkerStatus.HOLD,
                              current_symbol="005930", reason="entry filled")
    assert await db.pool.fetchval(
        "SELECT current_symbol FROM workers WHERE worker_id = 'wdead'") == "005930"
    await asyncio.sleep(1.3)
    assert await locks.heartbeat("wlive", epochs["wlive"])
    assert await locks.reclaim_expired() == ["wdead"]
    row = await db.pool.fetchrow("SELECT status, current_symbol FROM workers "
                                 "WHERE worker_id = 'wdead'")
    assert (row["status"], row["current_symbol"]) == ("EXIT", None)
    assert (await fleet_invariants(db, date.today()))["workers_holding"] == 0


async def test_a_stop_or_a_new_life_never_keeps_the_last_symbol(db, sink):
    from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
    from tradefleet.domain.states import WorkerStatus
    from tradefleet.services.worker_registry import WorkerRegistry

    epochs = await register(db, sink, "wa", "wb")
    registry = WorkerRegistry(PostgresWorkerStore(db), sink)
    for wid in ("wa", "wb"):
        await registry.transition(wid, epochs[wid], WorkerStatus.HOLD, current_symbol="000660",
                                  reason="entry filled")
    # a transition to EXIT that names a symbol still clears it
    await registry.transition("wa", epochs["wa"], WorkerStatus.EXIT, current_symbol="000660",
                              reason="stopped")
    await register(db, sink, "wb")          # killed in HOLD, started again: a new life
    rows = {r["worker_id"]: r["current_symbol"] for r in await db.pool.fetch(
        "SELECT worker_id, current_symbol FROM workers")}
    assert rows == {"wa": None, "wb": None}


async def test_reclaimers_take_turns(db, sink):
    """Deterministic: while another reclaimer's transaction holds the turn, a reclaim
    waits for it (two at once could delete each other's locks in opposite orders: a
    deadlock, seen on CI with eight reclaimers)."""
    from tradefleet.adapters.postgres.lock_store import RECLAIMERS_TAKE_TURNS

    await register(db, sink, "wgone", ttl=1)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=1)
    assert await locks.acquire_lock("005930", "wgone") is not None
    await asyncio.sleep(1.3)
    async with db.pool.acquire() as other, other.transaction():
        await other.execute(RECLAIMERS_TAKE_TURNS)
        waiting = asyncio.ensure_future(locks.reclaim_expired())
        done, _ = await asyncio.wait({waiting}, timeout=3.0)
        assert not done, "reclaimed while another reclaimer held the turn"
    assert await asyncio.wait_for(waiting, 10) == ["wgone"]
