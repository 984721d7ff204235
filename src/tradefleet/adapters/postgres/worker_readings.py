"""What a worker's gauges show, read from Postgres at scrape time: the rows are the truth
(they survive a restart, and other processes' follow-ups land in them too), and the
heartbeat's age is judged by the database clock, as everything that acts on it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tradefleet.adapters.postgres.database import Database


@dataclass(frozen=True)
class WorkerReadings:
    positions: dict[str, tuple[int, int]]     # symbol -> (shares, value at entry, won)
    realized_pnl_won: int                     # today's closed positions
    heartbeat_age_seconds: float | None       # None: no worker row yet


async def read_worker_readings(db: Database, worker_id: str, day: date) -> WorkerReadings:
    async with db.pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT symbol, sum(qty)::bigint AS shares,
                      round(sum(qty * coalesce(entry_price, 0)))::bigint AS value
                 FROM positions WHERE worker_id = $1 AND status = 'OPEN' AND qty > 0
                GROUP BY symbol""", worker_id)
        pnl = await conn.fetchval(
            """SELECT coalesce(sum(realized_pnl), 0)::bigint FROM positions
                WHERE worker_id = $1 AND trading_day = $2 AND status = 'CLOSED'""",
            worker_id, day)
        age = await conn.fetchval(
            "SELECT EXTRACT(EPOCH FROM now() - heartbeat_at)::float8 FROM workers "
            "WHERE worker_id = $1", worker_id)
    return WorkerReadings({r["symbol"]: (int(r["shares"]), int(r["value"])) for r in rows},
                          int(pnl), None if age is None else float(age))
