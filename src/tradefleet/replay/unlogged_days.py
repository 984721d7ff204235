"""Replay-only: a backtest's template database (and so every day cloned from it) has its
tables and sequences UNLOGGED (issue 21, speed).

A replayed day's database is scratch: ``replay.backtest`` creates it from the backtest's
template, replays one day on it, and drops it at the end (kept only on request, for a
look). Its writes need no crash safety: if the server stops mid-day, the day fails with an
error whatever its tables are, and is run again from its recording. What WAL buys a live
database (a committed order row survives a crash) buys nothing here, and it is paid on
every statement: each row written is also written to the WAL, and every transaction that
wrote WAL and asks for ``synchronous_commit = on`` waits for a flush to disk (every fenced
order statement asks for it, ``adapters.postgres.fenced_order``: ~3,000 flushes a fleet
day). A transaction that changed only unlogged relations writes no WAL for them and does
not wait for a flush (PostgreSQL commits it as if ``synchronous_commit`` were off), so
this cuts both the server's CPU and the commits' waits.

Why nothing a day reads or writes can differ (the same trades, the same event log):
UNLOGGED changes only how a relation's changes reach disk, not what any statement sees:
rows, MVCC visibility, row and advisory locks, constraints, defaults, sequences (their
next value included) and plans work the same on an unlogged relation. The one thing it
changes is a crash: an unlogged relation is emptied when the server restarts after one,
which a replayed day does not survive anyway (its database is created afresh by the next
run). A clone of the template keeps the template's persistence and rows (``CREATE
DATABASE ... TEMPLATE`` copies every fork; ``tests/test_unlogged_days.py`` checks both).

Live never takes this path: only ``BacktestDatabases.prepare`` (a backtest's own template,
on a name of its own, never the configured database) calls ``make_unlogged``; ``migrate``
itself is unchanged, and ``tests/test_unlogged_days.py`` checks that a migrated database is
logged. Tables are turned in an order that keeps every foreign key legal (a logged table
may not reference an unlogged one: a referencing table goes before the table it
references); sequences owned by a table follow it, the standalone ones are turned too
(``nextval`` of a logged sequence writes WAL, which would bring the flush back)."""

from __future__ import annotations

from typing import Any

TABLES = """
SELECT c.oid::regclass::text AS name,
       coalesce(array_agg(DISTINCT f.confrelid::regclass::text)
                FILTER (WHERE f.confrelid IS NOT NULL AND f.confrelid <> c.oid),
                '{}') AS refers_to
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_constraint f ON f.conrelid = c.oid AND f.contype = 'f'
 WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relpersistence = 'p'
 GROUP BY c.oid
 ORDER BY 1
"""

SEQUENCES = """
SELECT c.oid::regclass::text
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = current_schema() AND c.relkind = 'S' AND c.relpersistence = 'p'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype IN ('a', 'i'))
 ORDER BY 1
"""


def referencing_first(tables: dict[str, list[str]]) -> list[str]:
    """The tables, each before every table it references (names sorted within a rank, so
    the order is the same every run). A table can be UNLOGGED only once no logged table
    references it."""
    referenced_by: dict[str, set[str]] = {t: set() for t in tables}
    for table, targets in tables.items():
        for target in targets:
            if target in referenced_by:
                referenced_by[target].add(table)
    order: list[str] = []
    left = dict(referenced_by)
    while left:
        ready = sorted(t for t, by in left.items() if not (by & left.keys()))
        if not ready:                    # a cycle of foreign keys: no legal order exists
            raise ValueError(f"foreign keys form a cycle among {sorted(left)}")
        order += ready
        for t in ready:
            del left[t]
    return order


async def make_unlogged(conn: Any) -> list[str]:
    """Turn every logged table and standalone sequence of ``conn``'s schema UNLOGGED (a
    backtest's template only: see the module). Returns what was turned, in order."""
    rows = await conn.fetch(TABLES)
    tables = referencing_first({r["name"]: list(r["refers_to"]) for r in rows})
    for table in tables:
        await conn.execute(f"ALTER TABLE {table} SET UNLOGGED")
    sequences = [r[0] for r in await conn.fetch(SEQUENCES)]
    for sequence in sequences:
        await conn.execute(f"ALTER SEQUENCE {sequence} SET UNLOGGED")
    return tables + sequences
