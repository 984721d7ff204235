"""The per-worker daily summary (SC-011), updated atomically in SQL on the caller's connection
so two closes racing on the same row both count (no read-modify-write in Python)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import asyncpg

from tradefleet.adapters.postgres.database import Database
from tradefleet.domain.events import DailySummaryUpdatedEvent
from tradefleet.domain.pnl import TradePnl

_UPSERT = """
INSERT INTO daily_summaries AS d (trading_day, worker_id, realized_pnl, trades_count, win_count,
                                  loss_count, max_loss, fees, taxes)
VALUES ($1, $2, $3::bigint, 1, ($4::text = 'win')::int, ($4::text = 'loss')::int,
        LEAST($3::bigint, 0), $5::bigint, $6::bigint)
ON CONFLICT (trading_day, worker_id) DO UPDATE SET
    realized_pnl = d.realized_pnl + EXCLUDED.realized_pnl,
    trades_count = d.trades_count + 1,
    win_count    = d.win_count + EXCLUDED.win_count,
    loss_count   = d.loss_count + EXCLUDED.loss_count,
    max_loss     = LEAST(d.max_loss, EXCLUDED.max_loss),
    fees         = d.fees + EXCLUDED.fees,
    taxes        = d.taxes + EXCLUDED.taxes,
    updated_at   = now()
RETURNING realized_pnl, trades_count, win_rate, avg_pnl, max_loss
"""


async def record_trade(conn: asyncpg.Connection, *, trading_day: date, worker_id: str,
                       pnl: TradePnl) -> DailySummaryUpdatedEvent:
    """Count one closed round trip into (trading_day, worker_id)."""
    row = await conn.fetchrow(_UPSERT, trading_day, worker_id, pnl.net, pnl.result, pnl.fees,
                              pnl.taxes)
    return DailySummaryUpdatedEvent(
        worker_id=worker_id, trading_day=trading_day.isoformat(),
        realized_pnl=row["realized_pnl"], trades_count=row["trades_count"],
        win_rate=None if row["win_rate"] is None else str(row["win_rate"]),
        avg_pnl=None if row["avg_pnl"] is None else str(row["avg_pnl"]),
        max_loss=row["max_loss"])


def _note_json(item: dict[str, Any]) -> str:
    """The note as JSON text (what is not JSON, e.g. Decimal, as its str)."""
    return json.dumps(item, default=str)


# One note, one row (migration 0021): no rewrite of the summary's JSON, whose every append
# used to copy the whole day's list. Readers compose it back with daily_tuning(day, worker).
_NOTE = """INSERT INTO daily_tuning_notes (trading_day, worker_id, key, item)
           VALUES ($1, $2, $3, $4::text::jsonb)"""


async def note_trade(conn: asyncpg.Connection, *, trading_day: date, worker_id: str,
                     item: dict[str, Any]) -> None:
    """A closed trade's note (``tuning["trades"]``), in the close's transaction, after
    ``record_trade`` made (or locked) the summary row it belongs to."""
    await conn.execute(_NOTE, trading_day, worker_id, "trades", _note_json(item))


async def append_tuning(conn: asyncpg.Connection | asyncpg.Pool, *, trading_day: date,
                        worker_id: str, key: str, item: dict[str, Any]) -> None:
    """Append ``item`` to the list ``tuning[key]``, making the summary row if the day has
    none yet (a note is only seen through its row), in one statement."""
    await conn.execute(
        """WITH summary AS (
               INSERT INTO daily_summaries AS d (trading_day, worker_id) VALUES ($1, $2)
               ON CONFLICT (trading_day, worker_id) DO UPDATE SET updated_at = now())
           """ + _NOTE,
        trading_day, worker_id, key, _note_json(item))


class PostgresSummaryStore:
    """The daily summary as the services write it (tuning notes)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def append_tuning(self, worker_id: str, trading_day: date, key: str,
                            item: dict[str, Any]) -> None:
        await append_tuning(self._db.pool, trading_day=trading_day, worker_id=worker_id,
                            key=key, item=item)
