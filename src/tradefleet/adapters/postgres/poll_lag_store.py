"""Each worker's poll lag in session time (``poll_lags``), and the fleet's, for whoever sets
the pace of a compressed session (``tradefleet demo``, the chaos bench, bench/scale.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from tradefleet.adapters.postgres.database import Database


@dataclass(frozen=True, slots=True)
class FleetLag:
    recent_max_s: float        # largest poll lag written within the last look-back window
    day_max_s: float           # the day's largest, any worker
    workers: int               # workers that reported within the look-back window
    polls: int                 # polls of the day, all workers


class PostgresPollLagStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, worker_id: str, trading_day: date, *, polls: int,
                     recent_max_lag_s: float, max_lag_s: float, last_poll_at: datetime) -> None:
        await self._db.pool.execute(
            """INSERT INTO poll_lags (worker_id, trading_day, polls, recent_max_lag_s,
                                      max_lag_s, last_poll_at)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (worker_id, trading_day) DO UPDATE
                   SET polls = EXCLUDED.polls, recent_max_lag_s = EXCLUDED.recent_max_lag_s,
                       max_lag_s = EXCLUDED.max_lag_s, last_poll_at = EXCLUDED.last_poll_at,
                       updated_at = now()""",
            worker_id, trading_day, polls, recent_max_lag_s, max_lag_s, last_poll_at)


async def fleet_lag(db: Database, trading_day: date, *, look_back_s: float) -> FleetLag:
    """The fleet's poll lag: recent (rows written within ``look_back_s`` real seconds, by
    the database clock) and over the whole day."""
    row = await db.pool.fetchrow(
        """SELECT coalesce(max(recent_max_lag_s) FILTER (
                      WHERE updated_at > now() - make_interval(secs => $2)), 0) AS recent,
                  coalesce(max(max_lag_s), 0) AS day_max,
                  count(*) FILTER (
                      WHERE updated_at > now() - make_interval(secs => $2)) AS workers,
                  coalesce(sum(polls), 0) AS polls
             FROM poll_lags WHERE trading_day = $1""", trading_day, float(look_back_s))
    return FleetLag(float(row["recent"]), float(row["day_max"]), int(row["workers"]),
                    int(row["polls"]))
