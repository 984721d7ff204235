"""Replay-only: a backtest's template has no foreign key from ``candidates.worker_id`` to
``workers``; each replayed day checks it once, at its end, instead of once per row
(issue 21, speed).

Writing a scan's candidate rows was the costliest statement of a replayed fleet-day (10
workers, 100 symbols: ~2,240 scans of ~100 rows). PostgreSQL checks a foreign key with a
query per inserted row (a plan started, the ``workers`` row locked FOR KEY SHARE), and that
check was ~30 % of the insert's server time (``bench/replay_statements.py``; the rest is the
rows, their indexes and the parsing of their values, which COPY does not make cheaper:
measured, it did as well as the one ``unnest`` INSERT of ``candidate_store``, not better).

What the key guards, and why checking it at the day's end keeps that: every row of
``candidates`` names a worker that has a ``workers`` row. Nothing deletes a ``workers`` row
or changes its ``worker_id`` (no statement in ``tradefleet`` does), so the key's other half
(no delete of a referenced worker) has nothing to stop; what is left is the insert's check,
which no correct day trips (a worker registers before it scans). ``check_owners`` runs the
same condition over the whole table once the day has run (``replay.day_database``): a day
that wrote a row for an unknown worker fails there, as it would have failed at the insert,
only later. It reads nothing a worker reads and locks nothing a worker waits for (the key's
FOR KEY SHARE never conflicted with the workers' own updates, which do not touch the key),
so no statement of the day, and no trade, can differ; the rows written are the same
statement's (``tests/test_candidate_owners.py`` compares them with a live database's).

Live never takes this path: only ``BacktestDatabases.prepare`` (a backtest's own template,
like ``replay.unlogged_days``) calls ``drop_owner_key``; ``migrate`` is unchanged and a
migrated database keeps the key (the test checks both)."""

from __future__ import annotations

from typing import Any

OWNER_KEYS = """
SELECT conname FROM pg_constraint
 WHERE contype = 'f' AND conrelid = 'candidates'::regclass
   AND confrelid = 'workers'::regclass
 ORDER BY conname
"""

ORPHANS = """
SELECT c.worker_id, count(*) AS n
  FROM candidates c
 WHERE NOT EXISTS (SELECT 1 FROM workers w WHERE w.worker_id = c.worker_id)
 GROUP BY c.worker_id
 ORDER BY c.worker_id
 LIMIT 10
"""


class OrphanCandidates(RuntimeError):
    """A replayed day wrote candidate rows for a worker that has no ``workers`` row (what
    the foreign key dropped by ``drop_owner_key`` would have refused at the insert)."""


async def drop_owner_key(conn: Any) -> list[str]:
    """Drop the ``candidates`` -> ``workers`` foreign key of ``conn``'s database (a
    backtest's template only: see the module). Returns the constraints dropped."""
    names = [r["conname"] for r in await conn.fetch(OWNER_KEYS)]
    for name in names:
        await conn.execute(f'ALTER TABLE candidates DROP CONSTRAINT "{name}"')
    return names


async def check_owners(conn: Any) -> None:
    """Raise ``OrphanCandidates`` if a candidate row names a worker without a row."""
    orphans = await conn.fetch(ORPHANS)
    if orphans:
        found = ", ".join(f"{r['worker_id']!r} ({r['n']} rows)" for r in orphans)
        raise OrphanCandidates(f"candidate rows of workers that have no workers row: {found}")
