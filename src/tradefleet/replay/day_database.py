"""A replayed day's database: cloned from the backtest's template, connected, checked once
the day has run (``replay.candidate_owners``), closed. The one way in for both the
one-process backtest (``BacktestDatabases.for_day``) and a day in a process of its own
(``replay.parallel_days``), so that both check the same things."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from tradefleet.adapters.postgres.database import Database, database_dsn
from tradefleet.replay.candidate_owners import check_owners

# A replayed day's statements are guarded by the server, not by a client timer per statement
# (``Database.connect``): its costliest statement takes milliseconds, so a statement still
# running after this long is hung, and the day ends in the server's error.
DAY_STATEMENT_TIMEOUT_S = 30.0


async def create_day_database(server_dsn: str, template: str, name: str) -> None:
    """Database ``name``, a copy of ``template``, on the server of ``server_dsn``."""
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()


@asynccontextmanager
async def day_database(server_dsn: str, template: str | None,
                       name: str) -> AsyncIterator[Database]:
    """Create database ``name`` from ``template`` (None: made already, as
    ``replay.parallel_days`` has the parent make it) on the server of ``server_dsn`` and
    yield a pool on it; when the block ends without an error, check the day's rows (a day
    that failed keeps its own error)."""
    if template is not None:
        await create_day_database(server_dsn, template, name)
    db = await Database.connect(database_dsn(server_dsn, name), min_size=1, max_size=4,
                                reset_sessions=False, command_timeout=None,
                                server_timeout_s=DAY_STATEMENT_TIMEOUT_S)
    try:
        yield db
        async with db.pool.acquire() as conn:
            await check_owners(conn)
    finally:
        await db.close()
