"""A backtest's days have no ``candidates`` -> ``workers`` foreign key and check it once, at
the day's end (``replay.candidate_owners``, ``replay.day_database``); a migrated (live)
database keeps the key; the rows a scan writes are the same in both, value for value."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import asyncpg
import pytest

from tradefleet.adapters.postgres.candidate_store import PostgresCandidateStore
from tradefleet.adapters.postgres.database import Database, database_dsn
from tradefleet.ports.candidate_store import CandidateRow
from tradefleet.replay.backtest import BacktestDatabases
from tradefleet.replay.candidate_owners import OWNER_KEYS, OrphanCandidates

DAY = date(2026, 3, 2)
BIG = 2**63 - 1                                    # BIGINT's largest
ROWS = [   # the edges of every column: NULL spread, extreme money, numeric(8,4) bounds, ...
    CandidateRow("000001", 1, 0, 0, Decimal("0"), None, True, (), {}, False),
    CandidateRow("005930", BIG, BIG, BIG, Decimal("9999.9999"), 0, True, (),
                 {"sma_short": 71234.56789, "sma_long": 1e-7, "prior_high": 72000},
                 True),
    CandidateRow("A12345", 72_000, 123_456, 8_888_832_000, Decimal("-9999.9999"),
                 2**31 - 1, False, ("min_volume", "max_spread"),
                 {"note": "한글 \"quoted\" \\ back", "none": None, "list": [1, 2.5, "x"],
                  "nested": {"deep": [True, False]}}, False),
    CandidateRow("ZZZZZZ", 2, 1, 2, Decimal("1.5"), 3, False, ("strategy",),
                 {"big": BIG, "neg": -0.0}, True),
]
COLUMNS = """candidate_id, scan_id, worker_id, trading_day, symbol, price, volume,
             traded_value, change_rate, spread_ticks, passed_filters, rejected_by,
             indicators, signal, strategy_name, strategy_version, param_version"""


async def _register(db: Database, worker: str) -> None:
    await db.pool.execute(
        "INSERT INTO workers (worker_id, pid, host, mode, status, lock_ttl_seconds) "
        "VALUES ($1, 1, 'test', 'sim', 'SCAN', 30)", worker)


async def _scan(db: Database, worker: str, scan_id: uuid.UUID,
                rows: list[CandidateRow] = ROWS) -> int:
    return await PostgresCandidateStore(db).save_scan(
        scan_id=scan_id, worker_id=worker, trading_day=DAY, strategy_name="ma_breakout",
        strategy_version="1.0.0", param_version="p-7", rows=rows)


async def _rows(db: Database) -> list[tuple]:
    return [tuple(r) for r in await db.pool.fetch(
        f"SELECT {COLUMNS}, scanned_at FROM candidates ORDER BY candidate_id")]


async def test_a_migrated_database_keeps_the_owner_key(db: Database) -> None:
    """Live: the key is there, and refuses a scan of a worker that never registered."""
    assert len(await db.pool.fetch(OWNER_KEYS)) == 1
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await _scan(db, "w-ghost", uuid.uuid4())
    await _register(db, "w-1")
    assert await _scan(db, "w-1", uuid.uuid4()) == len(ROWS)


async def test_a_backtest_day_checks_its_candidates_owners_at_its_end(
        pg_server_uri: str) -> None:
    databases = BacktestDatabases(pg_server_uri)
    try:
        await databases.prepare()
        conn = await asyncpg.connect(database_dsn(pg_server_uri, databases.template))
        try:
            assert await conn.fetch(OWNER_KEYS) == []
        finally:
            await conn.close()
        async with databases.for_day(DAY) as db:          # a correct day ends quietly
            await _register(db, "w-1")
            await _register(db, "w-2")
            await _scan(db, "w-1", uuid.uuid4())
            await _scan(db, "w-2", uuid.uuid4())
        with pytest.raises(OrphanCandidates, match="'w-ghost' \\(4 rows\\)"):
            async with databases.for_day(date(2026, 3, 3)) as db:
                await _register(db, "w-1")
                await _scan(db, "w-1", uuid.uuid4())
                assert await _scan(db, "w-ghost", uuid.uuid4()) == len(ROWS)  # no key
        with pytest.raises(KeyError):                     # a failed day keeps its error
            async with databases.for_day(date(2026, 3, 4)) as db:
                await _scan(db, "w-ghost", uuid.uuid4())
                raise KeyError("the day's own failure")
    finally:
        await databases.drop()


async def test_a_scan_writes_the_same_rows_live_and_in_a_backtest_day(
        db: Database, pg_server_uri: str) -> None:
    """The same scans into a migrated database and into a backtest's day: every column
    equal (ids, NULLs, money, numeric, arrays, JSON), the times tz-aware in both."""
    scans = [uuid.uuid4(), uuid.uuid4()]
    await _register(db, "w-1")
    for scan in scans:
        await _scan(db, "w-1", scan)
    live = await _rows(db)
    databases = BacktestDatabases(pg_server_uri)
    try:
        await databases.prepare()
        async with databases.for_day(DAY) as day:
            await _register(day, "w-1")
            for scan in scans:
                await _scan(day, "w-1", scan)
            replayed = await _rows(day)
    finally:
        await databases.drop()
    assert len(live) == 2 * len(ROWS)
    assert [r[:-1] for r in replayed] == [r[:-1] for r in live]
    for rows in (live, replayed):
        assert all(isinstance(r[-1], datetime) and r[-1].utcoffset() is not None for r in rows)
        assert [(r[4], r[5], r[8], r[9], r[11], r[13]) for r in rows[:len(ROWS)]] == [
            (c.symbol, c.price, c.change_rate, c.spread_ticks, list(c.rejected_by),
             c.signal) for c in ROWS]
        assert [r[12] for r in rows[:len(ROWS)]] == [c.indicators for c in ROWS]
