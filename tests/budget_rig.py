"""Budgets of one appkey as separate processes would hold them: each with its own pool."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from tradefleet.adapters.postgres.database import Database
from tradefleet.adapters.postgres.rate_budget import PostgresRateBudget


@contextlib.asynccontextmanager
async def budgets_apart(pg_dsn: str, key: str, count: int, *, limit: int,
                        max_size: int = 2) -> AsyncIterator[list[PostgresRateBudget]]:
    """``count`` budgets on ``key``, each on a pool of its own; closed (shares given back)
    and their pools closed on the way out."""
    dbs = [await Database.connect(pg_dsn, min_size=1, max_size=max_size)
           for _ in range(count)]
    budgets = [PostgresRateBudget(d, key, limit_per_second=limit) for d in dbs]
    try:
        yield budgets
    finally:
        for b in budgets:
            await b.close()
        for d in dbs:
            await d.close()
