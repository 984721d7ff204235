"""``liquidation_runs``: a schedule's run of a day is inserted once (the primary key decides
between two operator replicas or a restart), then completed by the check after the close."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from tradefleet.adapters.postgres.database import Database
from tradefleet.ports.liquidation_runs import LiquidationRun

_COLUMNS = ("schedule, trading_day, run_at, fired_at, workers, orphans_sold, checked_at, flat, "
            "detail")


def _run(row) -> LiquidationRun | None:  # noqa: ANN001 - asyncpg Record
    if row is None:
        return None
    data = dict(row)
    data["workers"] = tuple(data["workers"])
    return LiquidationRun(**data)


class PostgresLiquidationRuns:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, schedule: str, trading_day: date) -> LiquidationRun | None:
        return _run(await self._db.pool.fetchrow(
            f"SELECT {_COLUMNS} FROM liquidation_runs WHERE schedule = $1 AND trading_day = $2",
            schedule, trading_day))

    async def latest(self, schedule: str) -> LiquidationRun | None:
        return _run(await self._db.pool.fetchrow(
            f"SELECT {_COLUMNS} FROM liquidation_runs WHERE schedule = $1 "
            "ORDER BY trading_day DESC LIMIT 1", schedule))

    async def record_fired(self, schedule: str, trading_day: date, run_at: datetime,
                           fired_at: datetime, workers: list[str]) -> LiquidationRun:
        """The day's run; an existing one (fired by another replica) is returned as it is."""
        await self._db.pool.execute(
            """INSERT INTO liquidation_runs (schedule, trading_day, run_at, fired_at, workers)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (schedule, trading_day) DO NOTHING""",
            schedule, trading_day, run_at, fired_at, workers)
        run = await self.get(schedule, trading_day)
        assert run is not None
        return run

    async def record_check(self, schedule: str, trading_day: date, checked_at: datetime,
                           flat: bool, detail: dict[str, Any]) -> None:
        await self._db.pool.execute(
            """UPDATE liquidation_runs SET checked_at = $3, flat = $4, detail = $5
                WHERE schedule = $1 AND trading_day = $2""",
            schedule, trading_day, checked_at, flat, detail)

    async def add_orphans_sold(self, schedule: str, trading_day: date, count: int) -> None:
        await self._db.pool.execute(
            """UPDATE liquidation_runs SET orphans_sold = orphans_sold + $3
                WHERE schedule = $1 AND trading_day = $2""", schedule, trading_day, count)
