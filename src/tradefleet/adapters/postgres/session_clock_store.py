"""Which simulated clock a day's session ran on (so reports can plot session time)."""

from __future__ import annotations

import json
from datetime import date

from tradefleet.adapters.clock import SimClock
from tradefleet.adapters.postgres.database import Database


async def save_session_clock(db: Database, trading_day: date, clock: SimClock) -> None:
    await db.pool.execute(
        """INSERT INTO session_clocks (trading_day, clock) VALUES ($1, $2)
           ON CONFLICT (trading_day) DO UPDATE SET clock = EXCLUDED.clock, recorded_at = now()""",
        trading_day, json.loads(clock.to_env()))


async def load_session_clock(db: Database, trading_day: date) -> SimClock | None:
    """The day's session clock, or None for a day traded on the wall clock."""
    value = await db.pool.fetchval(
        "SELECT clock FROM session_clocks WHERE trading_day = $1", trading_day)
    return None if value is None else SimClock.from_env(json.dumps(value))
