"""Which trading day the console shows and how it reads a stored wall time.

A local fleet runs on a compressed session clock (``session_clocks``); the rows carry the
database's wall time, so every time shown is mapped through that clock, in Asia/Seoul. A
fleet on the wall clock (Kubernetes) has no such row and its times are shown as they are."""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime

from tradefleet.adapters.clock import SimClock
from tradefleet.adapters.postgres.database import Database
from tradefleet.domain.calendar import SEOUL, TradingSession

log = logging.getLogger(__name__)

# a session clock recorded this recently is the one being traded now
_CURRENT = """
SELECT trading_day, clock FROM session_clocks
 WHERE recorded_at > now() - interval '1 day'
 ORDER BY recorded_at DESC LIMIT 1
"""


@dataclass(frozen=True)
class SessionDay:
    day: date
    clock: SimClock | None = None

    def shown(self, wall: datetime | None) -> datetime | None:
        """``wall`` (tz-aware, from a row) as the session clock showed it, in Asia/Seoul."""
        if wall is None:
            return None
        if self.clock is not None:
            wall = self.clock.at_real(wall.timestamp())
        return wall.astimezone(SEOUL)

    def now(self) -> datetime:
        """The session's time now: when a liquidation asked now must start."""
        return (self.clock.now() if self.clock is not None else datetime.now(SEOUL))

    @property
    def clock_label(self) -> str:
        return "KST, session clock" if self.clock is not None else "KST"


async def current_day(db: Database, fixed: date | None = None) -> SessionDay:
    row = await db.pool.fetchrow(_CURRENT)
    clock = None if row is None else SimClock.from_env(json.dumps(row["clock"]))
    if fixed is not None:
        return SessionDay(fixed, clock if row is not None and row["trading_day"] == fixed
                          else None)
    if row is not None:
        return SessionDay(row["trading_day"], clock)
    return SessionDay(datetime.now(SEOUL).date())


@functools.lru_cache(maxsize=8)
def session_hours(day: date) -> TradingSession | None:
    """The KRX session of ``day`` (special hours included), for the equity curve's axis;
    None when the calendar cannot tell (the curve then spans its own trades)."""
    try:
        from tradefleet.adapters.calendar_cache import krx_calendar

        return krx_calendar(day).session(day)
    except Exception as exc:  # noqa: BLE001 - an axis is not worth a failed page
        log.warning("no KRX session for %s: %r", day, exc)
        return None
