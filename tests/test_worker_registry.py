"""Worker rows: registration epochs, the state table enforced against the stored status,
fencing of stale epochs, and the events each change writes in its own transaction."""

from __future__ import annotations

import pytest

from tradefleet.adapters.postgres.event_store import fetch_events
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.domain.errors import Fenced
from tradefleet.domain.states import IllegalTransition, WorkerStatus
from tradefleet.services.lock_service import LockService
from tradefleet.services.worker_registry import WorkerRegistry


def registry_of(db, sink) -> WorkerRegistry:
    return WorkerRegistry(PostgresWorkerStore(db), sink)


async def test_register_creates_idle_row_and_bumps_epoch(db, sink):
    reg = registry_of(db, sink)
    first = await reg.register("wa", pid=4321, host="h1", mode="sim", lock_ttl_seconds=15)
    await db.pool.execute("UPDATE workers SET status = 'EXIT', stopped_at = now()")
    second = await reg.register("wa", pid=4322, host="h2", mode="paper", lock_ttl_seconds=20)
    assert second == first + 1
    row = await db.pool.fetchrow("SELECT * FROM workers WHERE worker_id = 'wa'")
    assert (row["status"], row["pid"], row["host"], row["mode"], row["lock_ttl_seconds"],
            row["epoch"], row["stopped_at"]) == ("IDLE", 4322, "h2", "paper", 20, second, None)
    got = await reg.get("wa")
    assert got.status is WorkerStatus.IDLE and got.epoch == second


async def test_transitions_follow_the_table_and_write_events(db, sink, logs):
    reg = registry_of(db, sink)
    epoch = await reg.register("wa", pid=1, host="h", mode="sim", lock_ttl_seconds=15)
    await reg.transition("wa", epoch, WorkerStatus.SCAN, current_symbol=None, reason="start")
    await reg.transition("wa", epoch, WorkerStatus.HOLD, current_symbol="005930",
                         reason="bought")
    row = await db.pool.fetchrow("SELECT status, current_symbol FROM workers")
    assert (row["status"], row["current_symbol"]) == ("HOLD", "005930")
    await reg.transition("wa", epoch, WorkerStatus.SCAN, current_symbol=None, reason="sold")
    events = await fetch_events(db.pool, "StateTransitionedEvent", "wa")
    assert [(e["payload"]["from_status"], e["payload"]["to_status"], e["symbol"])
            for e in events] == [("IDLE", "SCAN", None), ("SCAN", "HOLD", "005930"),
                                 ("HOLD", "SCAN", None)]
    assert [r["to_status"] for r in logs.of("StateTransitionedEvent")] == [
        "SCAN", "HOLD", "SCAN"]


async def test_illegal_transition_raises_and_writes_nothing(db, sink):
    reg = registry_of(db, sink)
    epoch = await reg.register("wa", pid=1, host="h", mode="sim", lock_ttl_seconds=15)
    with pytest.raises(IllegalTransition):
        await reg.transition("wa", epoch, WorkerStatus.IDLE, current_symbol=None, reason="x")
    assert await db.pool.fetchval("SELECT status FROM workers") == "IDLE"
    assert await fetch_events(db.pool, "StateTransitionedEvent") == []


async def test_stale_epoch_and_reclaimed_worker_are_fenced(db, sink):
    reg = registry_of(db, sink)
    old = await reg.register("wa", pid=1, host="h", mode="sim", lock_ttl_seconds=1)
    new = await reg.register("wa", pid=2, host="h", mode="sim", lock_ttl_seconds=1)
    with pytest.raises(Fenced):
        await reg.transition("wa", old, WorkerStatus.SCAN, current_symbol=None, reason="zombie")
    assert await db.pool.fetchval("SELECT status FROM workers") == "IDLE"
    # the live epoch is then reclaimed (stopped heartbeating): it is fenced too
    await db.pool.execute("UPDATE workers SET heartbeat_at = now() - interval '5 seconds'")
    locks = LockService(PostgresLockStore(db), sink, ttl_seconds=1)
    assert await locks.reclaim_expired() == ["wa"]
    with pytest.raises(Fenced):
        await reg.transition("wa", new, WorkerStatus.SCAN, current_symbol=None, reason="late")
    assert await fetch_events(db.pool, "StateTransitionedEvent") == []


async def test_stop_marks_exit_once_with_event(db, sink, logs):
    reg = registry_of(db, sink)
    epoch = await reg.register("wa", pid=777, host="h", mode="sim", lock_ttl_seconds=15)
    await reg.stop("wa", epoch + 1, "wrong epoch")           # fenced: nothing happens
    assert await db.pool.fetchval("SELECT status FROM workers") == "IDLE"
    await reg.stop("wa", epoch, "SHUTDOWN")
    await reg.stop("wa", epoch, "SHUTDOWN")                  # second call is a no-op
    row = await db.pool.fetchrow("SELECT status, stopped_at FROM workers")
    assert row["status"] == "EXIT" and row["stopped_at"] is not None
    stopped = await fetch_events(db.pool, "WorkerStoppedEvent")
    assert [(e["worker_id"], e["payload"]["pid"], e["payload"]["reason"]) for e in stopped] == [
        ("wa", 777, "SHUTDOWN")]
    assert len(logs.of("WorkerStoppedEvent")) == 1
    # the stop is the transition to EXIT (spec §6.2), stored and logged before the stop line
    kinds = [r["event_type"] for r in await fetch_events(db.pool)]
    assert kinds[-2:] == ["StateTransitionedEvent", "WorkerStoppedEvent"]
    [moved] = await fetch_events(db.pool, "StateTransitionedEvent")
    assert moved["payload"] == {"from_status": "IDLE", "to_status": "EXIT",
                                "reason": "SHUTDOWN"}
    [line] = logs.of("StateTransitionedEvent")
    assert (line["level"], line["worker_id"], line["from_status"], line["to_status"]) == \
        ("info", "wa", "IDLE", "EXIT")
    assert [r["event_type"] for r in logs.records if r.get("event_type")][-2:] == \
        ["StateTransitionedEvent", "WorkerStoppedEvent"]


async def test_set_buy_blocked(db, sink):
    reg = registry_of(db, sink)
    await reg.register("wa", pid=1, host="h", mode="sim", lock_ttl_seconds=15)
    await reg.set_buy_blocked("wa", "DAILY_LOSS_LIMIT")
    assert (await reg.get("wa")).buy_blocked == "DAILY_LOSS_LIMIT"


@pytest.mark.parametrize(("field", "kwargs"), [
    ("worker_id", {"worker_id": "Bad Id"}),
    ("lock_ttl_seconds", {"lock_ttl_seconds": 0}),
    ("mode", {"mode": "live"}),
    ("pid", {"pid": -1}),
])
async def test_bad_registration_input_names_field_and_writes_nothing(db, sink, field, kwargs):
    args = {"worker_id": "wa", "pid": 1, "host": "h", "mode": "sim", "lock_ttl_seconds": 15}
    args.update(kwargs)
    worker_id = args.pop("worker_id")
    with pytest.raises(ValueError, match=field):
        await registry_of(db, sink).register(worker_id, **args)
    assert await db.pool.fetchval("SELECT count(*) FROM workers") == 0
