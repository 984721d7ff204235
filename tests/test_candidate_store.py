"""One scan's rows go to ``candidates`` as one ``jsonb`` parameter
(``adapters.postgres.candidate_store``); what is stored must be what the earlier statement
(ten arrays into ``unnest``, kept here as the reference) stored, value for value and text for
text, in the same order, with ``scanned_at`` the statement's ``now()``."""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal

from tradefleet.adapters.postgres.candidate_store import PostgresCandidateStore
from tradefleet.adapters.postgres.database import Database
from tradefleet.ports.candidate_store import CandidateRow

DAY = date(2026, 3, 2)
BIG = 2**63 - 1                                    # BIGINT's largest
ROWS = [   # every column's edges: NULL spread, extreme money, numeric(8,4) bounds and rounding
    CandidateRow("000001", 1, 0, 0, Decimal("0"), None, True, (), {}, False),
    CandidateRow("005930", BIG, BIG, BIG, Decimal("9999.9999"), 0, True, (),
                 {"sma_short": 71234.56789, "sma_long": 1e-7, "prior_high": 72000}, True),
    CandidateRow("A12345", 72_000, 123_456, 8_888_832_000, Decimal("-9999.9999"),
                 2**31 - 1, False, ("min_volume", "max_spread"),
                 {"note": "한글 \"quoted\" \\ back\n\t,{}", "none": None,
                  "list": [1, 2.5, "x", None], "nested": {"deep": [True, False]},
                  "키": 1.0, "e": 1e300, "tiny": 5e-324, "neg0": -0.0}, False),
    CandidateRow("ZZZZZZ", 2, 1, 2, Decimal("1.5"), 3, False, ("strategy",),
                 {"big": BIG, "neg": -0.0, "huge": 10**30}, True),
    CandidateRow("B00001", 3, 4, 5, Decimal("1.23455"), 7, False, ("a b", "c\"d", "", "e"),
                 {"x": 0.1 + 0.2}, False),                    # rounds to 1.2346
    CandidateRow("B00002", 3, 4, 5, Decimal("-0.00005"), 1, True, (), {"y": -1.5}, True),
    CandidateRow("B00003", 3, 4, 5, Decimal("1E+1"), 1, True, (), {}, False),
    CandidateRow("B00004", 3, 4, 5, Decimal("-0.00"), None, True, ("x",), {"z": "é"}, False),
]
COLUMNS = """worker_id, trading_day, symbol, price, volume, traded_value, change_rate,
             change_rate::text AS change_rate_text, spread_ticks, passed_filters, rejected_by,
             indicators, indicators::text AS indicators_text, signal, strategy_name,
             strategy_version, param_version"""

UNNEST = """
INSERT INTO candidates (scan_id, worker_id, trading_day, symbol, price, volume, traded_value,
    change_rate, spread_ticks, passed_filters, rejected_by, indicators, signal,
    strategy_name, strategy_version, param_version)
SELECT $1, $2, $3, u.symbol, u.price, u.volume, u.traded_value, u.change_rate, u.spread_ticks,
    u.passed, string_to_array(u.rejected, ','), u.indicators::jsonb, u.signal, $4, $5, $6
FROM unnest($7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::numeric[],
            $12::int[], $13::bool[], $14::text[], $15::text[], $16::bool[])
     AS u(symbol, price, volume, traded_value, change_rate, spread_ticks, passed, rejected,
          indicators, signal)
"""


async def _register(db: Database, worker: str) -> None:
    await db.pool.execute(
        "INSERT INTO workers (worker_id, pid, host, mode, status, lock_ttl_seconds) "
        "VALUES ($1, 1, 'test', 'sim', 'SCAN', 30)", worker)


async def _reference(db: Database, scan_id: uuid.UUID, rows: list[CandidateRow]) -> None:
    """The statement the store used before (issue 21): ten arrays into ``unnest``."""
    await db.pool.execute(
        UNNEST, scan_id, "w-1", DAY, "ma_breakout", "1.0.0", "p-7",
        [r.symbol for r in rows], [r.price for r in rows], [r.volume for r in rows],
        [r.traded_value for r in rows], [r.change_rate for r in rows],
        [r.spread_ticks for r in rows], [r.passed_filters for r in rows],
        [",".join(r.rejected_by) for r in rows],
        [json.dumps(r.indicators) for r in rows], [r.signal for r in rows])


async def _rows(db: Database, scan_id: uuid.UUID) -> list[dict]:
    return [dict(r) for r in await db.pool.fetch(
        f"SELECT {COLUMNS} FROM candidates WHERE scan_id = $1 ORDER BY candidate_id",
        scan_id)]


async def test_a_scan_stores_what_the_unnest_statement_stored(db: Database) -> None:
    await _register(db, "w-1")
    theirs, ours = uuid.uuid4(), uuid.uuid4()
    await _reference(db, theirs, ROWS)
    saved = await PostgresCandidateStore(db).save_scan(
        scan_id=ours, worker_id="w-1", trading_day=DAY, strategy_name="ma_breakout",
        strategy_version="1.0.0", param_version="p-7", rows=ROWS)
    assert saved == len(ROWS)
    expected, got = await _rows(db, theirs), await _rows(db, ours)
    assert [r["symbol"] for r in got] == [r.symbol for r in ROWS]      # the rows' order
    assert got == expected
    assert [r["rejected_by"] for r in got] == [list(r.rejected_by) for r in ROWS]
    assert [r["spread_ticks"] for r in got] == [r.spread_ticks for r in ROWS]


async def test_a_scan_is_one_statement_stamped_with_its_now(db: Database) -> None:
    await _register(db, "w-1")
    scan_id = uuid.uuid4()
    before = await db.pool.fetchval("SELECT now()")
    await PostgresCandidateStore(db).save_scan(
        scan_id=scan_id, worker_id="w-1", trading_day=DAY, strategy_name="s",
        strategy_version="1", param_version="p", rows=ROWS)
    after = await db.pool.fetchval("SELECT now()")
    stamps = await db.pool.fetch(
        "SELECT DISTINCT scanned_at FROM candidates WHERE scan_id = $1", scan_id)
    assert len(stamps) == 1 and before <= stamps[0]["scanned_at"] <= after


async def test_an_empty_scan_writes_nothing(db: Database) -> None:
    assert await PostgresCandidateStore(db).save_scan(
        scan_id=uuid.uuid4(), worker_id="w-none", trading_day=DAY, strategy_name="s",
        strategy_version="1", param_version="p", rows=[]) == 0
    assert await db.pool.fetchval("SELECT count(*) FROM candidates") == 0
