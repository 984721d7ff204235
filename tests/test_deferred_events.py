"""The replay's deferred events (``replay.deferred_events``): what a worker's sink
publishes is stored before the next statement on the day's held connections that names
the events table, in the order published and with one INSERT, stamped with the time it
was published, its log line and metrics heard at once; a day ends with its events stored.
(The parity test, ``test_replay_runner``, replays with it against the simulated day
without.)"""

from __future__ import annotations

import asyncio
from datetime import datetime, time
from types import SimpleNamespace

from tests.test_held_connections import close_unless_held
from tests.test_replay_runner import DAY, SEED, SYMBOLS, _env, _fresh_db

from tradefleet.adapters.clock import SEOUL, FrozenClock
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.event_store import append_events, fetch_events
from tradefleet.adapters.sim.engine import SimMarket
from tradefleet.domain.events import WorkerStartedEvent
from tradefleet.replay.deferred_events import DeferredEvents
from tradefleet.replay.held_connections import HeldConnections
from tradefleet.replay.runner import run_worker_day


def _started(worker_id: str) -> WorkerStartedEvent:
    return WorkerStartedEvent(worker_id=worker_id, pid=1, host="h", epoch=1, status="IDLE",
                              capital_limit=1, daily_loss_limit=1)


async def test_published_events_are_stored_in_order_before_the_next_statement(
        pg_server_uri) -> None:  # noqa: ANN001
    db = await _fresh_db(pg_server_uri)
    heard: list[str] = []
    held = HeldConnections(db.pool)
    try:
        deferred = DeferredEvents()
        held.deferred = [deferred]
        sinks = [PostgresEventSink(SimpleNamespace(pool=held),
                                   observe=lambda e: heard.append(e.worker_id))
                 for _ in range(2)]
        for sink in sinks:
            deferred.watch(sink)
        order = ["w-3", "w-1", "w-2", "w-1"]
        for k, worker_id in enumerate(order):
            await sinks[k % 2].publish(_started(worker_id))
        assert heard == order                             # logged and observed at once
        rows = await fetch_events(held)                   # the next statement sees them
        assert [r["worker_id"] for r in rows] == order    # in the order published
        assert deferred.stored == 4 and deferred.statements == 1
        await sinks[0].publish(_started("w-9"))
        await held.flush()                                # stored with no statement of its own
        assert deferred.pending == [] and deferred.statements == 2
        assert [r["worker_id"] for r in await fetch_events(db.pool)][-1] == "w-9"
        await held.release_all()
    finally:
        await close_unless_held(db)


async def test_a_kept_event_is_stamped_with_the_time_it_was_published(pg_server_uri
                                                                      ) -> None:  # noqa: ANN001
    """Kept across statements that cannot see it and stored by the day's flush half a
    second and more later, an event's ``occurred_at`` is still when it was published (on
    the database's clock), not when it was stored; two events keep their own times."""
    db = await _fresh_db(pg_server_uri)
    held = HeldConnections(db.pool)
    try:
        deferred = DeferredEvents()
        held.deferred = [deferred]
        sink = PostgresEventSink(SimpleNamespace(pool=held))
        deferred.watch(sink)
        clock = "SELECT clock_timestamp()"
        before = await db.pool.fetchval(clock)
        await sink.publish(_started("w-1"))
        await asyncio.sleep(0.5)
        between = await db.pool.fetchval(clock)
        await asyncio.sleep(0.5)
        await sink.publish(_started("w-2"))
        await held.execute("SELECT 1")                      # cannot see them: still kept
        await asyncio.sleep(0.5)
        published = await db.pool.fetchval(clock)
        await asyncio.sleep(0.5)
        assert len(deferred.pending) == 2
        await held.flush()                                  # the day's end
        rows = await fetch_events(db.pool)
        assert [r["worker_id"] for r in rows] == ["w-1", "w-2"]
        first, second = (r["occurred_at"] for r in rows)
        assert before <= first < between < second < published
        await held.release_all()
    finally:
        await close_unless_held(db)


async def test_a_day_ends_with_its_kept_events_stored_in_the_order_published(
        pg_server_uri) -> None:  # noqa: ANN001
    """A simulated day whose market closes at 14:40, polled every time from 14:20 (the
    worker, whose session ends at 15:30, still scans and holds when the day stops, so its
    last polls' events are kept), once with each event inserted as it is published and
    once with the held connections keeping them (no other shortcut): the same event log,
    event for event in id order, nothing left kept by the day's last polls."""
    logs = []
    for held in (False, True):
        db = await _fresh_db(pg_server_uri)
        try:
            clock = FrozenClock(datetime.combine(DAY, time(14, 20), tzinfo=SEOUL))
            market = SimMarket(SEED, n_symbols=SYMBOLS, clock=clock,
                               session_close=time(14, 40))
            run = await run_worker_day(market, clock, db, _env(), quiet_holds=False,
                                       shared_reads=False, day_controls=False,
                                       held_connections=held, quiet_scans=False,
                                       bare_reads=False, step_scans=False)
            logs.append([(r["event_type"], r["worker_id"], r["symbol"])
                         for r in await fetch_events(db.pool)])
            assert (run.events_deferred > 0) is held
        finally:
            await db.close()
    unkept, kept = logs
    assert kept == unkept


async def test_events_wait_for_a_statement_that_names_them_or_a_block(pg_server_uri
                                                                     ) -> None:  # noqa: ANN001
    """A statement that cannot see the events table leaves them kept; one that names it,
    or a block of statements, finds them stored, and an event a store inserts comes after."""
    db = await _fresh_db(pg_server_uri)
    held = HeldConnections(db.pool)
    try:
        deferred = DeferredEvents()
        held.deferred = [deferred]
        sink = PostgresEventSink(SimpleNamespace(pool=held))
        deferred.watch(sink)
        await sink.publish(_started("w-1"))
        await held.fetchval("SELECT count(*) FROM workers")      # cannot see the events
        assert len(deferred.pending) == 1 and deferred.statements == 0
        assert await held.fetchval("SELECT count(*) FROM events") == 1   # names them
        assert deferred.pending == [] and deferred.statements == 1

        await sink.publish(_started("w-2"))
        async with held.acquire() as conn:                        # a block: stored first
            assert deferred.pending == []
            assert await conn.fetchval("SELECT count(*) FROM events") == 2
        await sink.publish(_started("w-3"))
        await held.execute("SELECT 1")
        await append_events(held, [_started("w-4")])              # a store's own insert
        assert [r["worker_id"] for r in await fetch_events(db.pool)] == [
            "w-1", "w-2", "w-3", "w-4"]                           # ids in publish order
        await held.release_all()
    finally:
        await close_unless_held(db)
