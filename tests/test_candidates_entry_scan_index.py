"""Migration 0020: the scan row behind a closed trade's entry (``position_store.ENTRY_SCAN``)
is found through ``candidates_worker_symbol_day_time``, one descent to the newest row of
the worker and symbol, not by reading every candidate row the worker wrote (issue 21,
speed: 0.68 ms a trade on a replayed fleet-day before). The planner is asked on a seeded
table with no statistics (as a replayed day's database is: its tables are filled during
the day and never analyzed) and again after an ANALYZE (as a live database gets)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import asyncpg

from tradefleet.adapters.postgres.database import database_dsn
from tradefleet.adapters.postgres.position_store import ENTRY_SCAN
from tradefleet.replay.backtest import BacktestDatabases

INDEX = "candidates_worker_symbol_day_time"
DAY = date(2026, 3, 2)
OPEN = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)     # 09:00 in Seoul
SCANS, SYMBOLS = 200, 50

SEED = """
INSERT INTO candidates (scan_id, worker_id, trading_day, symbol, price, volume, traded_value,
                        change_rate, passed_filters, indicators, signal, strategy_name,
                        strategy_version, param_version, scanned_at)
SELECT gen_random_uuid(), w, $1, lpad(s::text, 6, '0'), 1000, 1, 1000, 0, true,
       jsonb_build_object('scan', i), false, 'ma_breakout', '1', '0',
       $2::timestamptz + i * interval '5 seconds'
  FROM unnest(ARRAY['w-a', 'w-b']) AS w, generate_series(1, $3) AS i,
       generate_series(1, $4) AS s
"""


def _nodes(plan: dict) -> list[dict]:
    return [plan, *(n for child in plan.get("Plans", ()) for n in _nodes(child))]


async def _seed(conn: asyncpg.Connection) -> None:
    for worker in ("w-a", "w-b"):
        await conn.execute(
            "INSERT INTO workers (worker_id, pid, host, mode, status, lock_ttl_seconds) "
            "VALUES ($1, 1, 'test', 'sim', 'SCAN', 30)", worker)
    await conn.execute(SEED, DAY, OPEN, SCANS, SYMBOLS)


async def _plan(conn: asyncpg.Connection, entry_at: datetime) -> list[dict]:
    raw = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {ENTRY_SCAN}",
                              "w-a", "000007", DAY, entry_at)
    return _nodes((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"])


async def test_entry_scan_is_one_index_descent_with_and_without_statistics(
        pg_dsn: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        await _seed(conn)
        entry_at = OPEN + timedelta(seconds=5 * 150 + 2)     # just after scan 150
        for analyzed in (False, True):
            if analyzed:
                await conn.execute("ANALYZE candidates")
            nodes = await _plan(conn, entry_at)
            scans = [n for n in nodes if n.get("Index Name")]
            assert [n["Index Name"] for n in scans] == [INDEX], (analyzed, nodes)
            cond = scans[0].get("Index Cond", "")
            assert "symbol" in cond and "worker_id" in cond, (analyzed, cond)
            assert not any(n["Node Type"] == "Sort" for n in nodes), (analyzed, nodes)
            row = await conn.fetchrow(ENTRY_SCAN, "w-a", "000007", DAY, entry_at)
            assert json.loads(row["indicators"]) == {"scan": 150}  # the newest at or before
    finally:
        await conn.close()


async def test_backtest_days_have_the_index(pg_server_uri: str) -> None:
    """A replayed day's database is a clone of the backtest's template
    (``BacktestDatabases.prepare``: migrated, then made unlogged): the index is there, in
    place of ``candidates_worker_time`` (no other index added to the scans' inserts, and
    the two that no statement reads dropped)."""
    databases = BacktestDatabases(pg_server_uri)
    try:
        await databases.prepare()
        conn = await asyncpg.connect(database_dsn(pg_server_uri, databases.template))
        try:
            assert await conn.fetchval(
                "SELECT indexdef FROM pg_indexes WHERE indexname = $1", INDEX) is not None
        finally:
            await conn.close()
        async with databases.for_day(DAY) as db:
            definition = await db.pool.fetchval(
                "SELECT indexdef FROM pg_indexes WHERE indexname = $1", INDEX)
            assert definition is not None
            assert "(worker_id, symbol, trading_day, scanned_at)" in definition
            indexes = {r[0] for r in await db.pool.fetch(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'candidates'")}
            # it replaces (worker_id, scanned_at): every scan's insert pays for each index;
            # the day's template keeps no other (replay.unread_candidate_indexes)
            assert indexes == {INDEX}, indexes
    finally:
        await databases.drop()
