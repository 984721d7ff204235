"""One LiquidationSchedule run per session day, kept in Postgres (``liquidation_runs``) so
that it fires once, survives an operator restart, and the schedule's status is derived from
the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class LiquidationRun:
    schedule: str
    trading_day: date
    run_at: datetime
    fired_at: datetime
    workers: tuple[str, ...] = ()
    orphans_sold: int = 0
    checked_at: datetime | None = None
    flat: bool | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class LiquidationRunStore(Protocol):
    async def get(self, schedule: str, trading_day: date) -> LiquidationRun | None: ...

    async def latest(self, schedule: str) -> LiquidationRun | None: ...

    async def record_fired(self, schedule: str, trading_day: date, run_at: datetime,
                           fired_at: datetime, workers: list[str]) -> LiquidationRun: ...

    async def record_check(self, schedule: str, trading_day: date, checked_at: datetime,
                           flat: bool, detail: dict[str, Any]) -> None: ...

    async def add_orphans_sold(self, schedule: str, trading_day: date, count: int) -> None: ...
