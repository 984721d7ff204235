"""Worker rows: registration bumps the epoch, so a paused older process of the same worker id
(a zombie) can neither heartbeat nor change state once a newer one has registered."""

from __future__ import annotations

from datetime import date

from tradefleet.adapters.postgres.database import Database
from tradefleet.domain.events import Event, StateTransitionedEvent, WorkerStoppedEvent
from tradefleet.domain.states import WorkerStatus
from tradefleet.ports.lock_store import WorkerRow

_REGISTER = """
INSERT INTO workers (worker_id, pid, host, mode, status, lock_ttl_seconds, epoch)
VALUES ($1, $2, $3, $4, 'IDLE', $5, 1)
ON CONFLICT (worker_id) DO UPDATE SET
    pid = EXCLUDED.pid, host = EXCLUDED.host, mode = EXCLUDED.mode, status = 'IDLE',
    current_symbol = NULL,           -- a new life holds nothing until it takes a position up
    feed_mode = NULL,                -- and has not said yet whether its feed is live
    lock_ttl_seconds = EXCLUDED.lock_ttl_seconds, epoch = workers.epoch + 1,
    started_at = now(), heartbeat_at = now(), stopped_at = NULL
RETURNING epoch
"""

_STOP = """
WITH stopped AS (
    UPDATE workers w SET status = 'EXIT', stopped_at = now(), current_symbol = NULL
      FROM (SELECT worker_id, status FROM workers WHERE worker_id = $1) AS before
     WHERE w.worker_id = before.worker_id AND w.epoch = $2 AND w.status <> 'EXIT'
    RETURNING w.worker_id, w.pid, before.status AS from_status
), ev AS (
    INSERT INTO events (event_type, worker_id, symbol, payload)
    SELECT kind, worker_id, NULL, payload FROM stopped, LATERAL (VALUES
        (1, 'StateTransitionedEvent', jsonb_build_object(
            'from_status', from_status, 'to_status', 'EXIT', 'reason', $3::text)),
        (2, 'WorkerStoppedEvent', jsonb_build_object(
            'pid', pid, 'status', 'EXIT', 'reason', $3::text))) AS e (n, kind, payload)
     ORDER BY n
)
SELECT pid, from_status FROM stopped
"""

# The compare-and-set and its event in one statement, its own implicit transaction (it took
# four round trips: BEGIN, UPDATE, event, COMMIT): the event is inserted only for a moved
# row, and both commit together, as the pool's default commits them.
_TRANSITION = """
WITH moved AS (
    UPDATE workers SET status = $4,
           current_symbol = CASE WHEN $4 = 'EXIT' THEN NULL ELSE $5 END,
           stopped_at = CASE WHEN $4 = 'EXIT' THEN now() END
     WHERE worker_id = $1 AND epoch = $2 AND status = $3
    RETURNING worker_id
), ev AS (
    INSERT INTO events (event_type, worker_id, symbol, payload)
    SELECT $6::text, $7::text, $8::text, $9::jsonb FROM moved
)
SELECT EXISTS (SELECT 1 FROM moved)
"""


class PostgresWorkerStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def register(self, worker_id: str, *, pid: int, host: str, mode: str,
                       lock_ttl_seconds: int) -> int:
        return await self._db.pool.fetchval(_REGISTER, worker_id, pid, host, mode,
                                            lock_ttl_seconds)

    async def open_day(self, worker_id: str, trading_day: date) -> None:
        """The day's summary row exists from the start, even for a worker that never trades."""
        await self._db.pool.execute(
            """INSERT INTO daily_summaries (trading_day, worker_id) VALUES ($1, $2)
               ON CONFLICT (trading_day, worker_id) DO NOTHING""", trading_day, worker_id)

    async def get(self, worker_id: str) -> WorkerRow | None:
        row = await self._db.pool.fetchrow(
            """SELECT worker_id, pid, host, mode, status, current_symbol, epoch,
                      lock_ttl_seconds, buy_blocked, started_at, heartbeat_at
                 FROM workers WHERE worker_id = $1""", worker_id)
        if row is None:
            return None
        data = dict(row)
        data["status"] = WorkerStatus(data["status"])
        return WorkerRow(**data)

    async def transition(self, worker_id: str, epoch: int, current: WorkerStatus,
                         target: WorkerStatus, current_symbol: str | None,
                         event: Event) -> bool:
        """Compare-and-set on (epoch, status): false when the row moved under us."""
        return await self._db.pool.fetchval(
            _TRANSITION, worker_id, epoch, current.value, target.value, current_symbol,
            event.event_type, event.worker_id, event.symbol, event.payload())

    async def set_buy_blocked(self, worker_id: str, reason: str | None) -> None:
        await self._db.pool.execute(
            "UPDATE workers SET buy_blocked = $2 WHERE worker_id = $1", worker_id, reason)

    async def stop(self, worker_id: str, epoch: int, reason: str) -> list[Event]:
        """EXIT + stopped_at, the transition to EXIT and the WorkerStoppedEvent in one
        statement; no events if this epoch is fenced (or already stopped)."""
        row = await self._db.pool.fetchrow(_STOP, worker_id, epoch, reason)
        if row is None:
            return []
        return [StateTransitionedEvent(worker_id=worker_id, from_status=row["from_status"],
                                       to_status=WorkerStatus.EXIT.value, reason=reason),
                WorkerStoppedEvent(worker_id=worker_id, pid=row["pid"], status="EXIT",
                                   reason=reason)]
