"""The broker's acceptance is recorded in one round trip (issue 20, fill-to-record):
``PostgresOrderStore.mark_sent`` is one statement (``sent_order.write_sent``). What must
hold, judged by PostgreSQL itself: the row and the event are what the previous six-round-trip
path (``_update`` with its UPDATE, kept here as the reference) wrote, from every starting
status; the stored event is the event the caller logs; the commit waited for the disk on an
asynchronous pool (a deferred trigger notes ``synchronous_commit`` as the commit runs) and
the setting ends with the statement; the status reported moved from is the one the UPDATE
moved from even when another transaction changed the row first; no order, no write."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest
from tests.commit_settings import note_commit_settings
from tests.test_locks import register
from tests.test_order_service import AT

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.event_store import fetch_events
from tradefleet.adapters.postgres.lock_store import PostgresLockStore
from tradefleet.adapters.postgres.order_reports import order_row
from tradefleet.adapters.postgres.order_store import PostgresOrderStore
from tradefleet.domain.events import OrderSentEvent
from tradefleet.ports.trade_store import NewOrder
from tradefleet.services.lock_service import LockService

# the previous implementation of mark_sent, verbatim: the reference the one statement must match
OLD_SENT = """UPDATE orders SET status = CASE WHEN status IN ('NEW', 'UNKNOWN')
                                               OR (status = 'EXPIRED' AND filled_qty = 0)
                                             THEN 'SENT' ELSE status END,
                   broker_order_id = coalesce(broker_order_id, $2),
                   broker_branch = coalesce(broker_branch, $3),
                   sent_at = coalesce(sent_at, now()), updated_at = now()
               WHERE order_id = $1 RETURNING *"""


async def old_mark_sent(store: PostgresOrderStore, order_id, broker_order_id, branch, latency):
    return await store._update(
        OLD_SENT, order_id, broker_order_id, branch,
        event_of=lambda r: OrderSentEvent(
            worker_id=r.worker_id, symbol=r.symbol, order_id=r.order_id,
            client_order_id=r.client_order_id, broker_order_id=r.broker_order_id,
            side=r.side, qty=r.qty, status=r.status, latency_ms=latency))


NOTE_COMMIT = note_commit_settings("UPDATE")

# starting states: (status, filled_qty, broker_order_id, broker_branch, sent before)
STARTS = {
    "NEW": ("NEW", 0, None, None, False),
    "UNKNOWN": ("UNKNOWN", 0, None, None, True),
    "EXPIRED": ("EXPIRED", 0, None, None, True),
    "EXPIRED-PART": ("EXPIRED", 1, None, None, True),
    "FILLED": ("FILLED", 3, "000777", "06010", True),
}
# broker ids are unique per day: the old path's rows carry "1..." and the new path's "2..."
SKIP = {"order_id", "client_order_id", "broker_order_id", "created_at", "updated_at",
        "sent_at", "written_at"}


async def setup(pg_dsn):
    # one connection, not reset between uses: a setting that outlived the statement would
    # show on the next use
    db = await Database.connect(pg_dsn, min_size=1, max_size=1, durable_by_default=False,
                                reset_sessions=False)
    sink = PostgresEventSink(db)
    await register(db, sink, "w1")
    lock = await LockService(PostgresLockStore(db), sink, ttl_seconds=30).acquire_lock(
        "005930", "w1")
    return db, lock


async def new_order(db, lock, name, start, path="1"):
    status, filled, broker_id, branch, sent = start
    broker_id = None if broker_id is None else f"{path}000{broker_id}"
    row, _ = await PostgresOrderStore(db).create_order(lock, NewOrder(
        client_order_id=name, trading_day=AT.date(), side="BUY", order_type="LIMIT", qty=3,
        limit_price=70000, purpose="ENTRY"))
    await db.pool.execute(
        """UPDATE orders SET status = $2, filled_qty = $3::bigint,
                  filled_amount = $3::bigint * 70000,
                  broker_order_id = $4, broker_branch = $5,
                  sent_at = CASE WHEN $6 THEN now() - interval '5 seconds' END
            WHERE order_id = $1""", row.order_id, status, filled, broker_id, branch, sent)
    return row.order_id


def moves(calls):
    return lambda side, status: calls.append((side, status))


async def test_mark_sent_writes_what_the_six_round_trips_wrote_in_one_durable_statement(
        pg_dsn):
    db, lock = await setup(pg_dsn)
    try:
        ids = {}
        for name, start in STARTS.items():
            ids[name] = (await new_order(db, lock, f"old-{name}", start, "1"),
                         await new_order(db, lock, f"new-{name}", start, "2"))
        await db.pool.execute(NOTE_COMMIT)
        for n, (name, (old_id, new_id)) in enumerate(ids.items()):
            old_calls, new_calls = [], []
            old_row, old_events = await old_mark_sent(
                PostgresOrderStore(db, on_status=moves(old_calls)), old_id, f"100000123{n}",
                "06011", 12.34)
            new_row, new_events = await PostgresOrderStore(
                db, on_status=moves(new_calls)).mark_sent(
                new_id, f"200000123{n}", "06011", 12.34)
            assert new_calls == old_calls, name
            stored = {r["payload"]["order_id"]: r["payload"]
                      for r in await fetch_events(db.pool, "OrderSentEvent")}
            assert stored[new_id] == new_events[0].payload(), name
            assert [e.payload() for e in new_events] == [stored[new_id]]
            old_p, new_p = dict(stored[old_id]), dict(stored[new_id])
            assert old_p.pop("client_order_id") == f"old-{name}"
            assert new_p.pop("client_order_id") == f"new-{name}"
            assert (old_p.pop("order_id"), new_p.pop("order_id")) == (old_id, new_id)
            kept = STARTS[name][2]
            for path, payload in (("1", old_p), ("2", new_p)):
                assert payload.pop("broker_order_id") == (
                    f"{path}00000123{n}" if kept is None else f"{path}000{kept}")
            assert new_p == old_p, name
            old = await db.pool.fetchrow("SELECT * FROM orders WHERE order_id = $1", old_id)
            new = await db.pool.fetchrow("SELECT * FROM orders WHERE order_id = $1", new_id)
            assert {k: v for k, v in new.items() if k not in SKIP} == \
                {k: v for k, v in old.items() if k not in SKIP}, name
            assert (order_row(old), order_row(new)) == (old_row, new_row)
            assert new["broker_order_id"][1:] == old["broker_order_id"][1:]
            # sent_at kept when set, else the write's own time, as before
            assert (new["sent_at"] == new["updated_at"]) == (old["sent_at"] == old["updated_at"])
            assert (new["updated_at"] - new["sent_at"] > timedelta(seconds=4)) == \
                STARTS[name][4]
        noted = {r["order_id"]: r["synchronous_commit"]
                 for r in await db.pool.fetch("SELECT * FROM commit_settings")}
        assert {noted[new_id] for _, new_id in ids.values()} == {"on"}
        assert len(noted) == 2 * len(ids)
        assert await db.pool.fetchval("SHOW synchronous_commit") == "off"
    finally:
        await db.close()


async def test_mark_sent_reports_the_status_it_moved_from_after_a_concurrent_change(pg_dsn):
    db, lock = await setup(pg_dsn)
    other = await asyncpg.connect(pg_dsn)
    try:
        order_id = await new_order(db, lock, "raced", STARTS["NEW"])
        calls = []
        store = PostgresOrderStore(db, on_status=moves(calls))
        # a fill notice applied first, still uncommitted when mark_sent reaches the row
        tx = other.transaction()
        await tx.start()
        await other.execute("""UPDATE orders SET status = 'PARTIALLY_FILLED', filled_qty = 1,
                                      filled_amount = 70000 WHERE order_id = $1""", order_id)
        sending = asyncio.create_task(store.mark_sent(order_id, "0000004321", None, 1.0))
        # wait until the statement is blocked on the row lock (a condition, not a time)
        for _ in range(3000):
            if await other.fetchval(
                    """SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                         AND wait_event_type = 'Lock'"""):
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("mark_sent never waited for the row lock")
        await tx.commit()
        row, events = await sending
        assert str(row.status) == "PARTIALLY_FILLED" and row.broker_order_id == "0000004321"
        assert events[0].status == "PARTIALLY_FILLED"
        assert calls == []        # moved from PARTIALLY_FILLED to itself: nothing to count
        stored = await fetch_events(db.pool, "OrderSentEvent")
        assert [r["payload"] for r in stored] == [events[0].payload()]
    finally:
        await other.close()
        await db.close()


async def test_mark_sent_of_no_order_raises_and_writes_nothing(pg_dsn):
    db, _ = await setup(pg_dsn)
    try:
        with pytest.raises(LookupError, match="order_id: no order 424242"):
            await PostgresOrderStore(db).mark_sent(424242, "0000000001", None, 1.0)
        assert await fetch_events(db.pool, "OrderSentEvent") == []
        assert await db.pool.fetchval("SHOW synchronous_commit") == "off"
    finally:
        await db.close()
