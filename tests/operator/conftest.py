"""Fixtures of the operator tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from tradefleet.adapters.postgres.database import Database, _init_connection


@pytest.fixture
async def loop_db(pg_dsn: str) -> AsyncIterator[Database]:
    """A Database for tests that run on ``looptime``: every connection is opened before the
    test starts (opening one under looptime would time out at once) and no statement has a
    timeout, since loop time jumps ahead while a query is in flight; what the operator
    decides from the database is judged by the database's own clock anyway."""
    pool = await asyncpg.create_pool(pg_dsn, min_size=6, max_size=6, init=_init_connection,
                                     command_timeout=None, max_inactive_connection_lifetime=0)
    assert pool is not None
    try:
        yield Database(pool)
    finally:
        await pool.close()
