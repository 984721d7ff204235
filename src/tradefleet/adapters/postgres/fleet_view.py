"""Read model for the live fleet dashboard: one row per worker, read in one query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tradefleet.adapters.postgres.database import Database

_QUERY = """
SELECT w.worker_id, w.status, w.current_symbol, w.pid,
       p.qty, p.entry_price, l.fencing_token,
       (SELECT (e.payload->>'price')::bigint FROM events e
         WHERE e.worker_id = w.worker_id AND e.event_type = 'MonitoringEvent'
           AND e.symbol = p.symbol
         ORDER BY e.event_id DESC LIMIT 1) AS last_price,
       COALESCE(s.realized_pnl, 0) AS realized_pnl, COALESCE(s.trades_count, 0) AS trades,
       EXTRACT(EPOCH FROM now() - w.heartbeat_at)::float8 AS heartbeat_age
  FROM workers w
  LEFT JOIN positions p ON p.worker_id = w.worker_id AND p.status = 'OPEN'
  LEFT JOIN stock_locks l ON l.worker_id = w.worker_id AND l.symbol = p.symbol
  LEFT JOIN daily_summaries s ON s.worker_id = w.worker_id AND s.trading_day = $1
 WHERE w.worker_id = ANY($2::text[])
 ORDER BY w.worker_id
"""


@dataclass(frozen=True)
class WorkerView:
    worker_id: str
    status: str
    current_symbol: str | None
    pid: int
    qty: int | None
    entry_price: Decimal | None
    fencing_token: int | None
    last_price: int | None
    realized_pnl: int
    trades: int
    heartbeat_age: float

    @property
    def unrealized_pnl(self) -> int | None:
        if not self.qty or self.entry_price is None or self.last_price is None:
            return None
        return int((Decimal(self.last_price) - self.entry_price) * self.qty)


async def fetch_fleet_view(db: Database, trading_day: date, worker_ids: list[str]
                           ) -> list[WorkerView]:
    rows = await db.pool.fetch(_QUERY, trading_day, worker_ids)
    return [WorkerView(**dict(r)) for r in rows]


async def fleet_invariants(db: Database, trading_day: date) -> dict[str, int]:
    """What must be zero at the end of a day: open positions, locks, held symbols."""
    row = await db.pool.fetchrow(
        """SELECT (SELECT count(*) FROM positions WHERE status = 'OPEN') AS open_positions,
                  (SELECT count(*) FROM stock_locks) AS locks,
                  (SELECT count(*) FROM workers WHERE current_symbol IS NOT NULL)
                      AS workers_holding,
                  (SELECT count(*) FROM orders WHERE trading_day = $1 AND status IN
                      ('NEW', 'SENT', 'UNKNOWN', 'PARTIALLY_FILLED')) AS open_orders""",
        trading_day)
    return dict(row)
