"""What the operator asks of one worker through the database (table ``worker_controls``):
stop buying, and liquidate from a given time of the day on. A worker reads them each poll;
the operator writes them. No row means nothing was asked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from tradefleet.domain.calendar import SEOUL


@dataclass(frozen=True, slots=True)
class WorkerControls:
    buy_paused: bool = False
    liquidate_requested_at: datetime | None = None
    liquidate_requested_by: str | None = None

    def liquidate_from(self, trading_day: date) -> datetime | None:
        """The requested liquidation time when it was asked for ``trading_day`` (judged in the
        request's own zone, Asia/Seoul as written), else None: yesterday's order is not today's."""
        at = self.liquidate_requested_at
        if at is None:
            return None
        return at if at.astimezone(SEOUL).date() == trading_day else None


class WorkerControlsStore(Protocol):
    async def read(self, worker_id: str) -> WorkerControls: ...

    async def set_paused(self, worker_id: str, paused: bool) -> bool: ...

    async def request_liquidation(self, worker_id: str, at: datetime, by: str) -> bool: ...

    async def clear(self, worker_id: str) -> None: ...
