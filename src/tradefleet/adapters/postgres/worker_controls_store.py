"""``worker_controls``: the operator's orders to a worker (pause buying, liquidate from a time
on), written by the operator and read by the worker on every poll. Each write is one
idempotent statement that says whether it changed anything, so a level-triggered operator
can repeat it on every pass without rewriting the row."""

from __future__ import annotations

from datetime import datetime

from tradefleet.adapters.postgres.database import Database
from tradefleet.ports.worker_controls import WorkerControls

_SET_PAUSED = """
INSERT INTO worker_controls AS c (worker_id, buy_paused) VALUES ($1, $2)
ON CONFLICT (worker_id) DO UPDATE SET buy_paused = EXCLUDED.buy_paused, updated_at = now()
 WHERE c.buy_paused IS DISTINCT FROM EXCLUDED.buy_paused
RETURNING worker_id
"""

# A request stands until the day is over; an earlier time of the same day wins (never later).
_REQUEST = """
INSERT INTO worker_controls AS c (worker_id, liquidate_requested_at, liquidate_requested_by)
VALUES ($1, $2, $3)
ON CONFLICT (worker_id) DO UPDATE
   SET liquidate_requested_at = EXCLUDED.liquidate_requested_at,
       liquidate_requested_by = EXCLUDED.liquidate_requested_by, updated_at = now()
 WHERE c.liquidate_requested_at IS NULL
    OR (c.liquidate_requested_at AT TIME ZONE 'Asia/Seoul')::date
       <> (EXCLUDED.liquidate_requested_at AT TIME ZONE 'Asia/Seoul')::date
    OR EXCLUDED.liquidate_requested_at < c.liquidate_requested_at
RETURNING worker_id
"""


class PostgresWorkerControls:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def read(self, worker_id: str) -> WorkerControls:
        return await read_controls(self._db.pool, worker_id)

    async def set_paused(self, worker_id: str, paused: bool) -> bool:
        """True when this call changed the row."""
        return await self._db.pool.fetchval(_SET_PAUSED, worker_id, paused) is not None

    async def request_liquidation(self, worker_id: str, at: datetime, by: str) -> bool:
        """Ask ``worker_id`` to liquidate from ``at`` (tz-aware) on; True when this call
        changed the row (a first request of the day, or an earlier time)."""
        if at.tzinfo is None:
            raise ValueError("at: must be timezone-aware")
        return await self._db.pool.fetchval(_REQUEST, worker_id, at, by) is not None

    async def clear(self, worker_id: str) -> None:
        """Forget what was asked of a worker whose TradingWorker is gone (a new one of the same
        name starts with a clean slate)."""
        await self._db.pool.execute("DELETE FROM worker_controls WHERE worker_id = $1",
                                    worker_id)


async def read_controls(pool, worker_id: str) -> WorkerControls:  # noqa: ANN001 - asyncpg pool
    row = await pool.fetchrow(
        """SELECT buy_paused, liquidate_requested_at, liquidate_requested_by
             FROM worker_controls WHERE worker_id = $1""", worker_id)
    return WorkerControls() if row is None else WorkerControls(**dict(row))
