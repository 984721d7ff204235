"""SC-009 from the worker's side: its heartbeat timer keeps its locks, its reclaim timer
frees a dead worker's locks, and a fenced heartbeat stops the process from trading."""

from __future__ import annotations

import asyncio
import time

from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.domain.lease import Lease
from tradefleet.services.lock_service import LockService
from tradefleet.services.worker_registry import WorkerRegistry
from tradefleet.worker.timers import heartbeat_loop, reclaim_interval, reclaim_loop


def _lease(epoch: int, ttl: float = 30.0) -> Lease:
    lease = Lease(ttl)
    lease.grant(epoch, sent_at=time.monotonic())
    return lease


async def _register(db, sink, worker_id: str, ttl: int = 1) -> int:
    registry = WorkerRegistry(PostgresWorkerStore(db), sink)
    return await registry.register(worker_id, pid=4242, host="test", mode="sim",
                                   lock_ttl_seconds=ttl)


async def test_live_worker_reclaims_dead_workers_lock_and_keeps_its_own(db, sink, logs):
    dead_epoch = await _register(db, sink, "w-dead")
    live_epoch = await _register(db, sink, "w-live")
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=1)
    assert await locks.acquire_lock("005930", "w-dead") is not None
    assert await locks.acquire_lock("000660", "w-live") is not None
    fenced: list[str] = []
    tasks = [
        asyncio.create_task(heartbeat_loop(locks, "w-live", _lease(live_epoch),
                                           interval_seconds=0.2,
                                           on_refused=lambda: fenced.append("w-live"))),
        asyncio.create_task(reclaim_loop(locks, "w-live", interval_seconds=0.3)),
    ]
    try:
        for _ in range(40):
            await asyncio.sleep(0.1)
            if await db.pool.fetchval(
                    "SELECT status FROM workers WHERE worker_id = 'w-dead'") == "EXIT":
                break
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    rows = await db.pool.fetch("SELECT symbol, worker_id FROM stock_locks ORDER BY symbol")
    assert [(r["symbol"], r["worker_id"]) for r in rows] == [("000660", "w-live")]
    statuses = dict(await db.pool.fetch("SELECT worker_id, status FROM workers"))
    assert statuses == {"w-dead": "EXIT", "w-live": "IDLE"}
    assert fenced == []
    assert any(r.get("event") == "dead workers detected; locks reclaimed"
               and r["level"] == "error" for r in logs.records)
    # the dead process, if it were still around, learns it was fenced on its next beat
    woke: list[str] = []
    await asyncio.wait_for(heartbeat_loop(locks, "w-dead", _lease(dead_epoch),
                                          interval_seconds=0.05,
                                          on_refused=lambda: woke.append("w-dead")), 2)
    assert woke == ["w-dead"]


async def test_newer_registration_fences_the_old_process(db, sink, logs):
    old_epoch = await _register(db, sink, "w-twice", ttl=5)
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=5)
    fenced = asyncio.Event()
    task = asyncio.create_task(heartbeat_loop(locks, "w-twice", _lease(old_epoch),
                                              interval_seconds=0.05, on_refused=fenced.set))
    await asyncio.sleep(0.15)
    assert not fenced.is_set()
    new_epoch = await _register(db, sink, "w-twice", ttl=5)
    assert new_epoch != old_epoch
    await asyncio.wait_for(fenced.wait(), 2)
    await asyncio.wait_for(task, 1)
    assert any(r.get("event") == "worker fenced: heartbeat refused; stopping trading"
               and r["level"] == "error" for r in logs.records)


def test_reclaim_interval_is_about_half_the_ttl():
    assert reclaim_interval(30) == 15
    assert reclaim_interval(1) == 0.5
