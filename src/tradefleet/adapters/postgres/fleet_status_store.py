"""The operator's read model of the fleet: one round trip per worker for its row, holdings,
day summary and controls, judged by the database clock. Read-only."""

from __future__ import annotations

from datetime import date

from tradefleet.adapters.postgres.database import Database
from tradefleet.ports.fleet_status import WorkerHoldings, WorkerState
from tradefleet.ports.worker_controls import WorkerControls

_STATE = """
SELECT w.worker_id IS NOT NULL AS registered, w.status, w.epoch, w.current_symbol, w.feed_mode,
       w.heartbeat_at, EXTRACT(EPOCH FROM now() - w.heartbeat_at)::float8 AS heartbeat_age,
       w.lock_ttl_seconds, w.buy_blocked, w.stopped_at,
       EXTRACT(EPOCH FROM now() - w.stopped_at)::float8 AS stopped_age,
       (w.status = 'EXIT' AND w.stopped_at
           >= w.heartbeat_at + make_interval(secs => w.lock_ttl_seconds)) AS reclaimed,
       (w.status <> 'EXIT'
        AND w.heartbeat_at >= now() - make_interval(secs => w.lock_ttl_seconds)) AS live,
       (SELECT count(*) FROM positions p
         WHERE p.worker_id = $1 AND p.status = 'OPEN') AS open_positions,
       (SELECT coalesce(sum(p.qty), 0) FROM positions p
         WHERE p.worker_id = $1 AND p.status = 'OPEN') AS held_qty,
       (SELECT count(*) FROM stock_locks l WHERE l.worker_id = $1) AS locks,
       (SELECT count(*) FROM orders o WHERE o.worker_id = $1
           AND o.status IN ('NEW', 'SENT', 'UNKNOWN', 'PARTIALLY_FILLED')) AS open_orders,
       s.realized_pnl, s.trades_count,
       c.buy_paused, c.liquidate_requested_at, c.liquidate_requested_by
  FROM (SELECT $1::text AS id) AS asked
  LEFT JOIN workers w ON w.worker_id = asked.id
  LEFT JOIN daily_summaries s ON s.worker_id = asked.id AND s.trading_day = $2
  LEFT JOIN worker_controls c ON c.worker_id = asked.id
"""

_HOLDINGS = """
WITH ids AS (
    SELECT worker_id FROM positions WHERE status = 'OPEN'
    UNION SELECT worker_id FROM stock_locks
    UNION SELECT worker_id FROM orders
     WHERE status IN ('NEW', 'SENT', 'UNKNOWN', 'PARTIALLY_FILLED')
)
SELECT ids.worker_id,
       (SELECT count(*) FROM positions p WHERE p.worker_id = ids.worker_id
           AND p.status = 'OPEN') AS open_positions,
       (SELECT coalesce(sum(p.qty), 0) FROM positions p WHERE p.worker_id = ids.worker_id
           AND p.status = 'OPEN') AS held_qty,
       (SELECT count(*) FROM stock_locks l WHERE l.worker_id = ids.worker_id) AS locks,
       (SELECT count(*) FROM orders o WHERE o.worker_id = ids.worker_id
           AND o.status IN ('NEW', 'SENT', 'UNKNOWN', 'PARTIALLY_FILLED')) AS open_orders
  FROM ids
 WHERE $1::text[] IS NULL OR ids.worker_id = ANY($1::text[])
"""


def _holdings(row) -> WorkerHoldings:  # noqa: ANN001 - asyncpg Record
    return WorkerHoldings(open_positions=row["open_positions"], held_qty=int(row["held_qty"]),
                          locks=row["locks"], open_orders=row["open_orders"])


class PostgresFleetStatusStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def worker_state(self, worker_id: str, trading_day: date) -> WorkerState:
        r = await self._db.pool.fetchrow(_STATE, worker_id, trading_day)
        controls = WorkerControls(
            buy_paused=bool(r["buy_paused"]),
            liquidate_requested_at=r["liquidate_requested_at"],
            liquidate_requested_by=r["liquidate_requested_by"])
        if not r["registered"]:
            return WorkerState(worker_id, registered=False, controls=controls)
        return WorkerState(
            worker_id, registered=True, status=r["status"], epoch=r["epoch"],
            current_symbol=r["current_symbol"], heartbeat_at=r["heartbeat_at"],
            heartbeat_age_seconds=r["heartbeat_age"], lock_ttl_seconds=r["lock_ttl_seconds"],
            live=bool(r["live"]), buy_blocked=r["buy_blocked"], stopped_at=r["stopped_at"],
            stopped_age_seconds=r["stopped_age"], reclaimed=bool(r["reclaimed"]),
            holdings=_holdings(r), realized_pnl_today=int(r["realized_pnl"] or 0),
            trades_today=int(r["trades_count"] or 0), controls=controls,
            feed_mode=r["feed_mode"])

    async def holdings(self, worker_ids: list[str] | None) -> dict[str, WorkerHoldings]:
        """Workers (all, or those listed) that still hold anything, and what they hold."""
        rows = await self._db.pool.fetch(_HOLDINGS, worker_ids)
        return {r["worker_id"]: _holdings(r) for r in rows}
