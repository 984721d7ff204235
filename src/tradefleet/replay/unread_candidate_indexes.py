"""Replay-only: a backtest's template has only the ``candidates`` index a replayed day
reads, ``candidates_worker_symbol_day_time`` (issue 21, speed).

Every scan's insert (the costliest statement of a replayed fleet-day: ~2,240 scans of ~100
rows) updates each index of the table. Two are never read by anything in ``tradefleet``:

- ``candidates_pkey`` (``candidate_id``): no statement looks a candidate up, joins or
  filters by its id; ``candidate_id`` stays, numbered by its sequence as before (no
  statement writes it), so it is as unique as it was, and the rows keep it.
- ``candidates_day_signal`` (``trading_day, symbol WHERE signal``): no statement filters
  candidates by day and signal (a partial index: it costs little, but nothing reads it).

The only reads of ``candidates`` are ``position_store.ENTRY_SCAN`` (by worker, symbol, day
and time: the index kept) and ``candidate_owners.check_owners`` at the day's end (every
row); ``tests/test_unread_candidate_indexes.py`` replays a fleet-day on a migrated database
and finds both indexes with no scan (``pg_stat_user_indexes``) while the entry-scan index
has some. A missing index changes what an insert costs, never what a statement returns, so
no trade can differ. Measured (``bench/candidate_insert.py``, 2,241 scans of a fleet-day's
rows): ~0.1 ms of the server's ~0.9 ms per scan, nearly all of it the primary key.

Live never takes this path: only ``BacktestDatabases.prepare`` (a backtest's own template,
like ``replay.unlogged_days`` and ``replay.candidate_owners``) calls it; ``migrate`` is
unchanged and a migrated database keeps both (the test checks it)."""

from __future__ import annotations

from typing import Any

UNREAD = ("candidates_pkey", "candidates_day_signal")

_DROPS = ("ALTER TABLE candidates DROP CONSTRAINT candidates_pkey",
          "DROP INDEX candidates_day_signal")


async def drop_unread_indexes(conn: Any) -> tuple[str, ...]:
    """Drop the ``candidates`` indexes no statement reads from ``conn``'s database (a
    backtest's template only: see the module). Returns their names."""
    for statement in _DROPS:
        await conn.execute(statement)
    return UNREAD
