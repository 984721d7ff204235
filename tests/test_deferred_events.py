"""The replay's deferred events (``replay.deferred_events``): what a worker's sink
publishes is stored before the next statement on the day's held connections, in the order
published and with one INSERT, its log line and metrics heard at once; a step ends with its
events stored. (The parity test, ``test_replay_runner``, replays with it against the
simulated day without.)"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

from tests.test_held_connections import close_unless_held
from tests.test_replay_runner import _fresh_db

from tradefleet.adapters.clock import SEOUL
from tradefleet.adapters.postgres.event_sink import PostgresEventSink
from tradefleet.adapters.postgres.event_store import append_events, fetch_events
from tradefleet.domain.events import WorkerStartedEvent
from tradefleet.replay.deferred_events import DeferredEvents
from tradefleet.replay.held_connections import HeldConnections
from tradefleet.replay.runner import _step_fleet


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
        held.deferred = deferred
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


class _Held:
    def __init__(self) -> None:
        self.flushes = 0

    async def flush(self) -> None:
        self.flushes += 1


async def test_a_step_ends_with_its_events_stored() -> None:
    async def nothing() -> None:
        return None

    class _Beats:
        async def keep(self, worker: object) -> None:
            return None

    cycle = SimpleNamespace(reconcile=nothing, poll=nothing)
    held = _Held()
    at = datetime(2026, 11, 24, 10, 0, tzinfo=SEOUL)
    await _step_fleet(at, [object()], [cycle], _Beats(), None, held)  # type: ignore[arg-type]
    await _step_fleet(at + timedelta(seconds=5), [object()], [cycle], _Beats(), None,
                      held)  # type: ignore[arg-type]
    assert held.flushes == 2


async def test_events_wait_for_a_statement_that_names_them_or_a_block(pg_server_uri
                                                                     ) -> None:  # noqa: ANN001
    """A statement that cannot see the events table leaves them kept; one that names it,
    or a block of statements, finds them stored, and an event a store inserts comes after."""
    db = await _fresh_db(pg_server_uri)
    held = HeldConnections(db.pool)
    try:
        deferred = DeferredEvents()
        held.deferred = deferred
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
