"""The store's compare-and-set of a worker's state is one statement with its event (it was
BEGIN, UPDATE, event, COMMIT): the service checks the row first, but a row that moved
between that read and the write (a newer registration, a reclaim, another move) must still
be refused by the store itself, with no event, and a move that lands writes its event once."""

from __future__ import annotations

from tradefleet.adapters.postgres.event_store import fetch_events
from tradefleet.adapters.postgres.worker_store import PostgresWorkerStore
from tradefleet.domain.events import StateTransitionedEvent
from tradefleet.domain.states import WorkerStatus


def _moved(to: WorkerStatus, reason: str) -> StateTransitionedEvent:
    return StateTransitionedEvent(worker_id="wa", symbol="005930", from_status="IDLE",
                                  to_status=to.value, reason=reason)


async def test_the_store_refuses_a_stale_epoch_or_status_and_logs_nothing(db):
    store = PostgresWorkerStore(db)
    old = await store.register("wa", pid=1, host="h", mode="sim", lock_ttl_seconds=5)
    new = await store.register("wa", pid=2, host="h", mode="sim", lock_ttl_seconds=5)
    assert new == old + 1
    assert not await store.transition("wa", old, WorkerStatus.IDLE, WorkerStatus.SCAN, None,
                                      _moved(WorkerStatus.SCAN, "zombie"))
    assert not await store.transition("wa", new, WorkerStatus.HOLD, WorkerStatus.SCAN, None,
                                      _moved(WorkerStatus.SCAN, "stale status"))
    assert await db.pool.fetchval("SELECT status FROM workers") == "IDLE"
    assert await fetch_events(db.pool, "StateTransitionedEvent") == []


async def test_the_store_moves_the_row_and_logs_its_event_once(db):
    store = PostgresWorkerStore(db)
    epoch = await store.register("wa", pid=1, host="h", mode="sim", lock_ttl_seconds=5)
    event = _moved(WorkerStatus.SCAN, "start")
    assert await store.transition("wa", epoch, WorkerStatus.IDLE, WorkerStatus.SCAN, "005930",
                                  event)
    row = await db.pool.fetchrow("SELECT status, current_symbol, stopped_at FROM workers")
    assert (row["status"], row["current_symbol"], row["stopped_at"]) == ("SCAN", "005930", None)
    [stored] = await fetch_events(db.pool, "StateTransitionedEvent")
    assert (stored["worker_id"], stored["symbol"]) == (event.worker_id, event.symbol)
    assert stored["payload"] == event.payload()
    # the same move again finds the row moved: refused, nothing more logged
    assert not await store.transition("wa", epoch, WorkerStatus.IDLE, WorkerStatus.SCAN,
                                      "005930", event)
    assert len(await fetch_events(db.pool, "StateTransitionedEvent")) == 1
    # to EXIT: the symbol is dropped and stopped_at set, as before
    assert await store.transition("wa", epoch, WorkerStatus.SCAN, WorkerStatus.EXIT, "005930",
                                  _moved(WorkerStatus.EXIT, "stop"))
    row = await db.pool.fetchrow("SELECT status, current_symbol, stopped_at FROM workers")
    assert (row["status"], row["current_symbol"]) == ("EXIT", None)
    assert row["stopped_at"] is not None
