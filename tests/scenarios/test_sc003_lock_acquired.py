"""SC-003: the worker's scan finds a buy signal on a symbol no worker holds; its entry takes
the symbol's lock and goes on to the buy.

검증: stock_locks row (symbol, worker_id = this worker, locked_at, ttl, heartbeat_at),
LockAcquiredEvent, log line (lock acquired, INFO, with symbol, worker_id, locked_at)."""

from __future__ import annotations

from datetime import datetime

from tests.scenarios.evidence import events, has_fields, kinds, one_line
from tests.scenarios.harness import TTL_S, build, poll_until_holding


async def test_free_symbol_is_locked_by_the_worker_and_the_buy_follows(db, logs):
    rig = await build(db, worker_id="w-lock")
    symbol = await poll_until_holding(rig)

    row = await db.pool.fetchrow("SELECT * FROM stock_locks WHERE symbol = $1", symbol)
    assert row["worker_id"] == "w-lock" and row["ttl_seconds"] == TTL_S
    assert row["locked_at"] is not None and row["heartbeat_at"] >= row["locked_at"]
    assert await db.pool.fetchval("SELECT count(*) FROM stock_locks") == 1
    [acquired] = await events(db, "LockAcquiredEvent", worker_id="w-lock")
    assert acquired["symbol"] == symbol
    assert acquired["fencing_token"] == row["fencing_token"]
    assert datetime.fromisoformat(acquired["locked_at"]) == row["locked_at"]
    assert acquired["ttl_seconds"] == TTL_S
    # the lock was granted (the worker held it), and the buy went out under it
    [created] = await events(db, "OrderCreatedEvent", worker_id="w-lock")
    assert (created["symbol"], created["side"], created["fencing_token"]) == \
        (symbol, "BUY", row["fencing_token"])
    order = await kinds(db, "w-lock")
    assert order.index("LockAcquiredEvent") < order.index("OrderCreatedEvent")
    assert await events(db, "LockRejectedEvent") == []

    line = one_line(logs, event_type="LockAcquiredEvent", worker_id="w-lock")
    assert line["level"] == "info" and line["message"] == "lock acquired"
    has_fields(line, "symbol", "worker_id", "locked_at")
    assert line["symbol"] == symbol
    assert datetime.fromisoformat(line["locked_at"]) == row["locked_at"]
