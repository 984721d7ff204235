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
from tradefleet.adapters.postgres.event_store import fetch_events
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
