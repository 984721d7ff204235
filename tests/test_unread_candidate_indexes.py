"""A backtest's template has only the ``candidates`` index a replayed day reads
(``replay.unread_candidate_indexes``); a migrated (live) database keeps all three; and a
replayed fleet-day on a migrated database reads neither of the dropped two (the proof
that dropping them changes no statement's result, only the inserts' cost)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from decimal import Decimal

import asyncpg
from tests.fleet_day_rig import AFTERNOON, tight_fleet
from tests.test_replay_runner import _fresh_db

from tradefleet.adapters.postgres.candidate_store import PostgresCandidateStore
from tradefleet.adapters.postgres.database import Database, database_dsn
from tradefleet.ports.candidate_store import CandidateRow
from tradefleet.replay.backtest import BacktestDatabases
from tradefleet.replay.candidate_owners import check_owners
from tradefleet.replay.runner import replay_fleet_day
from tradefleet.replay.unread_candidate_indexes import UNREAD

ENTRY_INDEX = "candidates_worker_symbol_day_time"
INDEXES = "SELECT indexname FROM pg_indexes WHERE tablename = 'candidates'"
SCANS = """SELECT indexrelname, idx_scan FROM pg_stat_user_indexes
            WHERE relname = 'candidates'"""
DAY = date(2026, 3, 2)


async def _indexes(conn: asyncpg.Connection) -> set[str]:
    return {r[0] for r in await conn.fetch(INDEXES)}


async def test_a_migrated_database_keeps_every_candidates_index(db: Database) -> None:
    async with db.pool.acquire() as conn:
        assert await _indexes(conn) == {*UNREAD, ENTRY_INDEX}


async def test_a_backtest_template_has_only_the_index_a_day_reads(pg_server_uri: str) -> None:
    databases = BacktestDatabases(pg_server_uri)
    try:
        await databases.prepare()
        conn = await asyncpg.connect(database_dsn(pg_server_uri, databases.template))
        try:
            assert await _indexes(conn) == {ENTRY_INDEX}
        finally:
            await conn.close()
        async with databases.for_day(DAY) as db:     # a day's clone: ids still numbered
            await db.pool.execute(
                "INSERT INTO workers (worker_id, pid, host, mode, status, lock_ttl_seconds) "
                "VALUES ('w-1', 1, 'test', 'sim', 'SCAN', 30)")
            row = CandidateRow("005930", 70_000, 1, 70_000, Decimal("0"), 1, True, (), {}, True)
            for _ in range(2):
                await PostgresCandidateStore(db).save_scan(
                    scan_id=uuid.uuid4(), worker_id="w-1", trading_day=DAY, strategy_name="s",
                    strategy_version="1", param_version="p", rows=[row, row])
            ids = [r[0] for r in await db.pool.fetch(
                "SELECT candidate_id FROM candidates ORDER BY candidate_id")]
            assert ids == [1, 2, 3, 4]
    finally:
        await databases.drop()


async def test_a_replayed_fleet_day_reads_neither_dropped_index(
        pg_server_uri: str, fleet_day) -> None:  # noqa: ANN001 - a Path fixture
    db = await _fresh_db(pg_server_uri)                  # migrated: every index there
    async with db.pool.acquire() as conn:
        name = await conn.fetchval("SELECT current_database()")
    try:
        run = await replay_fleet_day(fleet_day, db, tight_fleet(3), start=AFTERNOON)
        async with db.pool.acquire() as conn:
            await check_owners(conn)                     # the day's end reads it too
    finally:
        await db.close()
    assert run.trades                                    # the entry-scan lookup ran
    admin = await asyncpg.connect(pg_server_uri)
    try:   # a backend's index counts reach the statistics by the time it has gone
        for _ in range(600):
            if not await admin.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"backends of {name} still connected")
    finally:
        await admin.close()
    conn = await asyncpg.connect(database_dsn(pg_server_uri, name))
    try:
        scans = {r["indexrelname"]: r["idx_scan"] for r in await conn.fetch(SCANS)}
    finally:
        await conn.close()
    assert scans[ENTRY_INDEX] >= len(run.trades), scans  # the counts do see the reads
    assert {index: scans[index] for index in UNREAD} == {index: 0 for index in UNREAD}, scans
