"""A backtest's template, and every day cloned from it, has its tables and sequences
UNLOGGED (``replay.unlogged_days``); a migrated database (the live one) stays logged; a
clone keeps the template's rows and persistence; the order keeps every foreign key legal."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest

from tradefleet.adapters.postgres.database import database_dsn
from tradefleet.replay.backtest import BacktestDatabases
from tradefleet.replay.unlogged_days import referencing_first

PERSISTENCE = """
SELECT c.relkind::text AS relkind, c.relpersistence::text AS relpersistence, count(*) AS n
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S', 'i')
 GROUP BY 1, 2 ORDER BY 1, 2
"""


async def _persistence(dsn: str) -> dict[tuple[str, str], int]:
    conn = await asyncpg.connect(dsn)
    try:
        return {(r["relkind"], r["relpersistence"]): r["n"]
                for r in await conn.fetch(PERSISTENCE)}
    finally:
        await conn.close()


async def test_migrated_database_stays_logged(pg_dsn: str) -> None:
    """The live schema as ``migrate`` leaves it: its tables logged (those the migrations
    make UNLOGGED on purpose aside), so nothing live depends on this module."""
    kinds = await _persistence(pg_dsn)
    assert kinds.get(("r", "p"), 0) > 10
    assert kinds.get(("S", "p"), 0) > 3


async def test_backtest_days_are_unlogged_and_keep_the_templates_rows(
        pg_server_uri: str) -> None:
    databases = BacktestDatabases(pg_server_uri)
    try:
        await databases.prepare()
        conn = await asyncpg.connect(database_dsn(pg_server_uri, databases.template))
        try:                    # the template's rows (migrate's), a sequence moved on
            migrations = await conn.fetchval("SELECT count(*) FROM schema_migrations")
            before = await conn.fetchval("SELECT nextval('fencing_token_seq')")
        finally:
            await conn.close()
        kinds = await _persistence(database_dsn(pg_server_uri, databases.template))
        assert kinds.get(("r", "p"), 0) == 0, kinds
        assert kinds.get(("S", "p"), 0) == 0, kinds
        assert kinds.get(("r", "u"), 0) > 10
        async with databases.for_day(date(2026, 3, 2)) as db:
            kinds = {(r["relkind"], r["relpersistence"]): r["n"]
                     for r in await db.pool.fetch(PERSISTENCE)}
            assert kinds.get(("r", "p"), 0) == 0 and kinds.get(("S", "p"), 0) == 0, kinds
            assert migrations > 10
            assert await db.pool.fetchval("SELECT count(*) FROM schema_migrations") \
                == migrations
            assert await db.pool.fetchval("SELECT nextval('fencing_token_seq')") > before
    finally:
        await databases.drop()


def test_referencing_tables_come_first() -> None:
    order = referencing_first({"orders": ["workers"], "z_fills": ["orders"],
                               "workers": [], "events": []})
    assert order.index("z_fills") < order.index("orders") < order.index("workers")
    assert sorted(order) == ["events", "orders", "workers", "z_fills"]
    with pytest.raises(ValueError, match="cycle"):
        referencing_first({"a": ["b"], "b": ["a"]})
